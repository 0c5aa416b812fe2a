"""Crash-safe register attempts: every call Meta counts is recorded, none is sent twice.

The register call is slowed down at the simulator (a ``latency`` fault on ``/register``) so a
kill, a client timeout or a store outage lands while the call is in flight. Meta (the
simulator) still processes a call whose client went away, as Graph does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.graph_simulator.process import RunningSimulator, SimulatorControl
from tests.registration.support import (
    due_channel,
    kill_mid_register,
    outcomes,
    register_calls,
    wait_for,
)
from tests.support.simulator_fixtures import GRAPH_CONN_ENV, graph_connection
from whatsapp.domain.registration import ANSWER_LOST_WAIT, RegistrationState
from whatsapp.errors import GraphApiError
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.register_channel import AWAITING_ANSWER, attempt_registration
from whatsapp.store import ChannelStore
from whatsapp.store.attempts import AttemptNotRecordedError
from whatsapp.store.database import Database
from whatsapp.store.errors import StoreConnectionError

pytestmark = pytest.mark.postgres


def successful_calls(sim: SimulatorControl) -> int:
    return sum(1 for call in sim.calls("/register$") if call["status"] == 200)


def after_the_wait() -> datetime:
    """A run that starts once the wait after an unanswered call is over."""
    return datetime.now(UTC) + ANSWER_LOST_WAIT + timedelta(seconds=5)


def test_kill_9_mid_register_then_a_rerun_records_every_call_and_never_registers_twice(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    seeded = due_channel(sim, pg_store_env, name_status="APPROVED")
    sim.add_fault(kind="latency", path="/register$", latency_ms=3000)
    kill_mid_register(pg_store_env, seeded)
    # Meta got the call although the client is gone.
    wait_for(lambda: register_calls(sim), what="the register call at the simulator")
    assert register_calls(sim) == {seeded.number["phone_number_id"]: 1}
    assert outcomes(pg_store_env, seeded) == ["sent"]  # counted against the budget

    # A run inside the wait sends nothing; the one after it re-reads health and reconciles.
    early = attempt_registration(WhatsAppGraphHook(), pg_store_env, seeded.channel.id, respect_backoff=False)
    (intent,) = pg_store_env.attempts.recent(seeded.channel.id)
    assert (early.action, early.register_calls) == (AWAITING_ANSWER, 0)  # the call is still out
    assert early.next_attempt_at == (intent.attempted_at + ANSWER_LOST_WAIT).isoformat()
    report = attempt_registration(
        WhatsAppGraphHook(), pg_store_env, seeded.channel.id, respect_backoff=True, now=after_the_wait()
    )
    assert (report.decision, report.register_calls) == ("already_provisioned", 0)
    assert sum(register_calls(sim).values()) == len(outcomes(pg_store_env, seeded)) == 1
    assert successful_calls(sim) == 1
    assert outcomes(pg_store_env, seeded) == ["no_answer"]
    assert pg_store_env.channels.by_id(seeded.channel.id).registration_state is RegistrationState.REGISTERED


def test_a_slow_answer_past_the_client_timeout_is_not_sent_again_and_reconciles_from_health(
    monkeypatch: pytest.MonkeyPatch,
    simulator_process: RunningSimulator,
    graph_conn_env: str,
    pg_store_env: ChannelStore,
    sim: SimulatorControl,
) -> None:
    # A 60 s answer with a 30 s client timeout, scaled down: 6 s answer, 2 s timeout.
    monkeypatch.setenv(GRAPH_CONN_ENV, graph_connection(simulator_process.base_url, sim, timeout=2))
    seeded = due_channel(sim, pg_store_env, name_status="APPROVED")
    sim.add_fault(kind="latency", path="/register$", latency_ms=6000)

    with pytest.raises(GraphApiError) as lost:
        attempt_registration(WhatsAppGraphHook(), pg_store_env, seeded.channel.id, respect_backoff=True)
    assert not lost.value.answered
    (attempt,) = pg_store_env.attempts.recent(seeded.channel.id)
    assert attempt.outcome == "no_answer"
    stored = pg_store_env.channels.by_id(seeded.channel.id)
    assert stored.registration_state is RegistrationState.SCHEDULED
    assert stored.next_attempt_at - attempt.attempted_at == ANSWER_LOST_WAIT

    # Airflow's retry comes 30 s later (here: at once): no second register within two minutes.
    retry = attempt_registration(
        WhatsAppGraphHook(), pg_store_env, seeded.channel.id, respect_backoff=False, respect_state=True
    )
    assert (retry.action, retry.register_calls) == (AWAITING_ANSWER, 0)
    wait_for(lambda: register_calls(sim), what="the slow register call to finish at the simulator")

    later = attempt_registration(
        WhatsAppGraphHook(), pg_store_env, seeded.channel.id, respect_backoff=True, now=after_the_wait()
    )
    assert (later.decision, later.register_calls) == ("already_provisioned", 0)
    assert register_calls(sim) == {seeded.number["phone_number_id"]: 1}
    assert len(pg_store_env.attempts.recent(seeded.channel.id)) == 1
    assert pg_store_env.channels.by_id(seeded.channel.id).registration_state is RegistrationState.REGISTERED


def _store_down_after_the_intent(monkeypatch: pytest.MonkeyPatch, failures: int | None) -> list[int]:
    """Connecting to the store fails (as when PostgreSQL is unreachable) for the next ``failures``
    connections once the intent is committed; ``None``: until the test ends."""
    real_open = Database._open
    failed: list[int] = []
    armed = {"on": False}

    def flaky_open(self: Database) -> Any:
        if armed["on"] and (failures is None or len(failed) < failures):
            failed.append(1)
            raise StoreConnectionError("cannot reach the channel store: connection refused")
        return real_open(self)

    real_register = WhatsAppGraphHook.register

    def register_then_outage(self: WhatsAppGraphHook, *args: Any) -> None:
        armed["on"] = True  # the intent is committed by now: the outage starts while the call is out
        real_register(self, *args)

    monkeypatch.setattr(Database, "_open", flaky_open)
    monkeypatch.setattr(WhatsAppGraphHook, "register", register_then_outage)
    monkeypatch.setattr("whatsapp.store.attempts.STORE_WRITE_DELAYS_S", (0.01, 0.01, 0.01, 0.01))
    return failed


def test_a_store_outage_while_recording_keeps_the_attempt(
    monkeypatch: pytest.MonkeyPatch, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    seeded = due_channel(sim, pg_store_env, name_status="APPROVED")
    failed = _store_down_after_the_intent(monkeypatch, failures=3)
    report = attempt_registration(WhatsAppGraphHook(), pg_store_env, seeded.channel.id, respect_backoff=True)
    assert len(failed) == 3 and report.action == "done"
    assert outcomes(pg_store_env, seeded) == ["success"]
    assert register_calls(sim) == {seeded.number["phone_number_id"]: 1}
    assert pg_store_env.channels.by_id(seeded.channel.id).registration_state is RegistrationState.REGISTERED


def test_a_store_that_stays_down_fails_loudly_and_the_next_run_reconciles(
    monkeypatch: pytest.MonkeyPatch, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    seeded = due_channel(sim, pg_store_env, name_status="APPROVED")
    with pytest.MonkeyPatch.context() as outage:
        _store_down_after_the_intent(outage, failures=None)
        with pytest.raises(AttemptNotRecordedError, match=r"sent at .* could not be recorded"):
            attempt_registration(WhatsAppGraphHook(), pg_store_env, seeded.channel.id, respect_backoff=True)
    # The store is back.
    assert outcomes(pg_store_env, seeded) == ["sent"]  # the call still counts
    report = attempt_registration(
        WhatsAppGraphHook(), pg_store_env, seeded.channel.id, respect_backoff=True, now=after_the_wait()
    )
    assert (report.decision, report.register_calls) == ("already_provisioned", 0)
    assert sum(register_calls(sim).values()) == len(outcomes(pg_store_env, seeded)) == 1
    assert pg_store_env.channels.by_id(seeded.channel.id).registration_state is RegistrationState.REGISTERED


class HealthReadFailsAfterRegistering(WhatsAppGraphHook):
    """The verification read after a successful register times out."""

    reads = 0

    def get_phone_health(self, *args: Any, **kwargs: Any) -> Any:
        type(self).reads += 1
        if type(self).reads > 1:
            raise GraphApiError.transport("timed out (ReadTimeout)", operation="get_phone_health")
        return super().get_phone_health(*args, **kwargs)


def test_a_failed_health_read_after_a_successful_register_never_moves_the_channel_back(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    seeded = due_channel(sim, pg_store_env, name_status="APPROVED")
    report = attempt_registration(
        HealthReadFailsAfterRegistering(), pg_store_env, seeded.channel.id, respect_backoff=True
    )
    assert report.action == "done" and HealthReadFailsAfterRegistering.reads == 2
    stored = pg_store_env.channels.by_id(seeded.channel.id)
    assert stored.registration_state is RegistrationState.REGISTERED
    assert stored.reauthorization_reason is None and stored.next_attempt_at is None
