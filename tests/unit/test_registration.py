"""The registration decision and outcome tables (docs/states-and-situations.md), row by row, on real
Graph JSON.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.unit import graph_errors as g
from whatsapp.domain.health import PhoneHealth, Provisioning
from whatsapp.domain.registration import (
    ANSWER_LOST,
    ANSWER_LOST_WAIT,
    ATTENTION_ACTIONS,
    DEREGISTER_ALLOWANCE,
    NAME_CHANGE_ALLOWANCE,
    NAME_CHANGE_WINDOW,
    OUTCOME_BY_KIND,
    REGISTER_ALLOWANCE,
    REGISTER_BUDGET,
    Action,
    Attention,
    Decision,
    ReauthorizationReason,
    RegistrationState,
    backoff_delay,
    budget_left,
    decide,
    generate_pin,
    next_attempt_at,
    outcome_of,
    outcome_of_decision,
    span_words,
    window_reopens_at,
)
from whatsapp.errors import ErrorKind, GraphApiError

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def node(
    *,
    verification: str = "VERIFIED",
    platform: str = "CLOUD_API",
    throughput: str = "STANDARD",
    name: str = "APPROVED",
) -> PhoneHealth:
    """A phone node exactly as Graph returns it: parsed from JSON text, string keys."""
    raw = json.dumps(
        {
            "id": "106540352242922",
            "display_phone_number": "+1 555-0100",
            "verified_name": "Acme",
            "code_verification_status": verification,
            "name_status": name,
            "platform_type": platform,
            "throughput": {"level": throughput},
            "quality_rating": "GREEN",
        }
    )
    return PhoneHealth.from_graph(json.loads(raw))


@pytest.mark.parametrize(
    ("health", "decision"),
    [
        # not needed -> skip, nothing sent
        (node(), Decision.ALREADY_PROVISIONED),
        (node(throughput="HIGH"), Decision.ALREADY_PROVISIONED),
        # pending via platform_type, via throughput only (Chatwoot's symbol-key bug)
        (node(platform="NOT_APPLICABLE"), Decision.REGISTER),
        (node(throughput="NOT_APPLICABLE"), Decision.REGISTER),
        # A provisioned number is never registered for its verification status
        (node(verification="NOT_VERIFIED"), Decision.ALREADY_PROVISIONED),
        (node(verification="EXPIRED"), Decision.ALREADY_PROVISIONED),
        (node(verification="UNVERIFIED"), Decision.ALREADY_PROVISIONED),
        (node(platform="NOT_APPLICABLE", verification="EXPIRED"), Decision.REGISTER),
        # name in review -> wait, no register call spent
        (node(platform="NOT_APPLICABLE", name="PENDING_REVIEW"), Decision.WAIT_FOR_DISPLAY_NAME),
        (node(throughput="NOT_APPLICABLE", name="PENDING_REVIEW"), Decision.WAIT_FOR_DISPLAY_NAME),
        # declined -> needs attention
        (node(platform="NOT_APPLICABLE", name="DECLINED"), Decision.DISPLAY_NAME_DECLINED),
        # otherwise register (incl. AVAILABLE_WITHOUT_REVIEW, unknown name states)
        (node(platform="NOT_APPLICABLE", name="AVAILABLE_WITHOUT_REVIEW"), Decision.REGISTER),
        (node(platform="NOT_APPLICABLE", name="SOME_FUTURE_STATE"), Decision.REGISTER),
        # provisioned numbers are never registered again, whatever the name says
        (node(name="PENDING_REVIEW"), Decision.ALREADY_PROVISIONED),
    ],
)
def test_decision_table(health: PhoneHealth, decision: Decision) -> None:
    assert decide(health) is decision


def test_pending_is_provisioning_pending() -> None:
    assert node(throughput="NOT_APPLICABLE").provisioning is Provisioning.PENDING
    assert node().provisioning is Provisioning.PROVISIONED


@pytest.mark.parametrize(
    ("raw", "action", "state", "reason"),
    [
        (
            g.DISPLAY_NAME_NOT_READY,
            Action.BACKOFF,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.REGISTER_LIMIT,
            Action.BLOCKED,
            RegistrationState.BLOCKED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.PIN_MISMATCH,
            Action.NEEDS_ATTENTION,
            RegistrationState.NEEDS_ATTENTION,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.PIN_TOO_MANY_GUESSES,
            Action.BACKOFF,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.PIN_GUESSED_TOO_FAST,
            Action.BACKOFF,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.TOKEN_EXPIRED,
            Action.REAUTHORIZE,
            RegistrationState.REAUTHORIZATION_REQUIRED,
            ReauthorizationReason.TOKEN_INVALID,
        ),
        (
            g.NOT_SUPPORTED,
            Action.REAUTHORIZE,
            RegistrationState.REAUTHORIZATION_REQUIRED,
            ReauthorizationReason.PERMISSION_REVOKED,
        ),
        (
            g.NO_PERMISSION_TO_REGISTER,
            Action.REAUTHORIZE,
            RegistrationState.REAUTHORIZATION_REQUIRED,
            ReauthorizationReason.PERMISSION_REVOKED,
        ),
        (
            g.APP_RATE_LIMIT,
            Action.RETRY_TASK,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.USER_RATE_LIMIT,
            Action.RETRY_TASK,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.PAGE_RATE_LIMIT,
            Action.RETRY_TASK,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.CUSTOM_RATE_LIMIT,
            Action.RETRY_TASK,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.WABA_RATE_LIMIT,
            Action.RETRY_TASK,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.THROUGHPUT_LIMIT,
            Action.RETRY_TASK,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
        (
            g.UNKNOWN_TRANSIENT,
            Action.RETRY_TASK,
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        ),
    ],
)
def test_outcome_table(
    raw: str, action: Action, state: RegistrationState, reason: ReauthorizationReason
) -> None:
    outcome = outcome_of(GraphApiError.from_response(400, g.load(raw)))
    assert (outcome.action, outcome.state, outcome.reauthorization) == (action, state, reason)


def test_outcome_of_http_5xx_is_transient_and_a_lost_answer_reconciles() -> None:
    assert outcome_of(GraphApiError.from_response(503, None)).action is Action.RETRY_TASK
    lost = outcome_of(GraphApiError.transport("timed out"))
    assert (lost.action, lost.state, lost.wait) == (
        Action.RECONCILE,
        RegistrationState.SCHEDULED,
        ANSWER_LOST_WAIT,
    )
    assert lost is ANSWER_LOST


S = RegistrationState
A = Action
AT = Attention
INCOMPLETE = ReauthorizationReason.REGISTRATION_INCOMPLETE

#: The outcome table, one row per Graph error body: (status, body, action, state,
#: reason, attention, next attempt after NOW (None: no automatic retry), counts as a failure).
FULL_TABLE = [
    (400, g.DISPLAY_NAME_NOT_READY, A.BACKOFF, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (400, g.REGISTER_TOO_SOON, A.BACKOFF, S.SCHEDULED, INCOMPLETE, None, timedelta(minutes=5), False),
    (400, g.REGISTER_LIMIT, A.BLOCKED, S.BLOCKED, INCOMPLETE, None, timedelta(hours=72), True),
    (
        400,
        g.PIN_TOO_MANY_GUESSES_WITH_WAIT,
        A.BACKOFF,
        S.SCHEDULED,
        INCOMPLETE,
        None,
        timedelta(hours=1),
        True,
    ),
    (
        400,
        g.PIN_GUESSED_TOO_FAST_WITH_WAIT,
        A.BACKOFF,
        S.SCHEDULED,
        INCOMPLETE,
        None,
        timedelta(seconds=30),
        True,
    ),
    (400, g.PIN_TOO_MANY_GUESSES, A.BACKOFF, S.SCHEDULED, INCOMPLETE, None, timedelta(hours=1), True),
    (400, g.PIN_MISMATCH, A.NEEDS_ATTENTION, S.NEEDS_ATTENTION, INCOMPLETE, AT.PIN_MISMATCH, None, True),
    (
        400,
        g.NEEDS_REVERIFICATION,
        A.NEEDS_ATTENTION,
        S.NEEDS_ATTENTION,
        INCOMPLETE,
        AT.NEEDS_REVERIFICATION,
        None,
        True,
    ),
    (403, g.ACCOUNT_LOCKED, A.NEEDS_ATTENTION, S.NEEDS_ATTENTION, INCOMPLETE, AT.ACCOUNT_LOCKED, None, True),
    (
        401,
        g.TOKEN_EXPIRED,
        A.REAUTHORIZE,
        S.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.TOKEN_INVALID,
        None,
        None,
        True,
    ),
    (
        400,
        g.NOT_SUPPORTED,
        A.REAUTHORIZE,
        S.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.PERMISSION_REVOKED,
        None,
        None,
        True,
    ),
    (
        403,
        g.NO_PERMISSION_TO_REGISTER,
        A.REAUTHORIZE,
        S.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.PERMISSION_REVOKED,
        None,
        None,
        True,
    ),
    (400, g.APP_RATE_LIMIT, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (400, g.USER_RATE_LIMIT, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (400, g.PAGE_RATE_LIMIT, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (400, g.CUSTOM_RATE_LIMIT, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (429, g.WABA_RATE_LIMIT, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (400, g.THROUGHPUT_LIMIT, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (400, g.SOMETHING_WENT_WRONG, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (503, g.SERVICE_UNAVAILABLE, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (500, g.UNKNOWN_TRANSIENT, A.RETRY_TASK, S.SCHEDULED, INCOMPLETE, None, "backoff", True),
    (400, g.INVALID_PARAMETER, A.NEEDS_ATTENTION, S.NEEDS_ATTENTION, INCOMPLETE, AT.GRAPH_ERROR, None, True),
    (
        400,
        g.PARAMETER_VALUE_INVALID,
        A.NEEDS_ATTENTION,
        S.NEEDS_ATTENTION,
        INCOMPLETE,
        AT.GRAPH_ERROR,
        None,
        True,
    ),
    (400, g.NOT_REGISTERED, A.NEEDS_ATTENTION, S.NEEDS_ATTENTION, INCOMPLETE, AT.GRAPH_ERROR, None, True),
]


@pytest.mark.parametrize(
    ("status", "raw", "action", "state", "reason", "attention", "after", "streak"),
    FULL_TABLE,
    ids=[f"{row[0]}-{g.load(row[1])['error']['code']}-{i}" for i, row in enumerate(FULL_TABLE)],
)
def test_full_outcome_table(status, raw, action, state, reason, attention, after, streak) -> None:
    error = GraphApiError.from_response(status, g.load(raw), operation="register")
    outcome = outcome_of(error)
    assert (outcome.action, outcome.state, outcome.reauthorization) == (action, state, reason)
    assert outcome.attention is attention and outcome.streak is streak
    assert (outcome.advice is not None) is (attention is not None)
    due = next_attempt_at(
        outcome, now=NOW, failures_in_a_row=1, attempt_times=[NOW], rng=random.Random(3), wait=error.wait
    )
    if after is None:
        assert due is None
    elif after == "backoff":
        assert timedelta(minutes=13.5) <= due - NOW <= timedelta(minutes=16.5)
    else:
        assert due - NOW == after


def test_every_error_kind_has_an_outcome_and_every_attention_an_action() -> None:
    assert set(OUTCOME_BY_KIND) == set(ErrorKind)
    assert set(ATTENTION_ACTIONS) == set(Attention)
    assert all(text.strip() for text in ATTENTION_ACTIONS.values())


def test_success_is_registered_and_clears_reauthorization() -> None:
    outcome = outcome_of(None)
    assert (outcome.action, outcome.state, outcome.reauthorization) == (
        Action.DONE,
        RegistrationState.REGISTERED,
        None,
    )


def test_outcome_of_decisions_without_a_call() -> None:
    assert outcome_of_decision(Decision.ALREADY_PROVISIONED).state is RegistrationState.REGISTERED
    assert outcome_of_decision(Decision.ON_BUSINESS_APP).state is RegistrationState.REGISTERED
    assert outcome_of_decision(Decision.WAIT_FOR_DISPLAY_NAME).state is RegistrationState.SCHEDULED
    assert outcome_of_decision(Decision.DISPLAY_NAME_DECLINED).state is RegistrationState.NEEDS_ATTENTION
    assert outcome_of_decision(Decision.DISPLAY_NAME_DECLINED).attention is Attention.DISPLAY_NAME_DECLINED
    with pytest.raises(ValueError, match="sends a register call"):
        outcome_of_decision(Decision.REGISTER)


@pytest.mark.parametrize(
    ("n", "minutes"),
    [(1, 15), (2, 30), (3, 60), (4, 120), (5, 240), (6, 480), (7, 720), (8, 720), (40, 720)],
)
def test_backoff_schedule_with_jitter(n: int, minutes: int) -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, rng) for _ in range(200)]
    assert all(timedelta(minutes=minutes * 0.9) <= d <= timedelta(minutes=minutes * 1.1) for d in delays)
    assert len(set(delays)) > 1  # jitter spreads retries of many numbers apart


def test_backoff_rejects_zero_failures() -> None:
    with pytest.raises(ValueError, match="failures_in_a_row"):
        backoff_delay(0)


def test_budget_counts_rolling_72h() -> None:
    attempts = [NOW - timedelta(hours=h) for h in (1, 2, 3, 10, 20, 30, 40, 71)]
    assert budget_left(attempts, NOW) == 0
    assert budget_left([*attempts[:-1], NOW - timedelta(hours=73)], NOW) == 1
    assert window_reopens_at(attempts, NOW) == NOW - timedelta(hours=71) + timedelta(hours=72)
    assert REGISTER_BUDGET == 8


def test_next_attempt_respects_budget_and_block() -> None:
    attempts = [NOW - timedelta(hours=h) for h in (1, 2, 3, 10, 20, 30, 40, 71)]
    retry = outcome_of(GraphApiError.from_response(400, g.load(g.DISPLAY_NAME_NOT_READY)))
    due = next_attempt_at(retry, now=NOW, failures_in_a_row=1, attempt_times=attempts)
    assert due == NOW + timedelta(hours=1)  # the oldest attempt leaves the window later than 15 min
    blocked = outcome_of(GraphApiError.from_response(400, g.load(g.REGISTER_LIMIT)))
    assert next_attempt_at(blocked, now=NOW, failures_in_a_row=3, attempt_times=attempts[:3]) == (
        NOW - timedelta(hours=3) + timedelta(hours=72)
    )
    fresh = next_attempt_at(retry, now=NOW, failures_in_a_row=2, attempt_times=[NOW], rng=random.Random(1))
    assert timedelta(minutes=27) <= fresh - NOW <= timedelta(minutes=33)
    for final in (g.PIN_MISMATCH, g.TOKEN_EXPIRED, g.NOT_SUPPORTED):
        assert (
            next_attempt_at(
                outcome_of(GraphApiError.from_response(400, g.load(final))),
                now=NOW,
                failures_in_a_row=1,
                attempt_times=[],
            )
            is None
        )


def test_pin_is_six_digits_and_random() -> None:
    pins = {generate_pin() for _ in range(50)}
    assert all(len(p) == 6 and p.isdigit() for p in pins)
    assert len(pins) > 40


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(hours=72), "72 hours"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(days=14), "14 days"),
        (timedelta(days=30), "30 days"),
        (timedelta(days=7, hours=12), "180 hours"),
    ],
)
def test_span_words(span: timedelta, words: str) -> None:
    assert span_words(span) == words


def test_metas_limits_are_worded_from_their_numbers() -> None:
    """The sentences people read name each limit as the constants hold it (Meta's pages say the same)."""
    assert (str(REGISTER_ALLOWANCE), str(DEREGISTER_ALLOWANCE)) == ("10 per 72 hours", "10 per 72 hours")
    assert str(NAME_CHANGE_ALLOWANCE) == "10 per 30 days" and span_words(NAME_CHANGE_WINDOW) == "14 days"
    assert REGISTER_ALLOWANCE.budget_words == "8 of Meta's 10 per 72 hours"
    assert "within 14 days of approval" in ATTENTION_ACTIONS[Attention.NAME_CHANGE_LAPSED]
