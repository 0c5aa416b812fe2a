"""When to call ``POST /{phone_number_id}/register``, and what a register outcome means.

One decision function and one outcome table (docs/states-and-situations.md), shared by
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


def span_words(span: timedelta) -> str:
    """A window as Meta words it: ``72 hours``, ``14 days`` (whole days from a week up, else hours)."""
    if span >= timedelta(days=7) and span % timedelta(days=1) == timedelta(0):
        count, unit = span.days, "day"
    else:
        count, unit = span // timedelta(hours=1), "hour"
    return f"{count} {unit}{'' if count == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class CallAllowance:
    """A per-number allowance Meta keeps on one kind of call, and how much of it the provider spends.

    ``allowed`` calls per rolling ``window`` (Meta's number); ``budget``: at most this many are ours.
    Sentences that name a limit are built from these (``str()`` gives "10 per 72 hours"), so each
    number is written once.
    """

    allowed: int
    window: timedelta
    budget: int

    def __str__(self) -> str:
        return f"{self.allowed} per {span_words(self.window)}"

    @property
    def budget_words(self) -> str:
        """What the provider allows itself, in words: "8 of Meta's 10 per 72 hours"."""
        return f"{self.budget} of Meta's {self}"


#: Register calls per number; we leave some of Meta's allowance to a person working in WhatsApp
#: Manager
#: (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/registration/).
REGISTER_ALLOWANCE = CallAllowance(allowed=10, window=timedelta(hours=72), budget=8)
REGISTER_WINDOW = REGISTER_ALLOWANCE.window
REGISTER_BUDGET = REGISTER_ALLOWANCE.budget
#: Display-name changes per number, all ours to spend (a person asks for each one)
#: (https://developers.facebook.com/documentation/business-messaging/whatsapp/display-names/).
NAME_CHANGE_ALLOWANCE = CallAllowance(allowed=10, window=timedelta(days=30), budget=10)
NAME_CHANGE_LIMIT_WINDOW = NAME_CHANGE_ALLOWANCE.window
NAME_CHANGE_BUDGET = NAME_CHANGE_ALLOWANCE.budget
#: Deregistration: Meta answers 133016 for too many register or deregister calls alike, so the
#: provider spends it as it spends /register
#: (https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/deregister).
DEREGISTER_ALLOWANCE = CallAllowance(allowed=10, window=timedelta(hours=72), budget=8)
DEREGISTER_WINDOW = DEREGISTER_ALLOWANCE.window
DEREGISTER_BUDGET = DEREGISTER_ALLOWANCE.budget
#: Deregistering a number that is not on Cloud API (never registered, or deregistered already)
#: answers 133010 "Account not registered": the call's purpose is met
#: (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/).
DEREGISTER_DONE_CODES = frozenset({133010})
BACKOFF_BASE = timedelta(minutes=15)
BACKOFF_CAP = timedelta(hours=12)
BACKOFF_JITTER = 0.10


class Decision(StrEnum):
    ALREADY_PROVISIONED = "already_provisioned"
    WAIT_FOR_DISPLAY_NAME = "wait_for_display_name"
    DISPLAY_NAME_DECLINED = "display_name_declined"
    REGISTER = "register"
    #: A live number whose display-name change Meta approved: it must register again.
    REGISTER_NEW_NAME = "register_new_name"
    #: A WhatsApp Business app number: the app registered it; Meta takes no /register for it.
    ON_BUSINESS_APP = "on_business_app"


#: The decisions that send ``POST /{phone_number_id}/register``.
REGISTER_DECISIONS = frozenset({Decision.REGISTER, Decision.REGISTER_NEW_NAME})
#: Meta: after a display-name change is approved the number must register again within this window,
#: or the change lapses (https://developers.facebook.com/documentation/business-messaging/whatsapp/display-names/).
NAME_CHANGE_WINDOW = timedelta(days=14)
#: ``new_name_status`` values Meta (and the simulator) report for a display-name change.
NEW_NAME_APPROVED = "APPROVED"
NEW_NAME_EXPIRED = "EXPIRED"


class NameChange(StrEnum):
    """Where a live number's display-name change stands; stored on the channel with its deadline."""

    REQUESTED = "requested"  # sent to Meta, or Meta shows it in review
    APPROVED = "approved"  # approved: register again before the deadline (approval + NAME_CHANGE_WINDOW)
    LAPSED = "lapsed"  # not registered before the deadline: the change is void, ask again
    DECLINED = "declined"  # Meta declined the new name: the number keeps its current one


def decide(health: PhoneHealth) -> Decision:
    """The registration decision (docs/states-and-situations.md), on a freshly fetched health snapshot.

    Only a pending number is registered (:attr:`PhoneHealth.needs_registration`); a provisioned
    one never is because of its ``code_verification_status``. A WhatsApp Business app number
    never is at all: Meta says to "skip the phone number registration step, as the number is
    already registered" (https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users),
    a display-name change included.
    """
    if health.is_on_biz_app:
        return Decision.ON_BUSINESS_APP
    if not health.needs_registration:
        # The one exception: an approved display-name change takes effect only with a new
        # register call. The deadline is the registration machine's to check.
        if health.new_name_status == NEW_NAME_APPROVED:
            return Decision.REGISTER_NEW_NAME
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
    BLOCKED = "blocked"  # Meta's register limit hit (133016): wait for the window
    NEEDS_ATTENTION = "needs_attention"  # a person must act; no automatic retry
    REAUTHORIZE = "reauthorize"  # the customer must redo Embedded Signup
    RETRY_TASK = "retry_task"  # transient: Airflow task retries, then domain backoff
    RECONCILE = "reconcile"  # the answer was lost: counts as sent, Meta's health decides next


class Attention(StrEnum):
    """Why a person must act, one per situation the page shows a banner for."""

    DISPLAY_NAME_DECLINED = "display_name_declined"
    PIN_MISMATCH = "pin_mismatch"
    NEEDS_REVERIFICATION = "needs_reverification"
    ACCOUNT_LOCKED = "account_locked"
    GRAPH_ERROR = "graph_error"  # invalid or unknown: Graph's message is kept with the attempt
    NAME_CHANGE_LAPSED = "name_change_lapsed"  # approved, not registered before the deadline
    NAME_CHANGE_DECLINED = "name_change_declined"  # Meta declined a live number's new name
    ACCOUNT_EVENT = "account_event"  # Meta's account_update: a violation, restriction, ban or deletion


#: What the person does about each situation (shown with the attempt, and on the page).
ATTENTION_ACTIONS: dict[Attention, str] = {
    Attention.DISPLAY_NAME_DECLINED: (
        "Meta declined the display name: edit it in WhatsApp Manager, then complete registration"
    ),
    Attention.PIN_MISMATCH: (
        "the number already has another two-step verification PIN: reset the PIN in WhatsApp Manager "
        "(turn two-step verification off), then complete registration"
    ),
    Attention.NEEDS_REVERIFICATION: (
        "Meta wants the phone number verified again: verify it with a code (SMS or voice) in "
        "WhatsApp Manager, then complete registration"
    ),
    Attention.ACCOUNT_LOCKED: (
        "the WhatsApp Business Account is locked or restricted: see Account quality in Meta Business "
        "Suite, then complete registration"
    ),
    # Worded without "Meta refused the register call": every text that shows it says so already.
    Attention.GRAPH_ERROR: "read Meta's message, fix the cause, then retry",
    Attention.NAME_CHANGE_LAPSED: (
        "the approved display-name change lapsed (not registered within "
        f"{span_words(NAME_CHANGE_WINDOW)} of approval): the number keeps its old name; request the "
        "new name again (whatsapp_change_display_name)"
    ),
    Attention.NAME_CHANGE_DECLINED: (
        "Meta declined the new display name: the number keeps its current name; follow Meta's display "
        "name guidelines and request another name (whatsapp_change_display_name)"
    ),
    Attention.ACCOUNT_EVENT: (
        "Meta reported a violation, restriction, ban or deletion of the WhatsApp Business Account: see "
        "Account quality in Meta Business Suite, then complete registration"
    ),
}

#: 133015 ("wait a few minutes"): the simulator and Meta's error page say 5 minutes.
REGISTER_TOO_SOON_WAIT = timedelta(minutes=5)
#: 133008/133009 when ``error_data.details`` names no wait.
PIN_LOCK_DEFAULT_WAIT = timedelta(hours=1)
#: A register call whose answer was lost: the next attempt waits this long and reads health first.
ANSWER_LOST_WAIT = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One row of the outcome table.

    ``wait`` replaces the exponential backoff by a fixed delay (a wait Meta names in the error's
    ``details`` wins over it); ``streak`` says whether the answer counts toward ``failures_in_a_row``.
    """

    action: Action
    state: RegistrationState
    reauthorization: ReauthorizationReason | None = None
    attention: Attention | None = None
    wait: timedelta | None = None
    streak: bool = True

    @property
    def advice(self) -> str | None:
        """What a person does, for outcomes that need one."""
        return None if self.attention is None else ATTENTION_ACTIONS[self.attention]


_INCOMPLETE = ReauthorizationReason.REGISTRATION_INCOMPLETE


def _attention(attention: Attention) -> Outcome:
    return Outcome(
        Action.NEEDS_ATTENTION, RegistrationState.NEEDS_ATTENTION, _INCOMPLETE, attention=attention
    )


_RETRY_TASK = Outcome(Action.RETRY_TASK, RegistrationState.SCHEDULED, _INCOMPLETE)

#: The outcome table (docs/states-and-situations.md), by error kind (the kinds come from
#: ``errors.py``'s code table).
OUTCOME_BY_KIND: dict[ErrorKind, Outcome] = {
    ErrorKind.DISPLAY_NAME_NOT_READY: Outcome(Action.BACKOFF, RegistrationState.SCHEDULED, _INCOMPLETE),
    ErrorKind.REGISTER_TOO_SOON: Outcome(
        Action.BACKOFF, RegistrationState.SCHEDULED, _INCOMPLETE, wait=REGISTER_TOO_SOON_WAIT, streak=False
    ),
    ErrorKind.REGISTER_LIMIT: Outcome(Action.BLOCKED, RegistrationState.BLOCKED, _INCOMPLETE),
    ErrorKind.PIN_LOCKED: Outcome(
        Action.BACKOFF, RegistrationState.SCHEDULED, _INCOMPLETE, wait=PIN_LOCK_DEFAULT_WAIT
    ),
    ErrorKind.PIN_PROBLEM: _attention(Attention.PIN_MISMATCH),
    ErrorKind.NEEDS_REVERIFICATION: _attention(Attention.NEEDS_REVERIFICATION),
    ErrorKind.ACCOUNT_LOCKED: _attention(Attention.ACCOUNT_LOCKED),
    ErrorKind.TOKEN_INVALID: Outcome(
        Action.REAUTHORIZE, RegistrationState.REAUTHORIZATION_REQUIRED, ReauthorizationReason.TOKEN_INVALID
    ),
    ErrorKind.PERMISSION: Outcome(
        Action.REAUTHORIZE,
        RegistrationState.REAUTHORIZATION_REQUIRED,
        ReauthorizationReason.PERMISSION_REVOKED,
    ),
    ErrorKind.THROTTLED: _RETRY_TASK,
    ErrorKind.TRANSIENT: _RETRY_TASK,
    ErrorKind.INVALID_REQUEST: _attention(Attention.GRAPH_ERROR),
    ErrorKind.UNKNOWN: _attention(Attention.GRAPH_ERROR),
}
REGISTERED = Outcome(Action.DONE, RegistrationState.REGISTERED, None)
#: An approved name change whose deadline passed: no register call, the number stays live.
NAME_CHANGE_LAPSED = Outcome(
    Action.DONE, RegistrationState.REGISTERED, None, attention=Attention.NAME_CHANGE_LAPSED
)
#: No answer (timeout, connection lost, worker killed): the call counts as sent.
ANSWER_LOST = Outcome(Action.RECONCILE, RegistrationState.SCHEDULED, _INCOMPLETE, wait=ANSWER_LOST_WAIT)


#: Errors of any Graph call (not only ``/register``) that only the customer can fix.
REAUTHORIZATION_BY_KIND: dict[ErrorKind, ReauthorizationReason] = {
    ErrorKind.TOKEN_INVALID: ReauthorizationReason.TOKEN_INVALID,
    ErrorKind.PERMISSION: ReauthorizationReason.PERMISSION_REVOKED,
}


def reauthorization_for(kind: ErrorKind) -> ReauthorizationReason | None:
    """The reauthorization a failed Graph call calls for, if the customer must redo the signup."""
    return REAUTHORIZATION_BY_KIND.get(kind)


def outcome_of_kind(kind: ErrorKind | None, *, answered: bool = True) -> Outcome:
    """The outcome table by error kind: ``None`` means the register call succeeded.

    ``answered=False``: no answer came back (the kind is then only how the loss surfaced).
    """
    if not answered:
        return ANSWER_LOST
    if kind is None:
        return REGISTERED
    return OUTCOME_BY_KIND[kind]


def outcome_of(error: GraphApiError | None) -> Outcome:
    """The outcome of a register call's answer (``None``: it succeeded)."""
    if error is None:
        return REGISTERED
    return outcome_of_kind(error.kind, answered=error.answered)


def outcome_of_decision(decision: Decision) -> Outcome:
    """Where a channel stands when the decision sends no register call.

    A name still in review hands the channel to the fleet DAG (``scheduled``): it re-reads
    health when the retry is due and registers only once the review is over.
    """
    if decision in (Decision.ALREADY_PROVISIONED, Decision.ON_BUSINESS_APP):
        return REGISTERED
    if decision is Decision.WAIT_FOR_DISPLAY_NAME:
        return Outcome(Action.BACKOFF, RegistrationState.SCHEDULED, _INCOMPLETE)
    if decision is Decision.DISPLAY_NAME_DECLINED:
        return _attention(Attention.DISPLAY_NAME_DECLINED)
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
    """The register calls that still count against the rolling ``REGISTER_WINDOW``, oldest first."""
    since = now - REGISTER_WINDOW
    return sorted(t for t in attempt_times if t > since)


def budget_left(attempt_times: Iterable[datetime], now: datetime, budget: int = REGISTER_BUDGET) -> int:
    return max(0, budget - len(attempts_in_window(attempt_times, now)))


def window_reopens_at(attempt_times: Sequence[datetime], now: datetime) -> datetime | None:
    """``REGISTER_WINDOW`` after the oldest attempt in it: when one more call may be spent."""
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
    wait: timedelta | None = None,
) -> datetime | None:
    """When the fleet DAG may try again, honouring backoff, Meta's block and our budget.

    ``wait``: the time Meta named in the error (``error_data.details``); it replaces the fixed
    wait of the rows that have one (133008/133009, 133015) and is ignored by the others.
    """
    if outcome.action in (Action.DONE, Action.NEEDS_ATTENTION, Action.REAUTHORIZE):
        return None
    if outcome.action is Action.BLOCKED:
        return window_reopens_at(attempt_times, now) or now + REGISTER_WINDOW
    if outcome.wait is not None:
        due = now + (wait or outcome.wait)
    else:
        due = now + backoff_delay(max(1, failures_in_a_row), rng)
    if budget_left(attempt_times, now, budget) == 0:
        reopens = window_reopens_at(attempt_times, now)
        if reopens is not None:
            due = max(due, reopens)
    return due


def generate_pin() -> str:
    """A 6-digit two-step verification PIN, from a CSPRNG (generated once per channel)."""
    return f"{secrets.randbelow(10**6):06d}"
