"""Registration retries: what is due, the per-channel claim, and two processes racing for it."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest

from tests.store.helpers import NOW, PENDING, add_channel, flag, health, set_registration
from whatsapp.domain.registration import (
    REGISTER_BUDGET,
    Decision,
    ReauthorizationReason,
    RegistrationState,
    outcome_of_decision,
)
from whatsapp.errors import GraphApiError
from whatsapp.store import ChannelStore, HealthResult, StoreTarget

NOT_READY = GraphApiError("Cannot Create Certificate", http_status=400, code=100, subcode=2388001)


def _scheduled(store, n, due=NOW):
    channel = add_channel(store, n)
    set_registration(store, channel.id, RegistrationState.SCHEDULED, next_attempt_at=due)
    return channel


def _record_failures(store, channel, count, start=NOW - timedelta(hours=1)):
    for i in range(count):
        at = start + timedelta(minutes=i)
        with store.attempts.claim(channel.id, respect_backoff=False, now=at) as claim:
            claim.record_attempt(NOT_READY)


def test_due_list_is_oldest_first_limited_and_only_retryable(store):
    late = _scheduled(store, 1, NOW - timedelta(hours=2))
    early = _scheduled(store, 2, NOW - timedelta(hours=3))
    _scheduled(store, 3, NOW + timedelta(minutes=1))  # not yet due
    attention = _scheduled(store, 4, NOW - timedelta(hours=4))
    set_registration(store, attention.id, RegistrationState.NEEDS_ATTENTION, next_attempt_at=NOW)
    revoked = _scheduled(store, 5, NOW - timedelta(hours=4))
    flag(store, revoked.id, ReauthorizationReason.PERMISSION_REVOKED)
    inactive = _scheduled(store, 6, NOW - timedelta(hours=4))
    store.channels.set_active(inactive.id, False)
    due = store.attempts.due(now=NOW)
    assert [d.id for d in due] == [early.id, late.id]
    assert due[0].display_phone_number == early.display_phone_number
    assert [d.id for d in store.attempts.due(now=NOW, limit=1)] == [early.id]


def test_budget_excludes_a_channel_until_the_window_moves(store):
    channel = _scheduled(store, 1)
    _record_failures(store, channel, REGISTER_BUDGET)
    set_registration(store, channel.id, RegistrationState.SCHEDULED, next_attempt_at=NOW)
    assert store.attempts.due(now=NOW) == []
    with store.attempts.claim(channel.id, respect_backoff=False, now=NOW) as claim:
        assert claim is None  # the manual path bypasses backoff, never the budget
    assert [d.id for d in store.attempts.due(now=NOW + timedelta(hours=72))] == [channel.id]


def test_claim_records_attempt_state_backoff_and_flag_together(store):
    channel = _scheduled(store, 1)
    with store.attempts.claim(channel.id, now=NOW) as claim:
        assert claim.budget_left == REGISTER_BUDGET and claim.failures_in_a_row == 0
        outcome = claim.record_attempt(NOT_READY, run_id="manual__1").outcome
    assert outcome.state is RegistrationState.SCHEDULED
    stored = store.channels.by_id(channel.id)
    assert stored.failures_in_a_row == 1
    assert NOW + timedelta(minutes=13) <= stored.next_attempt_at <= NOW + timedelta(minutes=17)
    assert stored.reauthorization_reason is ReauthorizationReason.REGISTRATION_INCOMPLETE
    [attempt] = store.attempts.recent(channel.id)
    assert (attempt.outcome, attempt.code, attempt.subcode, attempt.run_id) == (
        "display_name_not_ready",
        100,
        2388001,
        "manual__1",
    )
    with store.attempts.claim(channel.id, now=NOW) as claim:
        assert claim is None  # backing off


def test_success_registers_and_clears_incomplete(store):
    channel = _scheduled(store, 1)
    store.health.record([HealthResult(channel.id, NOW - timedelta(hours=1), health=health("x", **PENDING))])
    with store.attempts.claim(channel.id, now=NOW) as claim:
        claim.record_attempt(None)
    stored = store.channels.by_id(channel.id)
    assert stored.registration_state is RegistrationState.REGISTERED and stored.next_attempt_at is None
    assert not stored.reauthorization_required and stored.failures_in_a_row == 0
    status = store.fleet.channel_status(1, channel.inbox_id, now=NOW)
    assert status.registration.attempts_72h == 1 and status.registration.last_error is None


def test_token_error_needs_reauthorization_and_stops_retries(store):
    channel = _scheduled(store, 1)
    with store.attempts.claim(channel.id, now=NOW) as claim:
        claim.record_attempt(GraphApiError("expired", http_status=401, code=190))
    stored = store.channels.by_id(channel.id)
    assert stored.registration_state is RegistrationState.REAUTHORIZATION_REQUIRED
    assert stored.reauthorization_reason is ReauthorizationReason.TOKEN_INVALID
    assert store.attempts.due(now=NOW + timedelta(days=30)) == []


def test_decision_without_a_call_sets_state_and_no_attempt(store):
    channel = _scheduled(store, 1)
    waiting = outcome_of_decision(Decision.WAIT_FOR_DISPLAY_NAME)
    in_review = health(channel.phone_number_id, **{**PENDING, "name_status": "PENDING_REVIEW"})
    with store.attempts.claim(channel.id, now=NOW) as claim:
        moved = claim.decide(in_review)
    assert moved.decision is Decision.WAIT_FOR_DISPLAY_NAME and not moved.register_now
    due = moved.registration.next_attempt_at
    stored = store.channels.by_id(channel.id)
    assert stored.registration_state is waiting.state
    assert stored.next_attempt_at == due and due > NOW
    assert store.attempts.recent(channel.id) == []


def test_an_attempt_survives_an_exception_raised_after_recording_it(store):
    channel = _scheduled(store, 1)
    with pytest.raises(RuntimeError), store.attempts.claim(channel.id, now=NOW) as claim:
        claim.record_attempt(GraphApiError("server error", http_status=503))
        raise RuntimeError("task retry")
    assert len(store.attempts.recent(channel.id)) == 1
    with (
        pytest.raises(RuntimeError),
        store.attempts.claim(channel.id, respect_backoff=False) as claim,
    ):
        raise RuntimeError("nothing recorded: rolled back")
    assert len(store.attempts.recent(channel.id)) == 1


def _claim_and_register(target: StoreTarget, channel_id: int, barrier, hold_s: float) -> bool:
    """One worker process: claim, "call /register" for ``hold_s``, record; True if it won."""
    import time

    store = ChannelStore.from_target(target)
    try:
        barrier.wait()
        with store.attempts.claim(channel_id, now=NOW) as claim:
            if claim is None:
                return False
            time.sleep(hold_s)
            claim.record_attempt(NOT_READY)
            return True
    finally:
        store.dispose()


def test_two_processes_racing_for_one_channel_exactly_one_registers(store):
    channel = _scheduled(store, 1)
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(2)
    with context.Pool(2) as pool:
        results = [
            pool.apply_async(_claim_and_register, (store.target, channel.id, barrier, 0.5)) for _ in range(2)
        ]
        won = sorted(r.get(timeout=120) for r in results)
    assert won == [False, True]
    assert len(store.attempts.recent(channel.id)) == 1
    assert store.channels.by_id(channel.id).failures_in_a_row == 1
