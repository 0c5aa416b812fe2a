"""A channel's *situation*: the one problem (or none) a person sees first, with what to do about it.

The page shows one banner per situation, the fleet table one problem cell, the counts one badge
per kind; all of them come from :func:`situation_kind` (which kind) and :func:`situation` (the
words, times and action), so the page keeps no rule of its own.

The kind depends only on a few discrete stored facts (:class:`SituationFacts`) and is decided
by one table, :data:`SITUATION_RULES` (first match wins; the order is the precedence: what only
the customer can fix, then what a person must fix, then Meta's limits and automatic retries,
then name changes and reads, then "healthy"). The store groups the fleet by the facts' columns
and asks :func:`situation_kind` about each distinct combination for the counts, and compiles
the same rules into SQL for the fleet's "needs action first" sort and its ``situation`` filter
(:data:`SORT_RANK`: one rank per kind, those that need action first), so the rule lives here only.

Wording is reused, never copied: what a person does about an :class:`Attention` is
``ATTENTION_ACTIONS``; the account events come from :mod:`whatsapp.domain.lifecycle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from whatsapp.domain.health import NAME_DECLINED, NAME_IN_REVIEW
from whatsapp.domain.registration import (
    ATTENTION_ACTIONS,
    NAME_CHANGE_WINDOW,
    REGISTER_BUDGET,
    Action,
    Attention,
    NameChange,
    ReauthorizationReason,
    RegistrationState,
    outcome_of_kind,
)
from whatsapp.errors import ErrorKind


class SituationKind(StrEnum):
    """The situations a channel can be in: one banner each."""

    HEALTHY = "healthy"
    NOT_CHECKED = "not_checked"
    NAME_IN_REVIEW = "name_in_review"
    REGISTER_BACKOFF = "register_backoff"
    BLOCKED = "blocked"
    PIN_MISMATCH = "pin_mismatch"
    NEEDS_REVERIFICATION = "needs_reverification"
    NAME_DECLINED = "name_declined"
    TOKEN_INVALID = "token_invalid"
    PERMISSION_REVOKED = "permission_revoked"
    ACCOUNT_EVENT = "account_event"
    ACCOUNT_LOCKED = "account_locked"
    REGISTRATION_PENDING = "registration_pending"
    NAME_CHANGE_IN_REVIEW = "name_change_in_review"
    NAME_CHANGE_DUE = "name_change_due"
    NAME_CHANGE_LAPSED = "name_change_lapsed"
    NAME_CHANGE_DECLINED = "name_change_declined"
    OFFBOARDED = "offboarded"
    GRAPH_ERROR = "graph_error"
    CHECK_FAILED = "check_failed"


class SituationSeverity(StrEnum):
    """How the banner and the problem cell read (the page maps each to a Chakra colour palette)."""

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ActionKind(StrEnum):
    """What the banner's button does."""

    COMPLETE_REGISTRATION = "complete_registration"
    OPEN_WHATSAPP_MANAGER = "open_whatsapp_manager"
    CUSTOMER_REAUTHORIZE = "customer_reauthorize"
    WAIT = "wait"
    CHANGE_DISPLAY_NAME = "change_display_name"
    ONBOARD_AGAIN = "onboard_again"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class SituationAction:
    kind: ActionKind
    label: str


_S = SituationKind
_A = ActionKind
_REGISTER = SituationAction(_A.COMPLETE_REGISTRATION, "Complete registration")
_MANAGER = SituationAction(_A.OPEN_WHATSAPP_MANAGER, "Open in WhatsApp Manager")
_CUSTOMER = SituationAction(_A.CUSTOMER_REAUTHORIZE, "Ask the customer to sign up again")
_WAIT = SituationAction(_A.WAIT, "Wait: the fleet retries by itself")
_RENAME = SituationAction(_A.CHANGE_DISPLAY_NAME, "Request a display name (whatsapp_change_display_name)")


@dataclass(frozen=True, slots=True)
class SituationInfo:
    """What does not depend on the channel: severity, whether a person must act, title, action."""

    severity: SituationSeverity
    needs_action: bool
    title: str
    action: SituationAction


def _info(severity: str, needs_action: bool, title: str, action: SituationAction) -> SituationInfo:
    return SituationInfo(SituationSeverity(severity), needs_action, title, action)


