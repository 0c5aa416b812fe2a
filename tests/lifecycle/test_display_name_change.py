"""Display-name changes of live numbers, with dag.test(), the simulator and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest

from include.graph_simulator.process import SimulatorControl
from tests.lifecycle.conftest import add_live_channel, shift_store_clock, task_states
from whatsapp.cli import main as whatsapp_fleet
from whatsapp.domain.registration import NAME_CHANGE_WINDOW, NameChange, RegistrationState
from whatsapp.store import ChannelStore
from whatsapp.store.lifecycle_calls import NAME_CHANGE
from whatsapp.store.views import channel_api_dict

pytestmark = pytest.mark.postgres

NEW_NAME = "Acme Renamed"


def shown(store: ChannelStore, channel_id: int) -> dict:
    """The channel as the health API, the CLI and the page show it."""
    channel = store.channels.by_id(channel_id)
    return channel_api_dict(store.fleet.channel_status(channel.account_id, channel.inbox_id))


def register_calls(sim: SimulatorControl, phone_number_id: str) -> list[dict]:
    return [c for c in sim.calls("/register$") if c["path"].split("/")[-2] == phone_number_id]


def rename_requests(sim: SimulatorControl, phone_number_id: str) -> list[dict]:
    return [c for c in sim.calls(f"/{phone_number_id}$") if c["method"] == "POST"]


def request_and_approve(run_dag, sim: SimulatorControl, store: ChannelStore) -> tuple[dict, int]:
    number, channel = add_live_channel(sim, store, verified_name="Acme")
    dag_run = run_dag(
        "whatsapp_change_display_name",
        account_id=1,
        inbox_id=channel.inbox_id,
        new_display_name=f"  {NEW_NAME} ",
    )
    assert task_states(dag_run) == {"resolve_channel": "success", "request_display_name": "success"}
    pid = number["phone_number_id"]
    assert sim.number(pid)["new_display_name"] == NEW_NAME  # trimmed before sending
    assert len(rename_requests(sim, pid)) == 1
    stored = store.channels.by_id(channel.id)
    assert (
        stored.name_change is NameChange.REQUESTED
        and store.lifecycle_calls.count(channel.id, NAME_CHANGE) == 1
    )
    sim.update_number(pid, new_name_status="APPROVED")  # Meta approves: the 14 days start
    return number, channel.id


def test_renamed_and_approved_is_registered_again_by_the_next_fleet_run(
    run_dag, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number, channel_id = request_and_approve(run_dag, sim, pg_store_env)
    before = pendulum.now("UTC")
    run_dag("whatsapp_fleet_health")

    pid = number["phone_number_id"]
    assert len(register_calls(sim, pid)) == 1
    assert sim.number(pid)["verified_name"] == NEW_NAME
    channel = pg_store_env.channels.by_id(channel_id)
    assert channel.verified_name == NEW_NAME
    assert channel.registration_state is RegistrationState.REGISTERED
    assert channel.name_change is None and channel.name_change_deadline is None
    (attempt,) = pg_store_env.attempts.recent(channel_id)
    assert attempt.outcome == "success" and attempt.attempted_at >= before


def test_meta_refusing_2388001_twice_then_accepting_inside_the_window(
    run_dag, sim: SimulatorControl, pg_store_env: ChannelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    number, channel_id = request_and_approve(run_dag, sim, pg_store_env)
    pid = number["phone_number_id"]
    sim.add_fault(kind="graph_error", path="/register$", code=100, subcode=2388001, count=2)

    run_dag("whatsapp_fleet_health")
    channel = pg_store_env.channels.by_id(channel_id)
    assert len(register_calls(sim, pid)) == 1
    assert (
        channel.registration_state is RegistrationState.SCHEDULED
        and channel.name_change is NameChange.APPROVED
    )
    deadline = channel.name_change_deadline
    assert deadline is not None and deadline - NAME_CHANGE_WINDOW <= pendulum.now("UTC")
    view = shown(pg_store_env, channel_id)
    assert view["name_change"]["deadline"] is not None
    assert view["notes"] == [view["name_change"]["text"]] and "approved — re-register by" in view["notes"][0]

    assert whatsapp_fleet(["show", "1", str(view["inbox_id"])]) == 0
    assert (
        f"NOTE: name change ({NEW_NAME}) approved — re-register by {deadline:%Y-%m-%d}"
        in capsys.readouterr().out
    )

    run_dag("whatsapp_fleet_health")  # inside the backoff: nothing is due
    assert len(register_calls(sim, pid)) == 1
    for expected_calls in (2, 3):
        shift_store_clock(pg_store_env, timedelta(hours=1))  # the backoff passes, the deadline moves too
        run_dag("whatsapp_fleet_health")
        assert len(register_calls(sim, pid)) == expected_calls

    outcomes = [a.outcome for a in reversed(pg_store_env.attempts.recent(channel_id))]
    assert outcomes == ["display_name_not_ready", "display_name_not_ready", "success"]
    channel = pg_store_env.channels.by_id(channel_id)
    assert channel.verified_name == NEW_NAME and sim.number(pid)["verified_name"] == NEW_NAME
    assert channel.registration_state is RegistrationState.REGISTERED and channel.name_change is None


@pytest.mark.parametrize("meta_says", ["EXPIRED", "APPROVED"])
def test_a_change_left_past_14_days_is_reported_lapsed_with_no_register_call_after_the_deadline(
    meta_says: str, run_dag, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    """Meta shows the lapse (the simulator's 14 days pass), or still shows the approval: either
    way no register call is sent once the stored deadline is over."""
    number, channel_id = request_and_approve(run_dag, sim, pg_store_env)
    pid = number["phone_number_id"]
    sim.add_fault(kind="graph_error", path="/register$", code=100, subcode=2388001)  # never accepted
    run_dag("whatsapp_fleet_health")
    assert len(register_calls(sim, pid)) == 1
    deadline = pg_store_env.channels.by_id(channel_id).name_change_deadline

    if meta_says == "EXPIRED":
        sim.advance(NAME_CHANGE_WINDOW.total_seconds() + 60)
    shift_store_clock(pg_store_env, NAME_CHANGE_WINDOW + timedelta(minutes=1))
    assert sim.number(pid)["new_name_status"] == meta_says
    run_dag("whatsapp_fleet_health")
    run_dag("whatsapp_fleet_health")

    assert len(register_calls(sim, pid)) == 1  # the one before the deadline, none after
    channel = pg_store_env.channels.by_id(channel_id)
    assert channel.name_change is NameChange.LAPSED
    assert channel.registration_state is RegistrationState.REGISTERED and channel.next_attempt_at is None
    assert channel.name_change_deadline == deadline - NAME_CHANGE_WINDOW - timedelta(minutes=1)
    view = shown(pg_store_env, channel_id)["name_change"]
    assert view["status"] == "lapsed" and "request the new name again" in view["text"]


def test_the_11th_rename_in_30_days_is_refused_before_any_graph_call(
    run_dag, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number, channel = add_live_channel(sim, pg_store_env)
    pid = number["phone_number_id"]
    now = pendulum.now("UTC")
    # One request 31 days ago (no longer counts), nine in the window, then the 10th through the DAG.
    for days_ago in (31, 29, 25, 20, 15, 10, 7, 5, 3, 1):
        call_id = pg_store_env.lifecycle_calls.begin(
            channel.id, NAME_CHANGE, detail="Old", now=now - timedelta(days=days_ago)
        )
        pg_store_env.lifecycle_calls.complete(call_id, None)
    tenth = run_dag(
        "whatsapp_change_display_name", account_id=1, inbox_id=channel.inbox_id, new_display_name="Tenth"
    )
    assert task_states(tenth)["request_display_name"] == "success"
    assert len(rename_requests(sim, pid)) == 1

    eleventh = run_dag(
        "whatsapp_change_display_name", account_id=1, inbox_id=channel.inbox_id, new_display_name="Eleventh"
    )
    assert task_states(eleventh)["request_display_name"] == "failed"
    assert len(rename_requests(sim, pid)) == 1  # nothing sent
    assert pg_store_env.lifecycle_calls.count(channel.id, NAME_CHANGE) == 10


@pytest.mark.parametrize("name", ["A", "x" * 76, "Acme\nSupport", "   "])
def test_a_name_breaking_metas_rules_is_refused_before_any_graph_call(
    name: str, run_dag, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number, channel = add_live_channel(sim, pg_store_env)
    try:
        dag_run = run_dag(
            "whatsapp_change_display_name", account_id=1, inbox_id=channel.inbox_id, new_display_name=name
        )
    except Exception:  # the DAG's own Param (2-75 characters) refuses the conf before any task
        dag_run = None
    if dag_run is not None:
        assert task_states(dag_run).get("request_display_name") in ("failed", "upstream_failed", None)
    assert rename_requests(sim, number["phone_number_id"]) == []
    assert pg_store_env.lifecycle_calls.count(channel.id, NAME_CHANGE) == 0
