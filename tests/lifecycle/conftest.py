"""Shared by the rename and offboarding DAG tests: dag.test() runs against the simulator and a
PostgreSQL store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from include.graph_simulator.process import SimulatorControl
from tests.support.airflow_fixtures import fresh_dag
from whatsapp.store import Channel, ChannelStore

LIVE = {
    "name_status": "APPROVED",
    "platform_type": "CLOUD_API",
    "throughput_level": "STANDARD",
    "status": "CONNECTED",
}


@pytest.fixture
def run_dag(dagbag: Any, graph_conn_env: str, pg_store_env: ChannelStore) -> Callable[..., Any]:
    """Run one of the repo's DAGs once with a conf (freshly parsed); returns the DagRun."""

    def run(dag_id: str, **conf: Any) -> Any:
        return fresh_dag(dag_id).test(run_conf=conf)

    return run


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def add_live_channel(
    sim: SimulatorControl, store: ChannelStore, **number: Any
) -> tuple[dict[str, Any], Channel]:
    """A number live on Cloud API (as after onboarding) and its channel."""
    created = sim.add_number(**{**LIVE, **number})
    channel = store.channels.upsert(
        account_id=1,
        phone_number_id=created["phone_number_id"],
        waba_id=created["waba_id"],
        business_id=created["business_id"],
        access_token=sim.new_token(created["waba_id"]),
    )
    return created, channel


def shift_store_clock(store: ChannelStore, delta: timedelta) -> None:
    """Move every stored plan and deadline ``delta`` into the past, as if that much time had gone by."""
    with store.engine.begin() as conn:
        if store.target.schema:
            conn.execute(text(f'SET LOCAL search_path TO "{store.target.schema}"'))
        conn.execute(
            text(
                "UPDATE channels SET next_attempt_at = next_attempt_at - :d,"
                " name_change_deadline = name_change_deadline - :d"
            ),
            {"d": delta},
        )
