"""Offboarding with dag.test(), the simulator and PostgreSQL: one deregister call, the
app unsubscribed only with the WABA's last active channel, skipped afterwards, reactivated by a
new onboarding with its history."""

from __future__ import annotations

import pytest

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from tests.lifecycle.conftest import add_live_channel, task_states
from whatsapp.cli import main as whatsapp_fleet
from whatsapp.domain.registration import DEREGISTER_BUDGET, RegistrationState
from whatsapp.store import ChannelStore, channel_api_dict
from whatsapp.store.fleet_listing import FleetQuery
from whatsapp.store.lifecycle_calls import DEREGISTER

pytestmark = pytest.mark.postgres


def calls_about(sim: SimulatorControl, pattern: str, method: str | None = None) -> list[dict]:
    return [c for c in sim.calls(pattern) if method is None or c["method"] == method]


def touched(sim: SimulatorControl, phone_number_id: str) -> bool:
    """Any Graph request (or batch sub-request) about the number since the log was cleared."""
    return bool(sim.calls(phone_number_id))


def listed(store: ChannelStore, include_inactive: bool) -> set[int]:
    page = store.fleet.page(FleetQuery(include_inactive=include_inactive))
    return {status.channel.id for status in page.rows}


def test_offboarding_two_channels_of_one_waba_then_onboarding_one_again(
    run_dag, sim: SimulatorControl, pg_store_env: ChannelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    first, channel_a = add_live_channel(sim, pg_store_env, subscribed=True)
    second, channel_b = add_live_channel(sim, pg_store_env, waba_id=first["waba_id"])
    pid_a, pid_b = first["phone_number_id"], second["phone_number_id"]
    run_dag("whatsapp_fleet_health")  # some history before offboarding
    history_before = len(pg_store_env.health.history(channel_a.id))
    assert history_before == 1

    dag_run = run_dag("whatsapp_offboard_channel", account_id=1, inbox_id=channel_a.inbox_id)
    assert set(task_states(dag_run).values()) == {"success"}
    assert len(calls_about(sim, f"/{pid_a}/deregister$")) == 1
    assert sim.number(pid_a)["platform_type"] == "NOT_APPLICABLE"
    assert calls_about(sim, "/subscribed_apps$", "DELETE") == []  # channel B still uses the WABA
    assert sim.number(pid_a)["waba"]["subscribed"] is True
    offboarded = pg_store_env.channels.by_id(channel_a.id)
    assert not offboarded.active and offboarded.offboarded_at is not None
    assert offboarded.registration_state is RegistrationState.UNKNOWN
    (deregistration,) = pg_store_env.lifecycle_calls.recent(channel_a.id, DEREGISTER)
    assert deregistration.outcome == "success" and deregistration.run_id == dag_run.run_id
    view = channel_api_dict(pg_store_env.fleet.channel_status(1, channel_a.inbox_id))
    assert view["active"] is False and view["offboarded_at"] is not None
    assert len(view["notes"]) == 1 and view["notes"][0].startswith(
        f"offboarded on {view['offboarded_at'][:10]} "
    )

    assert whatsapp_fleet(["show", "1", str(channel_a.inbox_id)]) == 0
    shown = capsys.readouterr().out
    assert f"NOTE: {view['notes'][0]}" in shown and "offboard: trigger whatsapp_offboard_channel" in shown

    # The next audit and the fleet view skip it (unless asked); a second offboarding sends nothing.
    sim.clear_calls()
    run_dag("whatsapp_fleet_health")
    assert not touched(sim, pid_a) and touched(sim, pid_b)
    assert len(pg_store_env.health.history(channel_a.id)) == history_before
    assert listed(pg_store_env, False) == {channel_b.id}
    assert listed(pg_store_env, True) == {channel_a.id, channel_b.id}
    run_dag("whatsapp_offboard_channel", account_id=1, inbox_id=channel_a.inbox_id)
    assert calls_about(sim, "/deregister$") == []

    # The WABA's last active channel: deregistered and the app unsubscribed.
    run_dag("whatsapp_offboard_channel", account_id=1, inbox_id=channel_b.inbox_id)
    assert len(calls_about(sim, f"/{pid_b}/deregister$")) == 1
    assert len(calls_about(sim, f"/{first['waba_id']}/subscribed_apps$", "DELETE")) == 1
    assert sim.number(pid_b)["waba"]["subscribed"] is False

    # A new Embedded Signup of number A: the same channel, active again, history kept.
    sim.advance(301)  # Meta refuses a registration within 5 minutes of a deregistration (133015)
    onboarding = run_dag(
        "whatsapp_onboarding", **onboarding_conf({**first, "code": sim.new_code(first["waba_id"])})
    )
    assert str(onboarding.state) == "success", task_states(onboarding)
    again = pg_store_env.channels.by_phone_number(pid_a)
    assert again.id == channel_a.id and again.inbox_id == channel_a.inbox_id
    assert again.active and again.offboarded_at is None
    assert again.registration_state is RegistrationState.REGISTERED
    assert sim.number(pid_a)["platform_type"] == "CLOUD_API"
    assert len(pg_store_env.lifecycle_calls.recent(channel_a.id, DEREGISTER)) == 1
    assert len(pg_store_env.health.history(channel_a.id)) > history_before
    assert listed(pg_store_env, False) == {channel_a.id}


def test_deregistration_budget_is_checked_before_any_call(
    run_dag, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number, channel = add_live_channel(sim, pg_store_env)
    for _ in range(DEREGISTER_BUDGET):  # earlier offboardings of this number in the last 72 h ...
        pg_store_env.lifecycle_calls.complete(
            pg_store_env.lifecycle_calls.begin(channel.id, DEREGISTER), None
        )
        pg_store_env.channels.upsert(  # ... each followed by a new onboarding
            account_id=1,
            phone_number_id=number["phone_number_id"],
            waba_id=number["waba_id"],
            business_id=number["business_id"],
            access_token=sim.new_token(number["waba_id"]),
        )
    dag_run = run_dag("whatsapp_offboard_channel", account_id=1, inbox_id=channel.inbox_id)
    assert task_states(dag_run)["deregister"] == "failed"
    assert calls_about(sim, "/deregister$") == []
    assert pg_store_env.channels.by_id(channel.id).active  # nothing else happened either


@pytest.mark.parametrize(
    ("dag_id", "extra"),
    [
        ("whatsapp_offboard_channel", {"inbox": 7}),  # a misspelt inbox_id
        ("whatsapp_register_channel", {"phone_number_id": "1"}),
    ],
)
def test_a_conf_key_the_dag_does_not_declare_stops_the_run_before_anything_happens(
    run_dag, sim: SimulatorControl, pg_store_env: ChannelStore, dag_id: str, extra: dict
) -> None:
    _, channel = add_live_channel(sim, pg_store_env)
    calls_before = len(sim.calls())
    dag_run = run_dag(dag_id, account_id=1, inbox_id=channel.inbox_id, **extra)
    states = task_states(dag_run)
    assert states["resolve_channel"] == "failed", states
    assert set(states.values()) - {"failed"} <= {"upstream_failed"}, states
    assert len(sim.calls()) == calls_before  # no Graph call
    assert pg_store_env.channels.by_id(channel.id).active
