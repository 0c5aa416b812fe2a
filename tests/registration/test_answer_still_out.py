"""A register call whose answer is still out keeps the channel claimed until Meta's health decides.

A register task killed (``kill -9``) while its call is out, or whose store went down between
sending and recording, leaves the write-ahead intent ``sent``. Airflow's retry of that task, or
any other run, must neither send again nor end green before it knows: it waits until the wait
after the call is over, then the claim re-reads Meta's health. A later health read completes an
intent nobody completed, so the channel's last error is no longer a call "in flight".

The wait (``ANSWER_LOST_WAIT``, 2 minutes) is shortened by moving the stored call back in time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.registration.support import (
    backdate_attempts,
    due_channel,
    kill_mid_register,
    outcomes,
    register_calls,
    wait_for,
)
from tests.support.airflow_fixtures import fresh_dag
from whatsapp.domain.registration import ANSWER_LOST_WAIT, RegistrationState
from whatsapp.fleet_audit import run_audit
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.operators.channel import WhatsAppResolveChannelOperator
from whatsapp.store import ChannelStore, channel_api_dict

pytestmark = pytest.mark.postgres

#: How much of the wait after the killed call is left when the next run starts.
WAIT_LEFT = timedelta(seconds=10)


def last_error(store: ChannelStore, inbox_id: int) -> Any:
    """``registration.last_error`` as ``GET .../health`` shows it."""
    return channel_api_dict(store.fleet.channel_status(1, inbox_id))["registration"]["last_error"]


def test_a_register_run_that_finds_the_call_still_out_waits_for_it_and_health_decides(
    monkeypatch: pytest.MonkeyPatch,
    dagbag: Any,
    graph_conn_env: str,
    pg_store_env: ChannelStore,
    sim: SimulatorControl,
) -> None:
    seeded = due_channel(sim, pg_store_env, name_status="APPROVED")
    sim.add_fault(kind="latency", path="/register$", latency_ms=4000)  # Meta answers after 4 s
    kill_mid_register(pg_store_env, seeded)
    resolve = WhatsAppResolveChannelOperator.execute

    def resolve_late(self: WhatsAppResolveChannelOperator, context: Any) -> Any:
        # The run's first task ends with WAIT_LEFT of the wait after the killed call still to go.
        backdate_attempts(pg_store_env, seeded.channel.id, ANSWER_LOST_WAIT - WAIT_LEFT)
        return resolve(self, context)

    monkeypatch.setattr(WhatsAppResolveChannelOperator, "execute", resolve_late)
    dag_run = fresh_dag("whatsapp_register_channel").test(
        run_conf={"account_id": 1, "inbox_id": seeded.channel.inbox_id}
    )

    (intent,) = pg_store_env.attempts.recent(seeded.channel.id)
    register = dag_run.get_task_instance("register")
    report = register.xcom_pull(task_ids="register")
    assert str(dag_run.state) == "success"
    # It waited for the wait after the call to end, then Meta's health decided: no second call.
    assert register.end_date >= intent.attempted_at + ANSWER_LOST_WAIT
    assert (report["decision"], report["register_calls"]) == ("already_provisioned", 0)
    assert register_calls(sim) == {seeded.number["phone_number_id"]: 1}
    assert outcomes(pg_store_env, seeded) == ["no_answer"]
    assert pg_store_env.channels.by_id(seeded.channel.id).registration_state is RegistrationState.REGISTERED


def test_a_health_read_completes_an_intent_nobody_completed(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    seeded = due_channel(sim, pg_store_env, name_status="APPROVED")
    sim.add_fault(kind="latency", path="/register$", latency_ms=1000)
    kill_mid_register(pg_store_env, seeded)
    wait_for(lambda: sim.number(seeded.number["phone_number_id"])["platform_type"] == "CLOUD_API")
    assert last_error(pg_store_env, seeded.channel.inbox_id)["type"] == "sent"

    # A health read while the call may still be out leaves the intent to its worker.
    run_audit(WhatsAppGraphHook(), pg_store_env, now=datetime.now(UTC))
    assert outcomes(pg_store_env, seeded) == ["sent"]

    # Once the wait is over, the next health read (the fleet audit's) completes it.
    backdate_attempts(pg_store_env, seeded.channel.id, ANSWER_LOST_WAIT)
    run_audit(WhatsAppGraphHook(), pg_store_env, now=datetime.now(UTC))
    assert outcomes(pg_store_env, seeded) == ["no_answer"]
    assert pg_store_env.channels.by_id(seeded.channel.id).registration_state is RegistrationState.REGISTERED
    assert last_error(pg_store_env, seeded.channel.inbox_id)["type"] == "no_answer"
    assert register_calls(sim) == {seeded.number["phone_number_id"]: 1}
