"""``whatsapp_fleet_action`` with ``dag.test()`` against the simulator and a PostgreSQL store.

A person's action on many numbers at once takes the single action's path for each number:
*Complete registration* skips what the single button refuses (a blocked number until its window
reopens, a WhatsApp Business app number) and never exceeds a number's register budget; *Refresh
from Meta* reads and stores each number's health. One run, its work mapped over chunks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.registration.support import Seeded, due_channel, register_calls, stored_number
from tests.store.helpers import set_registration
from tests.support.airflow_fixtures import fresh_dag
from whatsapp.domain.registration import REGISTER_BUDGET, RegistrationState
from whatsapp.errors import GraphApiError
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.store import ChannelStore, HealthResult
from whatsapp.store.views import isoformat

pytestmark = pytest.mark.postgres

NOT_READY = GraphApiError("Cannot Create Certificate", http_status=400, code=100, subcode=2388001)


def _ids(*seeded: Seeded) -> list[dict[str, int]]:
    return [{"account_id": s.channel.account_id, "inbox_id": s.channel.inbox_id} for s in seeded]


def _run(**conf: Any) -> tuple[Any, dict[tuple[int, int], dict[str, Any]]]:
    """One run of the DAG; its state and the summary's outcome of each number, by account and inbox."""
    dag_run = fresh_dag("whatsapp_fleet_action").test(run_conf=conf)
    summary = dag_run.get_task_instance("summary").xcom_pull(task_ids="summary")
    return dag_run, {(o["account_id"], o["inbox_id"]): o for o in summary["outcomes"]}


def _spend_budget(store: ChannelStore, seeded: Seeded) -> None:
    """Our share of Meta's register allowance spent on this number within the last hour."""
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(REGISTER_BUDGET):
        with store.attempts.claim(
            seeded.channel.id, respect_backoff=False, now=start + timedelta(minutes=i)
        ) as claim:
            assert claim is not None
            claim.record_attempt(NOT_READY)
    set_registration(
        store,
        seeded.channel.id,
        RegistrationState.SCHEDULED,
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
    )


def _business_app_number(sim: SimulatorControl, store: ChannelStore) -> Seeded:
    """A WhatsApp Business app number (coexistence) whose stored health says so."""
    seeded = stored_number(sim, store, on_business_app=True, name_status="APPROVED", is_on_biz_app=True)
    channel, number, token = seeded.channel, seeded.number, seeded.token
    hook = WhatsAppGraphHook()
    try:
        health = hook.get_phone_health(number["phone_number_id"], token)
    finally:
        hook.close()
    store.health.record([HealthResult(channel.id, datetime.now(UTC), health=health)])
    return Seeded(store.channels.by_id(channel.id), number, token)


def test_register_on_a_selection_skips_blocked_and_app_numbers_and_stays_within_budget(
    dagbag: Any, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    store = pg_store_env
    ready = [due_channel(sim, store, name_status="APPROVED") for _ in range(2)]
    blocked = due_channel(sim, store, name_status="APPROVED")
    reopens = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=70)
    set_registration(store, blocked.channel.id, RegistrationState.BLOCKED, next_attempt_at=reopens)
    spent = due_channel(sim, store, name_status="APPROVED")
    _spend_budget(store, spent)
    app = _business_app_number(sim, store)
    sim.clear_calls()

    dag_run, outcomes = _run(action="register", channels=_ids(*ready, blocked, spent, app), chunk_size=2)

    assert str(dag_run.state) == "success"
    act = [ti for ti in dag_run.get_task_instances() if ti.task_id == "act"]
    assert len(act) == 3, "5 numbers in chunks of 2: three mapped tasks"
    # Only the two numbers that could be registered were sent /register, once each.
    assert register_calls(sim) == {s.number["phone_number_id"]: 1 for s in ready}
    for seeded in ready:
        outcome = outcomes[(1, seeded.channel.inbox_id)]
        assert outcome["outcome"] == "done", outcome
        assert store.channels.by_id(seeded.channel.id).registration_state is RegistrationState.REGISTERED
    skipped_blocked = outcomes[(1, blocked.channel.inbox_id)]
    assert skipped_blocked["outcome"] == "skipped"
    assert "133016" in skipped_blocked["message"] and isoformat(reopens) in skipped_blocked["message"]
    assert skipped_blocked["situation"] == "blocked"
    skipped_app = outcomes[(1, app.channel.inbox_id)]
    assert skipped_app["outcome"] == "skipped" and "not needed" in skipped_app["message"], skipped_app
    skipped_spent = outcomes[(1, spent.channel.inbox_id)]
    assert skipped_spent["outcome"] == "skipped" and "budget" in skipped_spent["message"], skipped_spent
    assert len(store.attempts.recent(spent.channel.id, limit=50)) == REGISTER_BUDGET  # none more
    for outcome in outcomes.values():  # ids and words only: no token or PIN reaches XCom
        assert set(outcome) == {
            "channel_id",
            "account_id",
            "inbox_id",
            "display_phone_number",
            "outcome",
            "message",
            "situation",
        }


def test_refresh_of_a_filter_reads_and_stores_each_number(
    dagbag: Any, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    store = pg_store_env
    seeded = [due_channel(sim, store, name_status="APPROVED", quality_rating="GREEN") for _ in range(5)]
    other = due_channel(sim, store, name_status="APPROVED", quality_rating="GREEN")
    store.channels.set_active(other.channel.id, False)  # not in the filter (active channels only)
    for s in seeded:
        sim.update_number(s.number["phone_number_id"], quality_rating="RED")

    dag_run, outcomes = _run(action="refresh", filter={"registration_state": ["scheduled"]}, chunk_size=2)

    assert str(dag_run.state) == "success"
    assert set(outcomes) == {(1, s.channel.inbox_id) for s in seeded}
    for s in seeded:
        outcome = outcomes[(1, s.channel.inbox_id)]
        assert outcome["outcome"] == "done" and "quality_rating RED" in outcome["message"], outcome
        assert store.channels.by_id(s.channel.id).health.get("quality_rating") == "RED"
    assert store.channels.by_id(other.channel.id).checked_at is None


def test_a_conf_the_api_would_refuse_fails_the_run_before_any_graph_call(
    dagbag: Any, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    seeded = due_channel(sim, pg_store_env, name_status="APPROVED")
    sim.clear_calls()
    dag_run = fresh_dag("whatsapp_fleet_action").test(
        run_conf={"action": "register", "channels": _ids(seeded), "filter": {"situation": ["blocked"]}}
    )
    assert str(dag_run.state) == "failed"
    assert dag_run.get_task_instance("select_channels").state == "failed"
    assert sim.calls() == []
