"""The simulator's process and control client, as the tests import them."""

from include.graph_simulator.process import (
    RunningSimulator,
    SimulatorControl,
    SimulatorProcess,
    free_port,
)

__all__ = ["RunningSimulator", "SimulatorControl", "SimulatorProcess", "free_port"]
