"""The onboarding DAG end to end with ``dag.test()``, the simulator and a PostgreSQL store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from tests.onboarding.test_display_name_trigger import described, review_over
from tests.store.helpers import flag
from whatsapp.domain.registration import ReauthorizationReason
from whatsapp.triggers.display_name import DisplayNameTrigger

pytestmark = pytest.mark.postgres


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def graph_steps(sim: SimulatorControl, number: dict[str, Any]) -> list[str]:
    """The request log as onboarding steps (controls and unrelated calls left out)."""
    phone, waba = number["phone_number_id"], number["waba_id"]
    names = {
        ("GET", "/oauth/access_token"): "exchange",
        ("GET", f"/{waba}/phone_numbers"): "phone_numbers",
        ("GET", "/debug_token"): "debug_token",
        ("GET", f"/{waba}/subscribed_apps"): "subscribed_apps",
        ("POST", f"/{waba}/subscribed_apps"): "subscribe_app",
        ("POST", f"/{phone}"): "override",
        ("GET", f"/{phone}"): "health",
        ("POST", f"/{phone}/register"): "register",
    }
    steps = []
    for call in sim.calls():
        path = "/" + call["path"].split("/", 2)[-1] if call["path"].startswith("/v") else call["path"]
        steps.append(names.get((call["method"], path), f"{call['method']} {path}"))
    return steps


def test_approved_name_registers_once_in_order(onboarding, sim: SimulatorControl, pg_store_env) -> None:
    number = sim.add_number(name_status="APPROVED")
    dag_run = onboarding(**onboarding_conf(number))
    assert str(dag_run.state) == "success", task_states(dag_run)
    steps = graph_steps(sim, number)
    # exchange -> (save) -> phone info -> access check -> subscribe app, then override -> ... -> register once
    assert steps[:6] == [
        "exchange",
        "phone_numbers",
        "debug_token",
        "subscribed_apps",
        "subscribe_app",
        "override",
    ]
    assert steps.count("register") == 1
    assert steps.index("register") > steps.index("override")
    assert steps[-1] == "health"
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    assert channel.provisioning == "provisioned"
    assert channel.registration_state.value == "registered"
    assert channel.reauthorization_required is False
    assert channel.waba_id == number["waba_id"] and channel.business_id == number["business_id"]
    attempts = pg_store_env.attempts.recent(channel.id)
    assert [a.outcome for a in attempts] == ["success"]
    state = sim.number(number["phone_number_id"])
    assert state["webhook_configuration"]["override_callback_uri"].endswith(number["phone_number_id"])
    assert (
        state["pin"] == pg_store_env.channels.credentials(channel.id).pin
    )  # the PIN we stored is the one Meta holds


@pytest.fixture
def trigger_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Observe the real trigger: every event it fires (it still runs as written)."""
    events: list[dict[str, Any]] = []
    original = DisplayNameTrigger.run

    async def observed(self: DisplayNameTrigger) -> Any:
        async for event in original(self):
            events.append(described(event))
            yield event

    monkeypatch.setattr(DisplayNameTrigger, "run", observed)
    return events


@pytest.fixture
def advance_when(sim: SimulatorControl) -> Iterator[Callable[..., None]]:
    """Start a watcher that acts on the simulator once the request log shows ``count`` matching calls."""
    threads: list[threading.Thread] = []
    stop = threading.Event()

    def start(path: str, count: int, action: Callable[[], Any]) -> None:
        def watch() -> None:
            while not stop.is_set():
                if len([c for c in sim.calls(path) if c["method"] == "GET"]) >= count:
                    action()
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


def test_pending_name_defers_and_registers_after_review(
    onboarding, sim: SimulatorControl, pg_store_env, trigger_runs, advance_when
) -> None:
    number = sim.add_number(name_status="PENDING_REVIEW", review_seconds=3600)
    phone = number["phone_number_id"]
    # Sensor poke + two trigger polls while in review, then the review completes.
    advance_when(f"/{phone}$", 3, lambda: sim.advance(3601))
    dag_run = onboarding(**onboarding_conf(number, name_poke_interval=1))
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert trigger_runs == [review_over("APPROVED", "graph")]  # it deferred and fired once
    register_calls = sim.calls(f"/{phone}/register$")
    assert len(register_calls) == 1 and register_calls[0]["status"] == 200  # none spent while pending
    channel = pg_store_env.channels.by_phone_number(phone)
    assert channel.provisioning == "provisioned"
    assert [a.outcome for a in pg_store_env.attempts.recent(channel.id)] == ["success"]


