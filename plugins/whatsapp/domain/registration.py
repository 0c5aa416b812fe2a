"""When to call ``POST /{phone_number_id}/register``, and what a register outcome means.

One decision function and one outcome table (SPEC.md, "Registration decision"), shared by
the onboarding DAG, the fleet DAG, the manual register DAG and the health API.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from whatsapp.domain.health import NAME_DECLINED, NAME_IN_REVIEW, PhoneHealth
from whatsapp.errors import ErrorKind, GraphApiError

#: Meta allows 10 register calls per number per rolling 72 h; we spend at most 8, so two
#: always stay for a person working in WhatsApp Manager.
REGISTER_WINDOW = timedelta(hours=72)
REGISTER_BUDGET = 8
BACKOFF_BASE = timedelta(minutes=15)
BACKOFF_CAP = timedelta(hours=12)
BACKOFF_JITTER = 0.10


class Decision(StrEnum):
    ALREADY_PROVISIONED = "already_provisioned"
    WAIT_FOR_DISPLAY_NAME = "wait_for_display_name"
    DISPLAY_NAME_DECLINED = "display_name_declined"
    REGISTER = "register"


def decide(health: PhoneHealth) -> Decision:
    """The registration decision of SPEC.md, on a freshly fetched health snapshot."""
    if not health.needs_registration:
        return Decision.ALREADY_PROVISIONED
    if health.name_status == NAME_IN_REVIEW:
        return Decision.WAIT_FOR_DISPLAY_NAME
    if health.name_status == NAME_DECLINED:
        return Decision.DISPLAY_NAME_DECLINED
    return Decision.REGISTER


class RegistrationState(StrEnum):
    """Where a channel's registration stands; stored on the channel."""

    UNKNOWN = "unknown"
    AWAITING_DISPLAY_NAME = "awaiting_display_name"
    SCHEDULED = "scheduled"
    BLOCKED = "blocked"
    NEEDS_ATTENTION = "needs_attention"
    REAUTHORIZATION_REQUIRED = "reauthorization_required"
    REGISTERED = "registered"


class ReauthorizationReason(StrEnum):
    REGISTRATION_INCOMPLETE = "registration_incomplete"
    TOKEN_INVALID = "token_invalid"
    PERMISSION_REVOKED = "permission_revoked"


class Action(StrEnum):
    """What follows a register call."""

    DONE = "done"
    BACKOFF = "backoff"  # domain retry later (next_attempt_at)
    BLOCKED = "blocked"  # Meta's 72 h limit hit: wait for the window
    NEEDS_ATTENTION = "needs_attention"  # a person must act; no automatic retry
    REAUTHORIZE = "reauthorize"  # the customer must redo Embedded Signup
    RETRY_TASK = "retry_task"  # transient: Airflow task retries, then domain backoff


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    state: RegistrationState
    reauthorization: ReauthorizationReason | None = None


_OUTCOME_BY_KIND: dict[ErrorKind, Outcome] = {
    ErrorKind.DISPLAY_NAME_NOT_READY: Outcome(
        Action.BACKOFF, RegistrationState.SCHEDULED, ReauthorizationReason.REGISTRATION_INCOMPLETE
    ),
    ErrorKind.REGISTER_LIMIT: Outcome(
        Action.BLOCKED, RegistrationState.BLOCKED, ReauthorizationReason.REGISTRATION_INCOMPLETE
    ),
    ErrorKind.PIN_PROBLEM: Outcome(
        Action.NEEDS_ATTENTION,
        RegistrationState.NEEDS_ATTENTION,
        ReauthorizationReason.REGISTRATION_INCOMPLETE,
    ),
    ErrorKind.TOKEN_INVALID: Outcome(
        Action.REAUTHORIZE, RegistrationState.REAUTHORIZATION_REQUIRED, ReauthorizationReason.TOKEN_INVALID
    ),
    ErrorKind.PERMISSION: Outcome(
        Action.REAUTHORIZE,
        RegistrationState.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.PERMISSION_REVOKED,
    ),
    ErrorKind.THROTTLED: Outcome(
        Action.RETRY_TASK, RegistrationState.SCHEDULED, ReauthorizationReason.REGISTRATION_INCOMPLETE
    ),
    ErrorKind.TRANSIENT: Outcome(
        Action.RETRY_TASK, RegistrationState.SCHEDULED, ReauthorizationReason.REGISTRATION_INCOMPLETE
    ),
    ErrorKind.INVALID_REQUEST: Outcome(
        Action.NEEDS_ATTENTION,
        RegistrationState.NEEDS_ATTENTION,
        ReauthorizationReason.REGISTRATION_INCOMPLETE,
    ),
    ErrorKind.UNKNOWN: Outcome(
        Action.NEEDS_ATTENTION,
        RegistrationState.NEEDS_ATTENTION,
        ReauthorizationReason.REGISTRATION_INCOMPLETE,
    ),
}
REGISTERED = Outcome(Action.DONE, RegistrationState.REGISTERED, None)