#: Every kind's fixed part; the ``vocabulary`` route serves it, so the page holds no copy.
SITUATIONS: dict[SituationKind, SituationInfo] = {
    _S.HEALTHY: _info("ok", False, "Healthy", SituationAction(_A.NONE, "Nothing to do")),
    _S.NOT_CHECKED: _info(
        "info", False, "Not checked yet", SituationAction(_A.WAIT, "Wait for the first check")
    ),
    _S.NAME_IN_REVIEW: _info("info", False, "Display name in review", _WAIT),
    _S.REGISTER_BACKOFF: _info("warning", False, "Meta refused registration, retrying", _WAIT),
    _S.BLOCKED: _info("warning", False, "Register limit reached", _WAIT),
    _S.PIN_MISMATCH: _info("error", True, "Two-step verification PIN mismatch", _MANAGER),
    _S.NEEDS_REVERIFICATION: _info("error", True, "Phone number must be verified again", _MANAGER),
    _S.NAME_DECLINED: _info("error", True, "Display name declined", _MANAGER),
    _S.TOKEN_INVALID: _info("error", True, "Customer's access token invalid", _CUSTOMER),
    _S.PERMISSION_REVOKED: _info("error", True, "Customer revoked permissions", _CUSTOMER),
    _S.ACCOUNT_EVENT: _info("error", True, "Meta account event", _MANAGER),
    _S.ACCOUNT_LOCKED: _info("error", True, "Business account locked", _MANAGER),
    _S.REGISTRATION_PENDING: _info("info", False, "Registration pending", _REGISTER),
    _S.NAME_CHANGE_IN_REVIEW: _info("info", False, "Name change in review", _WAIT),
    _S.NAME_CHANGE_DUE: _info("warning", False, "Name change approved: re-register", _REGISTER),
    _S.NAME_CHANGE_LAPSED: _info("error", True, "Name change lapsed", _RENAME),
    _S.NAME_CHANGE_DECLINED: _info("error", True, "Name change declined", _RENAME),
    _S.OFFBOARDED: _info(
        "info", False, "Offboarded", SituationAction(_A.ONBOARD_AGAIN, "Onboard again (Embedded Signup)")
    ),
    _S.GRAPH_ERROR: _info("error", True, "Meta refused registration", _REGISTER),
    _S.CHECK_FAILED: _info(
        "warning", False, "Last health check failed", SituationAction(_A.WAIT, "Wait for the next check")
    ),
}
#: The kinds a person (operator or customer) must act on: the ``needs_action`` filter and badge.
NEEDS_ACTION_KINDS = frozenset(kind for kind, info in SITUATIONS.items() if info.needs_action)

#: ``needs_attention`` channels: which kind each attention is (name changes are not attentions
#: of the registration state; they have their own kinds below).
_KIND_OF_ATTENTION: dict[Attention, SituationKind] = {
    Attention.DISPLAY_NAME_DECLINED: _S.NAME_DECLINED,
    Attention.PIN_MISMATCH: _S.PIN_MISMATCH,
    Attention.NEEDS_REVERIFICATION: _S.NEEDS_REVERIFICATION,
    Attention.ACCOUNT_LOCKED: _S.ACCOUNT_LOCKED,
    Attention.ACCOUNT_EVENT: _S.ACCOUNT_EVENT,
    Attention.GRAPH_ERROR: _S.GRAPH_ERROR,
    Attention.NAME_CHANGE_LAPSED: _S.NAME_CHANGE_LAPSED,
    Attention.NAME_CHANGE_DECLINED: _S.NAME_CHANGE_DECLINED,
}
_ATTENTION_OF_KIND = {kind: attention for attention, kind in _KIND_OF_ATTENTION.items()}
_KIND_OF_REASON: dict[ReauthorizationReason, SituationKind] = {
    ReauthorizationReason.TOKEN_INVALID: _S.TOKEN_INVALID,
    ReauthorizationReason.PERMISSION_REVOKED: _S.PERMISSION_REVOKED,
}
_KIND_OF_NAME_CHANGE: dict[NameChange, SituationKind] = {
    NameChange.REQUESTED: _S.NAME_CHANGE_IN_REVIEW,
    NameChange.APPROVED: _S.NAME_CHANGE_DUE,
    NameChange.LAPSED: _S.NAME_CHANGE_LAPSED,
    NameChange.DECLINED: _S.NAME_CHANGE_DECLINED,
}
#: States the fleet is working on by itself (registration retries).
_RETRYING = frozenset({RegistrationState.SCHEDULED, RegistrationState.AWAITING_DISPLAY_NAME})