def test_review_outlasting_the_wait_hands_over_without_failing(
    onboarding, sim: SimulatorControl, pg_store_env, trigger_runs
) -> None:
    number = sim.add_number(name_status="PENDING_REVIEW", review_seconds=10**6)
    dag_run = onboarding(**onboarding_conf(number, name_poke_interval=1, name_wait_timeout=2))
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert trigger_runs[-1]["status"] == "timeout"
    assert sim.calls(f"/{number['phone_number_id']}/register$") == []
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    assert channel.registration_state.value == "scheduled"
    assert channel.next_attempt_at is not None
    assert channel.reauthorization_reason.value == "registration_incomplete"


def test_already_provisioned_sends_no_register(onboarding, sim: SimulatorControl, pg_store_env) -> None:
    number = sim.add_number(
        name_status="APPROVED", platform_type="CLOUD_API", throughput_level="STANDARD", status="CONNECTED"
    )
    dag_run = onboarding(**onboarding_conf(number))
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert sim.calls("/register$") == []
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    assert channel.registration_state.value == "registered"
    assert channel.provisioning == "provisioned"
    assert pg_store_env.attempts.recent(channel.id) == []


def test_certificate_not_ready_schedules_a_retry_without_looping(
    onboarding, sim: SimulatorControl, pg_store_env
) -> None:
    # name_status NONE: nothing to wait for, yet Meta cannot issue the certificate (100/2388001).
    number = sim.add_number(name_status="NONE")
    dag_run = onboarding(**onboarding_conf(number))
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert len(sim.calls("/register$")) == 1
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    (attempt,) = pg_store_env.attempts.recent(channel.id)
    assert (attempt.outcome, attempt.code, attempt.subcode) == ("display_name_not_ready", 100, 2388001)
    assert channel.registration_state.value == "scheduled"
    assert channel.next_attempt_at is not None
    assert (
        channel.reauthorization_required and channel.reauthorization_reason.value == "registration_incomplete"
    )


def test_declined_name_needs_attention(onboarding, sim: SimulatorControl, pg_store_env) -> None:
    number = sim.add_number(name_status="DECLINED")
    dag_run = onboarding(**onboarding_conf(number))
    states = task_states(dag_run)
    assert states["register"] == "failed" and states["check_health"] == "upstream_failed"
    assert sim.calls("/register$") == []
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    assert channel.registration_state.value == "needs_attention"
    assert channel.reauthorization_reason.value == "registration_incomplete"


def test_pin_mismatch_needs_attention(onboarding, sim: SimulatorControl, pg_store_env) -> None:
    number = sim.add_number(name_status="APPROVED", pin="111111")  # two-step verification set elsewhere
    dag_run = onboarding(**onboarding_conf(number))
    assert task_states(dag_run)["register"] == "failed"
    assert len(sim.calls("/register$")) == 1  # no retry on a permanent error
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    (attempt,) = pg_store_env.attempts.recent(channel.id)
    assert (attempt.outcome, attempt.code) == ("pin_problem", 133005)
    assert channel.registration_state.value == "needs_attention"


def test_expired_token_flags_reauthorization(
    onboarding, sim: SimulatorControl, pg_store_env, advance_when
) -> None:
    number = sim.add_number(name_status="PENDING_REVIEW", review_seconds=10**6)
    phone = number["phone_number_id"]
    # The token dies while the run waits for the display name.
    advance_when(f"/{phone}$", 1, lambda: sim.update_number(phone, token_state="expired"))
    dag_run = onboarding(**onboarding_conf(number, name_poke_interval=1))
    assert task_states(dag_run)["wait_for_display_name"] == "failed"
    assert sim.calls("/register$") == []
    channel = pg_store_env.channels.by_phone_number(phone)
    assert channel.reauthorization_required and channel.reauthorization_reason.value == "token_invalid"


