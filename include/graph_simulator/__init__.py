"""A local Graph API server with Meta's onboarding lifecycle, limits and faults.

Run ``python -m include.graph_simulator --port 8765`` from the repository root; see
README.md for the Graph surface it speaks and its ``/_sim`` control API.
"""

from include.graph_simulator.app import create_app
from include.graph_simulator.state import DEFAULT_APP_ID, DEFAULT_APP_SECRET, SimulatorConfig

__all__ = ["DEFAULT_APP_ID", "DEFAULT_APP_SECRET", "SimulatorConfig", "create_app"]