@dataclass(frozen=True, slots=True)
class SituationFacts:
    """The stored facts that decide a channel's situation kind, and nothing else.

    Each is a column (or a comparison on one) of the channel row, so the store can group the
    fleet by them: ``refused`` is ``failures_in_a_row > 0`` (the last register answer, or the
    decision it replaced, was a refusal), ``check_failed`` says the newest health read failed
    (a good read clears it). A channel never read is ``unknown`` (a read moves it on).
    """

    state: RegistrationState = RegistrationState.UNKNOWN
    reason: ReauthorizationReason | None = None
    attention: Attention | None = None
    name_status: str | None = None
    name_change: NameChange | None = None
    refused: bool = False
    check_failed: bool = False
    active: bool = True


@dataclass(frozen=True, slots=True)
class SituationRule:
    """One check of :func:`situation_kind`: the facts it requires and the kind it names.

    ``when`` maps a :class:`SituationFacts` field to the values it accepts; a rule matches when
    every listed fact has one of its values. Python (:func:`situation_kind`) and the store's SQL
    (the fleet's sort expression) both read :data:`SITUATION_RULES`, so the rule is written once.
    """

    kind: SituationKind
    when: tuple[tuple[str, frozenset[object]], ...]

    def matches(self, facts: SituationFacts) -> bool:
        return all(getattr(facts, name) in values for name, values in self.when)


def _rule(kind: SituationKind, **when: object) -> SituationRule:
    """A rule; a fact given a tuple or frozenset accepts any of those values."""
    return SituationRule(
        kind,
        tuple(
            (name, frozenset(value) if isinstance(value, tuple | frozenset) else frozenset({value}))
            for name, value in when.items()
        ),
    )


_ST = RegistrationState
#: The situation of a channel is the kind of the first rule its facts match; the order is the
#: precedence: what only the customer can fix, then what a person must fix, then Meta's limits
#: and automatic retries, then name changes and reads, then "healthy". The last rule matches all.
SITUATION_RULES: tuple[SituationRule, ...] = (
    _rule(_S.OFFBOARDED, active=False),
    *(_rule(kind, reason=reason) for reason, kind in _KIND_OF_REASON.items()),
    # Only the customer reasons lead here; a stray state without one reads as the token's.
    _rule(_S.TOKEN_INVALID, state=_ST.REAUTHORIZATION_REQUIRED),
    *(_rule(kind, state=_ST.NEEDS_ATTENTION, attention=att) for att, kind in _KIND_OF_ATTENTION.items()),
    # Stored before attentions were (or set by hand): the name tells, else Graph's refusal.
    _rule(_S.NAME_DECLINED, state=_ST.NEEDS_ATTENTION, name_status=NAME_DECLINED),
    _rule(_S.GRAPH_ERROR, state=_ST.NEEDS_ATTENTION),
    _rule(_S.BLOCKED, state=_ST.BLOCKED),
    _rule(_S.NAME_CHANGE_DUE, name_change=NameChange.APPROVED),
    _rule(_S.NAME_IN_REVIEW, state=_RETRYING, name_status=NAME_IN_REVIEW),
    _rule(_S.NAME_IN_REVIEW, state=_ST.AWAITING_DISPLAY_NAME),
    _rule(_S.REGISTER_BACKOFF, state=_ST.SCHEDULED, refused=True),
    _rule(_S.REGISTRATION_PENDING, state=_ST.SCHEDULED),
    _rule(_S.NAME_CHANGE_LAPSED, name_change=NameChange.LAPSED),
    _rule(_S.NAME_CHANGE_DECLINED, name_change=NameChange.DECLINED),
    _rule(_S.CHECK_FAILED, check_failed=True),
    _rule(_S.NAME_CHANGE_IN_REVIEW, name_change=NameChange.REQUESTED),
    _rule(_S.HEALTHY, state=_ST.REGISTERED),
    _rule(_S.NOT_CHECKED),
)


def situation_kind(facts: SituationFacts) -> SituationKind:
    """Which situation the facts describe: the kind of the first of :data:`SITUATION_RULES` they match."""
    return next(rule.kind for rule in SITUATION_RULES if rule.matches(facts))