def test_same_signup_twice_and_rerun_never_duplicate(onboarding, sim: SimulatorControl, pg_store_env) -> None:
    number = sim.add_number(name_status="APPROVED")
    conf = onboarding_conf(number)
    first = onboarding(**conf)
    second = onboarding(**conf)  # same code again: already exchanged, already provisioned
    assert (str(first.state), str(second.state)) == ("success", "success"), task_states(second)
    assert len(sim.calls("/oauth/access_token")) == 1
    assert len(sim.calls("/register$")) == 1
    assert len(pg_store_env.fleet.statuses()) == 1


def test_reauthorization_updates_the_token_and_clears_the_flag(
    onboarding, sim: SimulatorControl, pg_store_env
) -> None:
    number = sim.add_number(name_status="APPROVED")
    phone = number["phone_number_id"]
    assert str(onboarding(**onboarding_conf(number)).state) == "success"
    channel = pg_store_env.channels.by_phone_number(phone)
    old_token = pg_store_env.channels.credentials(channel.id).access_token
    sim.update_number(phone, token_state="expired")
    flag(pg_store_env, channel.id, ReauthorizationReason.TOKEN_INVALID)

    # The customer redoes Embedded Signup: a new code for the same WABA, for this inbox.
    fresh = {**number, "code": sim.new_code(number["waba_id"])}
    dag_run = onboarding(**onboarding_conf(fresh, inbox_id=channel.inbox_id))
    assert str(dag_run.state) == "success", task_states(dag_run)
    after = pg_store_env.channels.by_phone_number(phone)
    assert (after.id, after.inbox_id) == (channel.id, channel.inbox_id)  # updated, not duplicated
    assert after.reauthorization_required is False and after.reauthorization_reason is None
    assert after.provisioning == "provisioned" and after.registration_state.value == "registered"
    assert pg_store_env.channels.credentials(channel.id).access_token != old_token
    assert len(sim.calls("/register$")) == 1  # already provisioned: the decision sends nothing new


def test_reauthorization_of_another_inbox_fails_and_writes_nothing(
    onboarding, sim: SimulatorControl, pg_store_env
) -> None:
    first = sim.add_number(name_status="APPROVED")
    second = sim.add_number(name_status="APPROVED")
    assert str(onboarding(**onboarding_conf(first)).state) == "success"
    channel = pg_store_env.channels.by_phone_number(first["phone_number_id"])
    token_before = pg_store_env.channels.credentials(channel.id).access_token

    dag_run = onboarding(**onboarding_conf(second, inbox_id=channel.inbox_id))  # inbox holds the first number
    states = task_states(dag_run)
    assert states["phone_info"] == "failed" and states["register"] == "upstream_failed"
    assert pg_store_env.channels.by_phone_number(second["phone_number_id"]) is None
    assert pg_store_env.channels.credentials(channel.id).access_token == token_before
    assert len(sim.calls("/register$")) == 1


def test_reauthorization_of_an_unknown_inbox_fails_without_retry(
    onboarding, sim: SimulatorControl, pg_store_env
) -> None:
    number = sim.add_number(name_status="APPROVED")
    dag_run = onboarding(**onboarding_conf(number, inbox_id=99))
    (phone_info,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "phone_info"]
    assert (str(phone_info.state), phone_info.try_number) == ("failed", 1)
    assert pg_store_env.fleet.statuses() == []


def test_a_malformed_graph_connection_fails_without_retry(
    onboarding, sim: SimulatorControl, pg_store_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = sim.add_number(name_status="APPROVED")
    monkeypatch.setenv(
        "AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT",
        '{"conn_type": "whatsapp_graph", "host": "http://127.0.0.1:9", "login": "1",'
        ' "extra": {"batch_size": 99}}',
    )
    dag_run = onboarding(**onboarding_conf(number))
    (signup,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "exchange_and_save"]
    assert (str(signup.state), signup.try_number) == ("failed", 1)
    assert sim.calls() == [] and pg_store_env.fleet.statuses() == []