#: Errors of any Graph call (not only ``/register``) that only the customer can fix.
REAUTHORIZATION_BY_KIND: dict[ErrorKind, ReauthorizationReason] = {
    ErrorKind.TOKEN_INVALID: ReauthorizationReason.TOKEN_INVALID,
    ErrorKind.PERMISSION: ReauthorizationReason.PERMISSION_REVOKED,
}


def reauthorization_for(kind: ErrorKind) -> ReauthorizationReason | None:
    """The reauthorization a failed Graph call calls for, if the customer must redo the signup."""
    return REAUTHORIZATION_BY_KIND.get(kind)


def outcome_of_kind(kind: ErrorKind | None) -> Outcome:
    """The outcome table of SPEC.md by error kind: ``None`` means the register call succeeded."""
    if kind is None:
        return REGISTERED
    return _OUTCOME_BY_KIND[kind]


def outcome_of(error: GraphApiError | None) -> Outcome:
    """The outcome of a register call's answer (``None``: it succeeded)."""
    return outcome_of_kind(None if error is None else error.kind)


def outcome_of_decision(decision: Decision) -> Outcome:
    """Where a channel stands when the decision sends no register call.

    A name still in review hands the channel to the fleet DAG (``scheduled``): it re-reads
    health when the retry is due and registers only once the review is over.
    """
    if decision is Decision.ALREADY_PROVISIONED:
        return REGISTERED
    if decision is Decision.WAIT_FOR_DISPLAY_NAME:
        return Outcome(
            Action.BACKOFF, RegistrationState.SCHEDULED, ReauthorizationReason.REGISTRATION_INCOMPLETE
        )
    if decision is Decision.DISPLAY_NAME_DECLINED:
        return Outcome(
            Action.NEEDS_ATTENTION,
            RegistrationState.NEEDS_ATTENTION,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
        )
    raise ValueError(f"decision {decision} sends a register call; use outcome_of()")


def backoff_delay(failures_in_a_row: int, rng: random.Random | None = None) -> timedelta:
    """min(15 min x 2^(n-1), 12 h), +/- 10 % jitter, for the n-th failure in a row (n >= 1)."""
    if failures_in_a_row < 1:
        raise ValueError("failures_in_a_row must be >= 1")
    exponent = min(failures_in_a_row - 1, 16)  # 2^16 x 15 min is far past the cap
    base = min(BACKOFF_BASE * (2**exponent), BACKOFF_CAP)
    jitter = (rng or random).uniform(-BACKOFF_JITTER, BACKOFF_JITTER)
    return base * (1 + jitter)


def attempts_in_window(attempt_times: Iterable[datetime], now: datetime) -> list[datetime]:
    """The register calls that still count against the rolling 72 h window, oldest first."""
    since = now - REGISTER_WINDOW
    return sorted(t for t in attempt_times if t > since)


def budget_left(attempt_times: Iterable[datetime], now: datetime, budget: int = REGISTER_BUDGET) -> int:
    return max(0, budget - len(attempts_in_window(attempt_times, now)))


def window_reopens_at(attempt_times: Sequence[datetime], now: datetime) -> datetime | None:
    """72 h after the oldest attempt in the window: when one more call may be spent."""
    recent = attempts_in_window(attempt_times, now)
    return recent[0] + REGISTER_WINDOW if recent else None


def next_attempt_at(
    outcome: Outcome,
    *,
    now: datetime,
    failures_in_a_row: int,
    attempt_times: Sequence[datetime],
    budget: int = REGISTER_BUDGET,
    rng: random.Random | None = None,
) -> datetime | None:
    """When the fleet DAG may try again, honouring backoff, Meta's block and our budget."""
    if outcome.action in (Action.DONE, Action.NEEDS_ATTENTION, Action.REAUTHORIZE):
        return None
    if outcome.action is Action.BLOCKED:
        return window_reopens_at(attempt_times, now) or now + REGISTER_WINDOW
    due = now + backoff_delay(max(1, failures_in_a_row), rng)
    if budget_left(attempt_times, now, budget) == 0:
        reopens = window_reopens_at(attempt_times, now)
        if reopens is not None:
            due = max(due, reopens)
    return due


def generate_pin() -> str:
    """A 6-digit two-step verification PIN, from a CSPRNG (generated once per channel)."""
    return f"{secrets.randbelow(10**6):06d}"