#: Urgency of the kinds, most urgent first: the customer must sign up again, Meta holds the
#: account, a person must fix registration or a name, then what the fleet retries by itself,
#: then what is fine. The fleet's "needs action first" sort uses :data:`SORT_RANK`.
_URGENCY: tuple[SituationKind, ...] = (
    _S.TOKEN_INVALID,
    _S.PERMISSION_REVOKED,
    _S.ACCOUNT_LOCKED,
    _S.ACCOUNT_EVENT,
    _S.PIN_MISMATCH,
    _S.NEEDS_REVERIFICATION,
    _S.NAME_DECLINED,
    _S.GRAPH_ERROR,
    _S.NAME_CHANGE_LAPSED,
    _S.NAME_CHANGE_DECLINED,
    _S.BLOCKED,
    _S.REGISTER_BACKOFF,
    _S.CHECK_FAILED,
    _S.NAME_CHANGE_DUE,
    _S.REGISTRATION_PENDING,
    _S.NAME_IN_REVIEW,
    _S.NAME_CHANGE_IN_REVIEW,
    _S.NOT_CHECKED,
    _S.HEALTHY,
    _S.OFFBOARDED,
)
#: Each kind's place in the fleet's "needs action first" sort (0 first): every kind a person
#: must act on (``needs_action``) before every other, by urgency within each part.
SORT_RANK: dict[SituationKind, int] = {
    kind: rank
    for rank, kind in enumerate(sorted(_URGENCY, key=lambda kind: not SITUATIONS[kind].needs_action))
}


