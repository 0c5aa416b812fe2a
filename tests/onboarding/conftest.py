"""Shared by the onboarding tests: run the DAG with dag.test() against the simulator and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.support.airflow_fixtures import fresh_dag
from whatsapp.store import ChannelStore


@pytest.fixture
def onboarding(
    dagbag: Any, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> Callable[..., Any]:
    """Run ``whatsapp_onboarding`` once for a conf (a freshly parsed DAG each time); returns the DagRun."""

    def run(**conf: Any) -> Any:
        return fresh_dag("whatsapp_onboarding").test(run_conf=conf)

    return run
