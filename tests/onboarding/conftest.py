"""Shared by the onboarding tests: run the DAG with dag.test() against the simulator and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from whatsapp.store import ChannelStore


@pytest.fixture
def onboarding(
    dagbag: Any, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> Callable[..., Any]:
    """Run ``whatsapp_onboarding`` once for a conf; returns the finished DagRun."""
    dag = dagbag.get_dag("whatsapp_onboarding")

    def run(**conf: Any) -> Any:
        return dag.test(run_conf=conf)

    return run