class Refusal(Protocol):
    """A Graph error as stored (the store's ``CheckError``): kind, code, subcode, message."""

    @property
    def kind(self) -> str: ...
    @property
    def code(self) -> int | None: ...
    @property
    def subcode(self) -> int | None: ...
    @property
    def message(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class AccountEventSeen:
    """The newest ``account_update`` Meta sent for the channel's WABA (``detail``: its one line)."""

    event: str
    at: datetime
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class SituationDetails:
    """The rest of what the store knows: times and errors that word the situation, never decide it."""

    created_at: datetime | None = None
    checked_at: datetime | None = None
    offboarded_at: datetime | None = None
    next_attempt_at: datetime | None = None
    attempts_72h: int = 0
    last_attempt_at: datetime | None = None
    last_attempt_error: Refusal | None = None
    last_check_failed_at: datetime | None = None
    last_check_error: Refusal | None = None
    name_change_deadline: datetime | None = None
    new_display_name: str | None = None
    account_event: AccountEventSeen | None = None


@dataclass(frozen=True, slots=True)
class Situation:
    """A channel's situation as the API serves it (times are UTC; the page formats them)."""

    kind: SituationKind
    severity: SituationSeverity
    needs_action: bool
    title: str
    detail: str
    since: datetime | None
    next_try: datetime | None
    deadline: datetime | None
    error: Refusal | None
    action: SituationAction


def _sentence(text: str) -> str:
    """A lower-case advice line (as notifications use it) as a sentence for the banner."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _refused(error: Refusal | None) -> str:
    if error is None:
        return ""
    code = ", ".join(str(c) for c in (error.code, error.subcode) if c is not None)
    said = f": {error.message}" if error.message else ""
    return f" Meta answered {code or error.kind}{said}." if code or said else ""


#: Kinds a register answer leads to (Meta's refusal is shown with them), and kinds a failed
#: health read leads to (the read's error is shown).
_AFTER_REGISTER = frozenset(
    {
        _S.REGISTER_BACKOFF,
        _S.BLOCKED,
        _S.NAME_IN_REVIEW,
        _S.REGISTRATION_PENDING,
        _S.NAME_CHANGE_DUE,
        _S.PIN_MISMATCH,
        _S.NEEDS_REVERIFICATION,
        _S.ACCOUNT_LOCKED,
        _S.GRAPH_ERROR,
        _S.NAME_DECLINED,
    }
)
_AFTER_READ = frozenset({_S.CHECK_FAILED, _S.TOKEN_INVALID, _S.PERMISSION_REVOKED})
#: Kinds the fleet moves on by itself at ``next_attempt_at``.
_RETRIED = frozenset(
    {_S.REGISTER_BACKOFF, _S.BLOCKED, _S.NAME_IN_REVIEW, _S.REGISTRATION_PENDING, _S.NAME_CHANGE_DUE}
)


def _error(kind: SituationKind, d: SituationDetails) -> Refusal | None:
    if kind in _AFTER_READ:
        return d.last_check_error or d.last_attempt_error
    return d.last_attempt_error if kind in _AFTER_REGISTER else None


def _detail(kind: SituationKind, d: SituationDetails, error: Refusal | None) -> str:
    """One or two plain sentences; times stay out (the page shows since / next try / deadline)."""
    attention = _ATTENTION_OF_KIND.get(kind)
    if kind is _S.ACCOUNT_EVENT:
        event = d.account_event
        named = f"Meta reported {event.detail or event.event}. " if event else ""
        return named + _sentence(ATTENTION_ACTIONS[Attention.ACCOUNT_EVENT])
    if attention is not None:
        return _sentence(ATTENTION_ACTIONS[attention]) + _refused(error)
    match kind:
        case _S.HEALTHY:
            return "The number is registered and its last health check found nothing to act on."
        case _S.NOT_CHECKED:
            return "No health check has succeeded yet; the fleet reads the number's health every hour."
        case _S.NAME_IN_REVIEW:
            return (
                "Meta is reviewing the display name; the number is registered as soon as the review "
                "approves it, no action needed."
            )
        case _S.REGISTER_BACKOFF:
            return "Meta refused the last register call; the fleet tries again by itself." + _refused(error)
        case _S.BLOCKED:
            return (
                f"{d.attempts_72h} register calls in the last 72 hours reached the limit "
                f"(we spend at most {REGISTER_BUDGET}); the next call waits until the window reopens."
            ) + _refused(error)
        case _S.TOKEN_INVALID:
            return (
                "The customer's access token no longer works; only the customer can fix it, by "
                "completing Embedded Signup again." + _refused(error)
            )
        case _S.PERMISSION_REVOKED:
            return (
                "The customer removed the app's access to the WhatsApp Business Account; only the "
                "customer can give it back, by completing Embedded Signup again."
            )
        case _S.REGISTRATION_PENDING:
            return "The number still needs registering; the fleet registers it by itself when due."
        case _S.NAME_CHANGE_IN_REVIEW:
            named = f" ({d.new_display_name})" if d.new_display_name else ""
            return f"Meta is reviewing the requested display name{named}; the number keeps its current name."
        case _S.NAME_CHANGE_DUE:
            named = f" ({d.new_display_name})" if d.new_display_name else ""
            return (
                f"Meta approved the new display name{named}; it takes effect once the number registers "
                "again, before the deadline. The fleet does it by itself." + _refused(error)
            )
        case _S.OFFBOARDED:
            return "The number was deregistered and the channel deactivated; its history is kept."
        case _S.CHECK_FAILED:
            return "The last health read failed; the stored health is older." + _refused(error)
    raise AssertionError(f"no detail for {kind}")  # every kind is covered above (a test checks)


def _since(kind: SituationKind, d: SituationDetails) -> datetime | None:
    """When the situation began, as well as the store knows it."""
    match kind:
        case _S.OFFBOARDED:
            return d.offboarded_at
        case _S.ACCOUNT_EVENT if d.account_event is not None:
            return d.account_event.at
        case _S.CHECK_FAILED | _S.TOKEN_INVALID | _S.PERMISSION_REVOKED if d.last_check_failed_at:
            return d.last_check_failed_at
        case _S.NAME_CHANGE_DUE if d.name_change_deadline is not None:
            return d.name_change_deadline - NAME_CHANGE_WINDOW
        case _S.NOT_CHECKED | _S.REGISTRATION_PENDING | _S.NAME_IN_REVIEW:
            return d.created_at
        case _S.HEALTHY | _S.NAME_CHANGE_IN_REVIEW | _S.NAME_CHANGE_LAPSED | _S.NAME_CHANGE_DECLINED:
            return None
    return d.last_attempt_at or d.last_check_failed_at


def situation(facts: SituationFacts, details: SituationDetails | None = None) -> Situation:
    """The channel's situation: its kind (:func:`situation_kind`) worded with the stored details."""
    d = details or SituationDetails()
    kind = situation_kind(facts)
    info = SITUATIONS[kind]
    error = _error(kind, d)
    return Situation(
        kind=kind,
        severity=info.severity,
        needs_action=info.needs_action,
        title=info.title,
        detail=_detail(kind, d, error),
        since=_since(kind, d),
        next_try=d.next_attempt_at if kind in _RETRIED else None,
        deadline=d.name_change_deadline if kind is _S.NAME_CHANGE_DUE else None,
        error=error,
        action=info.action,
    )


def refused_register_text(kind: ErrorKind) -> str:
    """What a refused register call means, in words (the outcome after *Complete registration*)."""
    outcome = outcome_of_kind(kind)
    if outcome.advice is not None:
        return "Meta refused the register call. " + _sentence(outcome.advice)
    if outcome.action is Action.REAUTHORIZE:
        return (
            "Meta refused the register call: only the customer can fix it, by completing Embedded "
            "Signup again."
        )
    return "Meta refused the register call; the fleet tries again by itself."
