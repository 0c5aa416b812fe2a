"""The registration state machine, table-tested: every event from every relevant state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import Attention, Decision, ReauthorizationReason, RegistrationState
from whatsapp.domain.registration_machine import (
    VERIFY_AGAIN_AFTER,
    CustomerMustReauthorize,
    FlagForPerson,
    GraphFailed,
    HealthRead,
    NameReviewWaiting,
    NameWaitEnded,
    Offboarded,
    QualityChanged,
    ReadyToDecide,
    RegisterAnswered,
    RegisterNow,
    Registration,
    ScheduleAt,
    TokenRenewed,
    transition,
)
from whatsapp.errors import ErrorKind

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
S = RegistrationState
R = ReauthorizationReason

LIVE = PhoneHealth(
    "1",
    {"code_verification_status": "VERIFIED", "platform_type": "CLOUD_API", "throughput_level": "STANDARD"},
)
PENDING_APPROVED = PhoneHealth(
    "1",
    {"platform_type": "NOT_APPLICABLE", "name_status": "APPROVED", "code_verification_status": "VERIFIED"},
)
PENDING_IN_REVIEW = PhoneHealth("1", {"platform_type": "NOT_APPLICABLE", "name_status": "PENDING_REVIEW"})
PENDING_DECLINED = PhoneHealth("1", {"platform_type": "NOT_APPLICABLE", "name_status": "DECLINED"})


@pytest.mark.parametrize(
    ("before", "health", "just_registered", "state", "reason", "next_at"),
    [
        # provisioned: registered, flag cleared, backoff forgotten
        (Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW, 3), LIVE, False, S.REGISTERED, None, None),
        # ...but a customer reason stays until a new token
        (Registration(S.UNKNOWN, R.TOKEN_INVALID), LIVE, False, S.REGISTERED, R.TOKEN_INVALID, None),
        # pending, nothing planned: scheduled now, flagged
        (Registration(), PENDING_APPROVED, False, S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW),
        (Registration(S.REGISTERED), PENDING_APPROVED, False, S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW),
        # pending right after a successful register: look again soon, no flag
        (Registration(S.REGISTERED), PENDING_APPROVED, True, S.SCHEDULED, None, NOW + VERIFY_AGAIN_AFTER),
        # pending with a plan: the plan stays, the flag follows the facts
        (
            Registration(S.BLOCKED, None, NOW + timedelta(hours=5)),
            PENDING_APPROVED,
            False,
            S.BLOCKED,
            R.REGISTRATION_INCOMPLETE,
            NOW + timedelta(hours=5),
        ),
    ],
)
def test_health_read(
    before: Registration,
    health: PhoneHealth,
    just_registered: bool,
    state: RegistrationState,
    reason: ReauthorizationReason | None,
    next_at: datetime | None,
) -> None:
    after = transition(before, HealthRead(health, NOW, just_registered=just_registered)).registration
    assert (after.state, after.reason, after.next_attempt_at) == (state, reason, next_at)


@pytest.mark.parametrize(
    ("kind", "before_reason", "reason"),
    [
        (ErrorKind.TOKEN_INVALID, None, R.TOKEN_INVALID),
        (ErrorKind.PERMISSION, R.REGISTRATION_INCOMPLETE, R.PERMISSION_REVOKED),
        (ErrorKind.TRANSIENT, R.REGISTRATION_INCOMPLETE, R.REGISTRATION_INCOMPLETE),
        (ErrorKind.INVALID_REQUEST, None, None),
        (ErrorKind.TOKEN_INVALID, R.PERMISSION_REVOKED, R.TOKEN_INVALID),
    ],
)
def test_graph_failures_flag_only_what_needs_the_customer(
    kind: ErrorKind, before_reason: ReauthorizationReason | None, reason: ReauthorizationReason | None
) -> None:
    before = Registration(S.SCHEDULED, before_reason, NOW, 1)
    moved = transition(before, GraphFailed(kind, NOW))
    assert moved.registration == Registration(S.SCHEDULED, reason, NOW, 1)
    assert (FlagForPerson(S.SCHEDULED, reason) in moved.effects) == (
        reason in (R.TOKEN_INVALID, R.PERMISSION_REVOKED) and reason != before_reason
    )


def test_customer_reasons_win_over_registration_incomplete() -> None:
    flagged = Registration(S.SCHEDULED, R.PERMISSION_REVOKED)
    moved = transition(flagged, CustomerMustReauthorize(R.REGISTRATION_INCOMPLETE, NOW))
    assert moved.registration.reason is R.PERMISSION_REVOKED


@pytest.mark.parametrize(
    ("health", "decision", "state", "register"),
    [
        (LIVE, Decision.ALREADY_PROVISIONED, S.REGISTERED, False),
        (PENDING_IN_REVIEW, Decision.WAIT_FOR_DISPLAY_NAME, S.SCHEDULED, False),
        (PENDING_DECLINED, Decision.DISPLAY_NAME_DECLINED, S.NEEDS_ATTENTION, False),
        (PENDING_APPROVED, Decision.REGISTER, S.SCHEDULED, True),
    ],
)
def test_ready_to_decide(
    health: PhoneHealth, decision: Decision, state: RegistrationState, register: bool
) -> None:
    before = Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW, 2)
    moved = transition(before, ReadyToDecide(NOW, health=health), rng=random.Random(1))
    assert moved.decision is decision
    assert moved.register_now is register
    assert (RegisterNow() in moved.effects) is register
    assert moved.registration.state is state
    if register:
        assert moved.registration == before  # nothing moves until the answer
    if decision is Decision.WAIT_FOR_DISPLAY_NAME:
        assert moved.registration.next_attempt_at > NOW
        assert any(isinstance(e, ScheduleAt) for e in moved.effects)


def test_a_permanent_read_error_before_registering_takes_its_outcome() -> None:
    moved = transition(Registration(S.SCHEDULED), ReadyToDecide(NOW, error=ErrorKind.TOKEN_INVALID))
    assert moved.registration.state is S.REAUTHORIZATION_REQUIRED
    assert moved.registration.reason is R.TOKEN_INVALID
    assert moved.registration.next_attempt_at is None


@pytest.mark.parametrize(
    ("error", "state", "failures", "scheduled"),
    [
        (None, S.REGISTERED, 0, False),
        (ErrorKind.DISPLAY_NAME_NOT_READY, S.SCHEDULED, 3, True),
        (ErrorKind.REGISTER_LIMIT, S.BLOCKED, 3, True),
        (ErrorKind.PIN_PROBLEM, S.NEEDS_ATTENTION, 3, False),
        (ErrorKind.TOKEN_INVALID, S.REAUTHORIZATION_REQUIRED, 3, False),
        (ErrorKind.TRANSIENT, S.SCHEDULED, 3, True),
    ],
)
def test_register_answered(
    error: ErrorKind | None, state: RegistrationState, failures: int, scheduled: bool
) -> None:
    before = Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW, 2)
    moved = transition(before, RegisterAnswered(error, NOW, (NOW,)), rng=random.Random(1))
    assert moved.registration.state is state
    assert moved.registration.failures_in_a_row == failures
    assert (moved.registration.next_attempt_at is not None) is scheduled
    if error is None:
        assert moved.registration.reason is None


@pytest.mark.parametrize(
    ("event", "state", "failures", "next_at"),
    [
        # 133008/133009: the wait Meta names in details, not the backoff
        (RegisterAnswered(ErrorKind.PIN_LOCKED, NOW, (NOW,), wait=timedelta(minutes=42)), S.SCHEDULED, 3, 42),
        (RegisterAnswered(ErrorKind.PIN_LOCKED, NOW, (NOW,)), S.SCHEDULED, 3, 60),
        # 133015: a short wait that is not a failure streak
        (RegisterAnswered(ErrorKind.REGISTER_TOO_SOON, NOW, (NOW,)), S.SCHEDULED, 2, 5),
        # the answer was lost: counts as sent, look again (health first) after two minutes
        (RegisterAnswered(ErrorKind.TRANSIENT, NOW, (NOW,), answered=False), S.SCHEDULED, 3, 2),
        # a wait in details means nothing to a row without a fixed wait
        (
            RegisterAnswered(ErrorKind.PIN_PROBLEM, NOW, (NOW,), wait=timedelta(minutes=1)),
            S.NEEDS_ATTENTION,
            3,
            None,
        ),
    ],
)
def test_register_answers_with_their_own_wait(
    event: RegisterAnswered, state: RegistrationState, failures: int, next_at: int | None
) -> None:
    before = Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW, 2)
    moved = transition(before, event, rng=random.Random(1)).registration
    assert (moved.state, moved.failures_in_a_row) == (state, failures)
    assert moved.next_attempt_at == (None if next_at is None else NOW + timedelta(minutes=next_at))
    assert moved.reason is R.REGISTRATION_INCOMPLETE


@pytest.mark.parametrize("verification", ["EXPIRED", "NOT_VERIFIED", "UNVERIFIED", None])
def test_a_provisioned_number_is_registered_whatever_its_verification_status(
    verification: str | None,
) -> None:
    live = PhoneHealth(
        "1",
        {
            "code_verification_status": verification,
            "platform_type": "CLOUD_API",
            "throughput_level": "STANDARD",
        },
    )
    before = Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW, 2)
    assert transition(before, HealthRead(live, NOW)).registration == Registration(S.REGISTERED, None, None, 0)
    decided = transition(before, ReadyToDecide(NOW, health=live))
    assert decided.decision is Decision.ALREADY_PROVISIONED and not decided.register_now


def test_onboarding_wait_and_hand_over() -> None:
    waiting = transition(Registration(), NameReviewWaiting(NOW)).registration
    assert waiting.state is S.AWAITING_DISPLAY_NAME
    handed = transition(waiting, NameWaitEnded(NOW)).registration
    assert (handed.state, handed.reason, handed.next_attempt_at) == (
        S.SCHEDULED,
        R.REGISTRATION_INCOMPLETE,
        NOW,
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (Registration(S.REAUTHORIZATION_REQUIRED, R.TOKEN_INVALID), Registration(S.UNKNOWN, None)),
        (Registration(S.SCHEDULED, R.PERMISSION_REVOKED, NOW), Registration(S.SCHEDULED, None, NOW)),
        (
            Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW),
            Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW),
        ),
    ],
)
def test_a_new_token_clears_only_customer_reasons(before: Registration, after: Registration) -> None:
    assert transition(before, TokenRenewed(NOW)).registration == after


def test_retryable_means_a_retry_state_and_no_customer_reason() -> None:
    assert Registration(S.SCHEDULED).retryable
    assert not Registration(S.SCHEDULED, R.TOKEN_INVALID).retryable
    assert not Registration(S.NEEDS_ATTENTION).retryable


PENDING_NOT_VERIFIED = PhoneHealth(
    "1",
    {
        "platform_type": "NOT_APPLICABLE",
        "name_status": "APPROVED",
        "code_verification_status": "NOT_VERIFIED",
    },
)


def _flagged(attention: Attention) -> Registration:
    return Registration(S.NEEDS_ATTENTION, R.REGISTRATION_INCOMPLETE, None, 1, attention=attention)


@pytest.mark.parametrize(
    ("attention", "health", "state", "attention_after"),
    [
        # Meta reads the number verified again: the person fixed it, the fleet registers it now.
        (Attention.NEEDS_REVERIFICATION, PENDING_APPROVED, S.SCHEDULED, None),
        # Still not verified: the flag stays.
        (
            Attention.NEEDS_REVERIFICATION,
            PENDING_NOT_VERIFIED,
            S.NEEDS_ATTENTION,
            Attention.NEEDS_REVERIFICATION,
        ),
        # Meta shows the name approved again: a declined name is fixed.
        (Attention.DISPLAY_NAME_DECLINED, PENDING_APPROVED, S.SCHEDULED, None),
        (
            Attention.DISPLAY_NAME_DECLINED,
            PENDING_DECLINED,
            S.NEEDS_ATTENTION,
            Attention.DISPLAY_NAME_DECLINED,
        ),
        # No read proves a PIN fixed (only a register call that succeeds does), nor a lock or an
        # account event: a verified, approved pending number stays flagged for those.
        (Attention.PIN_MISMATCH, PENDING_APPROVED, S.NEEDS_ATTENTION, Attention.PIN_MISMATCH),
        (Attention.ACCOUNT_LOCKED, PENDING_APPROVED, S.NEEDS_ATTENTION, Attention.ACCOUNT_LOCKED),
        (Attention.ACCOUNT_EVENT, PENDING_APPROVED, S.NEEDS_ATTENTION, Attention.ACCOUNT_EVENT),
        # A read showing the number live ends every attention: someone registered it.
        (Attention.PIN_MISMATCH, LIVE, S.REGISTERED, None),
    ],
)
def test_a_read_clears_an_attention_only_where_it_proves_the_cause_gone(
    attention: Attention, health: PhoneHealth, state: RegistrationState, attention_after: Attention | None
) -> None:
    moved = transition(_flagged(attention), HealthRead(health, NOW))
    assert (moved.registration.state, moved.registration.attention) == (state, attention_after)
    if state is S.SCHEDULED:
        assert moved.registration.next_attempt_at == NOW  # due now: the usual path reads and decides
    if attention is Attention.NEEDS_REVERIFICATION and state is S.SCHEDULED:
        assert moved.registration.failures_in_a_row == 0  # the refusal's cause is gone: no backoff


@pytest.mark.parametrize(
    ("before", "event", "lowered"),
    [
        (False, "DOWNGRADE", True),
        (True, "UPGRADE", False),
        (True, "FLAGGED", True),  # quality events leave the limit alone
        (True, "THROUGHPUT_UPGRADE", True),
        (False, "UNFLAGGED", False),
    ],
)
def test_meta_lowering_the_messaging_limit_is_kept_until_it_raises_it(
    before: bool, event: str, lowered: bool
) -> None:
    current = Registration(S.REGISTERED, limit_lowered=before)
    moved = transition(current, QualityChanged(event, NOW))
    assert moved.registration.limit_lowered is lowered
    assert moved.registration.state is S.REGISTERED


def test_offboarding_forgets_a_lowered_limit() -> None:
    moved = transition(Registration(S.REGISTERED, limit_lowered=True), Offboarded(NOW))
    assert moved.registration.limit_lowered is False
