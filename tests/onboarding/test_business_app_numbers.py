"""WhatsApp Business app numbers and every way an Embedded Signup ends, through ``whatsapp_onboarding``.

The signups are stored as the intake stores them (``store.signups.receive``; the intake route
itself is tested in ``tests/api/test_signups.py``), then ``dag.test()`` runs the DAG against the
simulator, whose business app numbers refuse ``/register`` and ``/deregister`` and take one
``smb_app_data`` request per sync type, as Meta does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.registration.support import kill_mid_call, wait_for
from tests.support.airflow_fixtures import fresh_dag
from whatsapp.domain.business_app import SYNC_WINDOW, AppLink, SyncState
from whatsapp.domain.signup import Signup
from whatsapp.store import ChannelStore, code_digest
from whatsapp.store.schema import channels, lifecycle_calls

pytestmark = pytest.mark.postgres

APP_SIGNUP = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"


def receive(store: ChannelStore, number: dict[str, Any], **fields: Any) -> str:
    """What the intake stores for a signup of ``number``'s WABA (no phone number id unless given)."""
    body = {"account_id": 1, "code": number["code"], "business_id": number["business_id"]}
    signup = Signup.from_mapping({**body, "waba_id": number["waba_id"], **fields})
    return store.signups.receive(signup).signup_id


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def sync_calls(sim: SimulatorControl) -> list[str]:
    """The ``sync_type`` of every ``smb_app_data`` request the simulator received, in order."""
    return [call["body"]["sync_type"] for call in sim.calls("/smb_app_data$")]


def test_a_business_app_signup_without_a_number_id_is_synced_once_and_never_registered(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number = sim.add_number(is_on_biz_app=True)
    started = datetime.now(UTC)
    dag_run = onboarding(signup_id=receive(pg_store_env, number, event=APP_SIGNUP))
    assert str(dag_run.state) == "success", states(dag_run)

    assert sim.calls("/register$") == []
    assert sync_calls(sim) == ["smb_app_state_sync", "history"]  # contacts first, once each
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    assert channel is not None and channel.business_app is AppLink.CONNECTED
    assert (channel.contacts_sync, channel.history_sync) == (SyncState.ACCEPTED, SyncState.ACCEPTED)
    assert channel.sync_deadline is not None
    assert started + SYNC_WINDOW <= channel.sync_deadline <= datetime.now(UTC) + SYNC_WINDOW
    assert channel.registration_state.value == "registered"
    assert channel.health is not None and channel.health.is_on_biz_app

    # The customer signs up again with the same number: a new code, no sync and no register call.
    again = onboarding(signup_id=receive(pg_store_env, {**number, "code": sim.new_code(number["waba_id"])}))
    assert str(again.state) == "success", states(again)
    assert sync_calls(sim) == ["smb_app_state_sync", "history"]
    assert sim.calls("/register$") == []
    kept = pg_store_env.channels.by_id(channel.id)
    assert (kept.contacts_sync, kept.history_sync, kept.sync_deadline) == (
        SyncState.ACCEPTED,
        SyncState.ACCEPTED,
        channel.sync_deadline,
    )


def _sync_in_a_worker(channel_id: int) -> None:
    """What the sync task does, in its own process (killed from outside mid-call)."""
    from whatsapp.hooks.graph import WhatsAppGraphHook
    from whatsapp.request_syncs import request_due_syncs

    store = ChannelStore.from_conn_id("whatsapp_store_default")
    request_due_syncs(WhatsAppGraphHook(), store, channel_id, run_id="killed")


def test_a_sync_task_killed_mid_request_leaves_one_request_and_the_next_run_sends_none(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number = sim.add_number(is_on_biz_app=True)
    channel = pg_store_env.channels.upsert(
        account_id=1,
        phone_number_id=number["phone_number_id"],
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token=sim.new_token(number["waba_id"]),
        on_business_app=True,
    )
    sim.new_code(number["waba_id"])  # the simulator's 24 hours start with a code exchange
    sim.add_fault(kind="latency", path="/smb_app_data$", latency_ms=3000)
    kill_mid_call(
        _sync_in_a_worker,
        channel.id,
        lambda: pg_store_env.channels.by_id(channel.id).contacts_sync is SyncState.REQUESTED,
        what="the write-ahead sync intent",
    )
    wait_for(lambda: sync_calls(sim), what="the request at the simulator")
    sim.clear_faults()
    assert sync_calls(sim) == ["smb_app_state_sync"]  # Meta got it although the worker died

    stored = pg_store_env.channels.by_id(channel.id)
    assert stored.contacts_sync is SyncState.REQUESTED and stored.history_sync is SyncState.DUE
    with pg_store_env.engine.connect() as conn:
        outcomes = conn.execute(
            lifecycle_calls.select().where(lifecycle_calls.c.channel_id == channel.id)
        ).all()
    assert [(row.call, row.outcome) for row in outcomes] == [("contacts_sync", "sent")]

    # The next onboarding run finds the contacts sync "requested, answer unknown": not resent.
    dag_run = onboarding(signup_id=receive(pg_store_env, {**number, "code": sim.new_code(number["waba_id"])}))
    assert str(dag_run.state) == "success", states(dag_run)
    assert sync_calls(sim) == ["smb_app_state_sync", "history"]
    after = pg_store_env.channels.by_id(channel.id)
    assert after.contacts_sync is SyncState.REQUESTED and after.history_sync is SyncState.ACCEPTED
    sync_task = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "sync_business_app")
    assert "answer unknown" in str(sync_task.xcom_pull(task_ids="sync_business_app")["message"])


def test_finish_only_waba_saves_the_token_and_ends_without_a_channel(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number = sim.add_number()
    dag_run = onboarding(signup_id=receive(pg_store_env, number, event="FINISH_ONLY_WABA"))
    task_states = states(dag_run)
    assert str(dag_run.state) == "success", task_states
    assert (task_states["exchange_and_save"], task_states["phone_info"]) == ("success", "skipped")
    assert {task_states[t] for t in ("check_token_access", "sync_business_app", "register")} == {"skipped"}
    assert pg_store_env.signups.get(code_digest(number["code"])) is not None  # the token is kept
    with pg_store_env.engine.connect() as conn:
        assert conn.execute(channels.select()).all() == []
    assert sim.calls("/phone_numbers") == [] and sim.calls("/register$") == []


def test_a_waba_with_two_unclaimed_numbers_fails_listing_them_and_saves_no_channel(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    first = sim.add_number(is_on_biz_app=True)
    second = sim.add_number(waba_id=first["waba_id"], business_id=first["business_id"])
    dag_run = onboarding(signup_id=receive(pg_store_env, first, event=APP_SIGNUP))
    task_states = states(dag_run)
    assert (task_states["exchange_and_save"], task_states["phone_info"]) == ("success", "failed"), task_states
    with pg_store_env.engine.connect() as conn:
        assert conn.execute(channels.select()).all() == []
    assert sim.calls("/register$") == [] and sync_calls(sim) == []
    assert pg_store_env.signups.get(code_digest(first["code"])) is not None  # nothing exchanged twice

    # Once the other number has its channel, the signup's number is the one no channel holds.
    pg_store_env.channels.upsert(
        account_id=2,
        phone_number_id=second["phone_number_id"],
        waba_id=second["waba_id"],
        business_id=second["business_id"],
        access_token="EAAG-other",
    )
    again = onboarding(signup_id=receive(pg_store_env, {**first, "code": sim.new_code(first["waba_id"])}))
    assert str(again.state) == "success", states(again)
    assert pg_store_env.channels.by_phone_number(first["phone_number_id"]).business_app is AppLink.CONNECTED


def test_the_phone_info_failure_names_every_number(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore, capfd: pytest.CaptureFixture[str]
) -> None:
    first = sim.add_number()
    second = sim.add_number(waba_id=first["waba_id"], business_id=first["business_id"])
    onboarding(signup_id=receive(pg_store_env, first))
    logged = capfd.readouterr().out  # the task log
    assert "which phone number?" in logged
    assert first["phone_number_id"] in logged and second["phone_number_id"] in logged
    assert "phone_number_id" in logged


def test_offboarding_a_business_app_number_sends_no_deregister(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number = sim.add_number(is_on_biz_app=True)
    assert str(onboarding(signup_id=receive(pg_store_env, number, event=APP_SIGNUP)).state) == "success"
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    dag_run = fresh_dag("whatsapp_offboard_channel").test(
        run_conf={"account_id": channel.account_id, "inbox_id": channel.inbox_id}
    )
    assert str(dag_run.state) == "success", states(dag_run)
    assert sim.calls("/deregister$") == []
    deregister = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "deregister")
    result = deregister.xcom_pull(task_ids="deregister")
    assert result["deregister_calls"] == 0
    assert "Business Platform" in result["message"] and "no /deregister" in result["message"]
    gone = pg_store_env.channels.by_id(channel.id)
    assert not gone.active and gone.offboarded_at is not None
    assert len(sim.calls("/subscribed_apps$")) >= 2  # subscribed at onboarding, unsubscribed now
    assert datetime.now(UTC) - gone.offboarded_at < timedelta(minutes=5)
