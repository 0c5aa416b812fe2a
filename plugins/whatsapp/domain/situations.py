"""A channel's *situation*: the one problem (or none) a person sees first, with what to do about it.

The page shows one banner per situation, the fleet table one problem cell, the counts one badge
per kind; all of them come from :func:`situation_kind` (which kind) and :func:`situation` (the
words, times and action), so the page keeps no rule of its own.

Each kind is declared once, by one :class:`SituationSpec` in :data:`SITUATION_SPECS`: the stored
facts that lead to it (its rules), how it reads (severity, title, the banner's detail and
action) and which stored time and Graph error it shows. Everything else is derived from that
tuple: the rules in precedence order (:data:`SITUATION_RULES`), the fleet's sort
(:data:`SORT_RANK`), the kinds a person must act on (:data:`NEEDS_ACTION_KINDS`) and the lookup
by kind (:data:`SITUATIONS`, which the ``vocabulary`` route serves). Adding a kind is adding a
:class:`SituationKind` value and one spec; as the store's needs-action indexes are built on the
compiled rules (``store/schema.py``: ``situation_rank``), a change to the rules or the ranks also
needs an Alembic revision that rebuilds them.

Two orders matter, and each is written once:

- **Precedence** (which kind a channel is in): the kind of the first rule its facts match. Each
  rule carries its place; the hundreds say the tier: 100 what only the customer can fix (and
  offboarded), 200 what a person must fix, 300 Meta's limits and automatic retries, 400 name
  changes and reads, 500 healthy, then the one rule that matches every channel ("not checked").
- **Urgency** (the fleet's "needs action first" sort): the order of :data:`SITUATION_SPECS`, the
  customer's problems first, then Meta holding the account, then what a person must fix, then
  what the fleet retries by itself, then what is fine; every kind a person must act on ranks
  before every other.

The kind depends only on a few discrete stored facts (:class:`SituationFacts`): the store groups
the fleet by their columns and asks :func:`situation_kind` about each distinct combination for
the counts, and compiles the same rules into SQL for the sort and the ``situation`` filter, so
the rule lives here only.

Wording is reused, never copied: what a person does about an :class:`Attention` is
``ATTENTION_ACTIONS``; the account events come from :mod:`whatsapp.domain.registration_machine`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Protocol

from whatsapp.domain.business_app import SYNC_WINDOW, AppLink, SyncState
from whatsapp.domain.health import FLAGGED, NAME_DECLINED, NAME_IN_REVIEW, QUALITY_RED, QUALITY_YELLOW
from whatsapp.domain.registration import (
    ATTENTION_ACTIONS,
    NAME_CHANGE_WINDOW,
    REGISTER_ALLOWANCE,
    Action,
    Attention,
    NameChange,
    ReauthorizationReason,
    RegistrationState,
    outcome_of_kind,
    span_words,
)
from whatsapp.errors import ERROR_HINTS, ErrorKind


class SituationKind(StrEnum):
    """One banner each (docs/states-and-situations.md); each has one :class:`SituationSpec`."""

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
    APP_DISCONNECTED = "app_disconnected"
    APP_RECONNECTING = "app_reconnecting"
    HISTORY_SYNC_DUE = "history_sync_due"
    HISTORY_NOT_SHARED = "history_not_shared"
    QUALITY_LOW = "quality_low"
    QUALITY_MEDIUM = "quality_medium"
    MESSAGING_LIMIT_LOWERED = "messaging_limit_lowered"
    GRAPH_ERROR = "graph_error"
    CHECK_FAILED = "check_failed"


class SituationSeverity(StrEnum):
    """How a situation's banner and problem cell read: one value per Chakra alert status.

    Not :class:`~whatsapp.domain.health.ValueSeverity`, which grades one value Meta reported or one
    stored state: there ``neutral`` means "no judgement" (a value the provider does not know) and
    ``critical`` a bad value, while here ``info`` means "nothing is wrong, something is under way"
    (a review, a pending registration, an offboarded number) and ``error`` is exactly "a person
    must act" (:attr:`SituationSpec.needs_action`). The page maps each value to an alert status and
    a colour palette (success/green, info/blue, warning/yellow, error/red).
    """

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class SituationGroup(StrEnum):
    """The three groups the page's counts fold the kinds into (each badge a total, expandable).

    ``needs_action``: a person must act (:attr:`SituationSpec.needs_action`); ``healthy``: nothing
    is wrong and nothing is to do (severity ``ok``, or action ``none``); ``waiting``: the rest,
    something under way (a review, a retry, a sync) that the fleet, Meta or the customer moves on.
    """

    NEEDS_ACTION = "needs_action"
    WAITING = "waiting"
    HEALTHY = "healthy"


#: How the page titles each group's badge.
SITUATION_GROUP_TITLES: dict[SituationGroup, str] = {
    SituationGroup.NEEDS_ACTION: "Needs action",
    SituationGroup.WAITING: "Waiting or watched",
    SituationGroup.HEALTHY: "Healthy",
}


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
    #: A WhatsApp Business app number's link to the app, and its history sync (``None`` for others).
    business_app: AppLink | None = None
    history_sync: SyncState | None = None
    #: What Meta says of the number's quality: its ``quality_rating`` and its ``status``.
    quality_rating: str | None = None
    phone_status: str | None = None
    #: Meta lowered the number's messaging limit and has not raised it since.
    limit_lowered: bool = False


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
    #: A WhatsApp Business app number's sync deadline; why it left, as Meta said (``PARTNER_REMOVED``).
    sync_deadline: datetime | None = None
    offboard_reason: str | None = None
    #: The fleet DAG (``whatsapp_fleet_health``) is paused: nothing is retried until it runs again,
    #: so no banner may say the fleet retries by itself.
    fleet_paused: bool = False
    #: The number's messaging limit as last read or pushed (``messaging_limit_tier``).
    messaging_limit: str | None = None


RequiredFacts = tuple[tuple[str, frozenset[object]], ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One way into a kind: the facts it requires, and its place among all kinds' rules.

    ``facts`` maps a :class:`SituationFacts` field to the values it accepts; the rule matches
    when every listed fact has one of its values. ``precedence``: lower is checked first (the
    module docstring gives the tiers).
    """

    precedence: int
    facts: RequiredFacts


def rule(precedence: int, **facts: object) -> Rule:
    """A rule; a fact given a tuple or frozenset accepts any of those values."""
    return Rule(
        precedence,
        tuple(
            (name, frozenset(value) if isinstance(value, tuple | frozenset) else frozenset({value}))
            for name, value in facts.items()
        ),
    )


class ShownError(Enum):
    """Which stored Graph error a situation shows (with its banner, and quoted in its detail)."""

    NONE = "none"
    #: Meta's refusal of the last register call: the kinds a register answer leads to.
    REGISTER_ANSWER = "register_answer"
    #: The failed health read's error (else the last register refusal): the kinds a read leads to.
    HEALTH_READ = "health_read"

    def of(self, details: SituationDetails) -> Refusal | None:
        if self is ShownError.HEALTH_READ:
            return details.last_check_error or details.last_attempt_error
        return details.last_attempt_error if self is ShownError.REGISTER_ANSWER else None


def _last_call(d: SituationDetails) -> datetime | None:
    """The last register call, else the last failed read: what moved the channel here."""
    return d.last_attempt_at or d.last_check_failed_at


def _last_failed_read(d: SituationDetails) -> datetime | None:
    return d.last_check_failed_at or d.last_attempt_at


def _created(d: SituationDetails) -> datetime | None:
    return d.created_at


def _no_start(d: SituationDetails) -> None:
    """No start is shown: a healthy number needs none, and the store keeps no time of a name change's step."""
    return None


def _checked(d: SituationDetails) -> datetime | None:
    """The read that showed it (Meta's rating has no time of its own)."""
    return d.checked_at


def _offboarded(d: SituationDetails) -> datetime | None:
    return d.offboarded_at


def _account_event_seen(d: SituationDetails) -> datetime | None:
    return d.account_event.at if d.account_event is not None else _last_call(d)


def _name_change_approved(d: SituationDetails) -> datetime | None:
    if d.name_change_deadline is None:
        return _last_call(d)
    return d.name_change_deadline - NAME_CHANGE_WINDOW


def _name_change_deadline(d: SituationDetails) -> datetime | None:
    return d.name_change_deadline


def _sync_opened(d: SituationDetails) -> datetime | None:
    return None if d.sync_deadline is None else d.sync_deadline - SYNC_WINDOW


def _sync_deadline(d: SituationDetails) -> datetime | None:
    return d.sync_deadline


@dataclass(frozen=True, slots=True)
class SituationSpec:
    """Everything about one situation kind that does not depend on the channel.

    :param kind: the kind.
    :param rules: the facts that lead to it, each with its precedence (:class:`Rule`).
    :param severity: how the badge and banner read; ``error`` is exactly "a person must act".
    :param title: short: the problem column, the badge and the banner's title.
    :param action: the banner's button.
    :param detail: one or two plain sentences for the banner (times stay out: the page shows
        since, next try and deadline), or how to word them from the stored details.
    :param shows: the Graph error shown with the banner; ``quotes_error`` also ends the detail
        with Meta's answer.
    :param since: when the situation began, as well as the store knows it.
    :param retried: the fleet moves the channel on by itself at ``next_attempt_at`` (the next try).
    :param deadline: the time after which what is due can no longer be done (an approved name
        change's re-registration, a WhatsApp Business app number's syncs), when the kind has one.
    :param also_register: once the person has fixed the cause (in WhatsApp Manager), *Complete
        registration* is offered beside the action: the advice ends "then complete registration".
    """

    kind: SituationKind
    rules: tuple[Rule, ...]
    severity: SituationSeverity
    title: str
    action: SituationAction
    detail: str | Callable[[SituationDetails], str]
    shows: ShownError = ShownError.NONE
    quotes_error: bool = False
    since: Callable[[SituationDetails], datetime | None] = _last_call
    retried: bool = False
    deadline: Callable[[SituationDetails], datetime | None] | None = None
    also_register: bool = False

    @property
    def needs_action(self) -> bool:
        """A person (operator or customer) must act: the ``needs_action`` filter, badge and sort."""
        return self.severity is SituationSeverity.ERROR

    @property
    def group(self) -> SituationGroup:
        """The count group of the kind (:class:`SituationGroup` says which is which)."""
        if self.needs_action:
            return SituationGroup.NEEDS_ACTION
        if self.severity is SituationSeverity.OK or self.action.kind is ActionKind.NONE:
            return SituationGroup.HEALTHY
        return SituationGroup.WAITING

    @property
    def fleet_moves_it(self) -> bool:
        """The kind waits for the fleet DAG: its next try, or its banner's "the fleet retries"."""
        return self.retried or self.action == _WAIT_FOR_RETRY


def _advice(attention: Attention) -> str:
    """What notifications say a person does about ``attention``, as a sentence for the banner."""
    return _sentence(ATTENTION_ACTIONS[attention])


def _sentence(text: str) -> str:
    """A lower-case advice line (as notifications use it) as a sentence for the banner."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _refused(error: Refusal | None) -> str:
    """Meta's answer as the end of a detail, with what it means when the error table says more."""
    if error is None:
        return ""
    code = ", ".join(str(c) for c in (error.code, error.subcode) if c is not None)
    # Meta's messages often end with a period of their own: one is enough.
    message = (error.message or "").strip().rstrip(".")
    said = f": {message}" if message else ""
    answered = f" Meta answered {code or error.kind}{said}." if code or said else ""
    hint = hint_of(error.kind)
    return answered + (f" {hint}" if answered and hint else "")


def hint_of(kind: str) -> str | None:
    """What an error of ``kind`` (as stored) means beyond Meta's words, from the error table."""
    try:
        return ERROR_HINTS.get(ErrorKind(kind))
    except ValueError:
        return None


def _fleet_retries(d: SituationDetails, retries: str) -> str:
    """``retries`` (a sentence saying the fleet acts by itself), unless the fleet DAG is paused."""
    return _FLEET_PAUSED if d.fleet_paused else retries


#: Said instead of "the fleet retries by itself" while ``whatsapp_fleet_health`` is paused.
_FLEET_PAUSED = "The fleet DAG (whatsapp_fleet_health) is paused: nothing is retried until it is unpaused."


def _account_event_detail(d: SituationDetails) -> str:
    event = d.account_event
    named = f"Meta reported {event.detail or event.event}. " if event else ""
    return named + _advice(Attention.ACCOUNT_EVENT)


def _app_disconnected_detail(d: SituationDetails) -> str:
    said = f" Meta said: {d.offboard_reason}." if d.offboard_reason else ""
    return (
        "The customer disconnected the number from this partner in the WhatsApp Business app; the "
        f"channel is offboarded (no Graph call was needed).{said} To come back, the customer signs up "
        "again."
    )


def _blocked_detail(d: SituationDetails) -> str:
    return (
        f"{d.attempts_72h} register calls in the last {span_words(REGISTER_ALLOWANCE.window)} reached "
        f"the limit (we spend at most {REGISTER_ALLOWANCE.budget}); the next call waits until the "
        "window reopens."
    )


def _name_change_in_review_detail(d: SituationDetails) -> str:
    named = f" ({d.new_display_name})" if d.new_display_name else ""
    return f"Meta is reviewing the requested display name{named}; the number keeps its current name."


def _name_change_due_detail(d: SituationDetails) -> str:
    named = f" ({d.new_display_name})" if d.new_display_name else ""
    return (
        f"Meta approved the new display name{named}; it takes effect once the number registers "
        "again, before the deadline. " + _fleet_retries(d, "The fleet does it by itself.")
    )


def _backoff_detail(d: SituationDetails) -> str:
    return "Meta refused the last register call. " + _fleet_retries(d, "The fleet tries again by itself.")


def _pending_detail(d: SituationDetails) -> str:
    return "The number still needs registering. " + _fleet_retries(
        d, "The fleet registers it by itself when due."
    )


def _name_in_review_detail(d: SituationDetails) -> str:
    said = (
        "Meta is reviewing the display name; the number is registered as soon as the review "
        "approves it, no action needed."
    )
    return said + (f" {_FLEET_PAUSED}" if d.fleet_paused else "")


def _limit_lowered_detail(d: SituationDetails) -> str:
    now = f" (now {d.messaging_limit})" if d.messaging_limit else ""
    return (
        f"Meta lowered the number's messaging limit{now}: it reaches fewer customers a day. Meta "
        "raises it again once the quality improves; review the messages it sends (Insights in "
        "WhatsApp Manager)."
    )


_COMPLETE_REGISTRATION = SituationAction(ActionKind.COMPLETE_REGISTRATION, "Complete registration")
_OPEN_MANAGER = SituationAction(ActionKind.OPEN_WHATSAPP_MANAGER, "Open in WhatsApp Manager")
_CUSTOMER_SIGNS_UP = SituationAction(ActionKind.CUSTOMER_REAUTHORIZE, "Ask the customer to sign up again")
_WAIT_FOR_RETRY = SituationAction(ActionKind.WAIT, "Wait: the fleet retries by itself")
_REQUEST_NAME = SituationAction(
    ActionKind.CHANGE_DISPLAY_NAME, "Request a display name (whatsapp_change_display_name)"
)


def _needs_attention(
    kind: SituationKind,
    precedence: int,
    attention: Attention,
    *also: Rule,
    title: str,
    action: SituationAction,
    shows: ShownError = ShownError.REGISTER_ANSWER,
    since: Callable[[SituationDetails], datetime | None] = _last_call,
    also_register: bool = False,
) -> SituationSpec:
    """A kind a person must fix, reached by ``needs_attention`` with ``attention`` (and by ``also``).

    Its banner says what notifications say about the attention (``ATTENTION_ACTIONS``) and quotes
    the Graph error it shows.
    """
    return SituationSpec(
        kind,
        rules=(rule(precedence, state=RegistrationState.NEEDS_ATTENTION, attention=attention), *also),
        severity=SituationSeverity.ERROR,
        title=title,
        action=action,
        detail=_advice(attention),
        shows=shows,
        quotes_error=True,
        since=since,
        also_register=also_register,
    )


#: States the fleet is working on by itself (registration retries).
_RETRYING = frozenset({RegistrationState.SCHEDULED, RegistrationState.AWAITING_DISPLAY_NAME})

#: Every situation kind, most urgent first (the module docstring says why this order).
SITUATION_SPECS: tuple[SituationSpec, ...] = (
    SituationSpec(
        SituationKind.TOKEN_INVALID,
        rules=(
            rule(110, reason=ReauthorizationReason.TOKEN_INVALID),
            # Only the customer reasons lead here; a stray state without one reads as the token's.
            rule(130, state=RegistrationState.REAUTHORIZATION_REQUIRED),
        ),
        severity=SituationSeverity.ERROR,
        title="Customer's access token invalid",
        action=_CUSTOMER_SIGNS_UP,
        detail=(
            "The customer's access token no longer works; only the customer can fix it, by "
            "completing Embedded Signup again."
        ),
        shows=ShownError.HEALTH_READ,
        quotes_error=True,
        since=_last_failed_read,
    ),
    SituationSpec(
        SituationKind.PERMISSION_REVOKED,
        rules=(rule(120, reason=ReauthorizationReason.PERMISSION_REVOKED),),
        severity=SituationSeverity.ERROR,
        title="Customer revoked permissions",
        action=_CUSTOMER_SIGNS_UP,
        detail=(
            "The customer removed the app's access to the WhatsApp Business Account; only the "
            "customer can give it back, by completing Embedded Signup again."
        ),
        shows=ShownError.HEALTH_READ,
        since=_last_failed_read,
    ),
    _needs_attention(
        SituationKind.ACCOUNT_LOCKED,
        230,
        Attention.ACCOUNT_LOCKED,
        also_register=True,
        title="Business account locked",
        action=_OPEN_MANAGER,
    ),
    SituationSpec(
        SituationKind.ACCOUNT_EVENT,
        rules=(rule(240, state=RegistrationState.NEEDS_ATTENTION, attention=Attention.ACCOUNT_EVENT),),
        severity=SituationSeverity.ERROR,
        title="Meta account event",
        action=_OPEN_MANAGER,
        detail=_account_event_detail,
        since=_account_event_seen,
        also_register=True,
    ),
    _needs_attention(
        SituationKind.PIN_MISMATCH,
        210,
        Attention.PIN_MISMATCH,
        also_register=True,
        title="Two-step verification PIN mismatch",
        action=_OPEN_MANAGER,
    ),
    _needs_attention(
        SituationKind.NEEDS_REVERIFICATION,
        220,
        Attention.NEEDS_REVERIFICATION,
        also_register=True,
        title="Phone number must be verified again",
        action=_OPEN_MANAGER,
    ),
    _needs_attention(
        SituationKind.NAME_DECLINED,
        200,
        Attention.DISPLAY_NAME_DECLINED,
        # Stored before attentions were (or set by hand): the name tells.
        rule(280, state=RegistrationState.NEEDS_ATTENTION, name_status=NAME_DECLINED),
        also_register=True,
        title="Display name declined",
        action=_OPEN_MANAGER,
    ),
    _needs_attention(
        SituationKind.GRAPH_ERROR,
        250,
        Attention.GRAPH_ERROR,
        # Any other channel a person must look at: Graph's refusal says why.
        rule(290, state=RegistrationState.NEEDS_ATTENTION),
        title="Meta refused registration",
        action=_COMPLETE_REGISTRATION,
    ),
    SituationSpec(
        SituationKind.QUALITY_LOW,
        rules=(rule(292, quality_rating=QUALITY_RED), rule(293, phone_status=FLAGGED)),
        severity=SituationSeverity.ERROR,
        title="Quality rating low",
        action=_OPEN_MANAGER,
        detail=(
            "Meta rates the number's quality low (red) or has flagged it: customers block or report its "
            "messages. Meta may lower its messaging limit if it stays so; review the messages it sends "
            "(see Insights in WhatsApp Manager)."
        ),
        since=_checked,
    ),
    _needs_attention(
        SituationKind.NAME_CHANGE_LAPSED,
        260,
        Attention.NAME_CHANGE_LAPSED,
        rule(400, name_change=NameChange.LAPSED),
        title="Name change lapsed",
        action=_REQUEST_NAME,
        # An old register refusal is not why a name change lapsed.
        shows=ShownError.NONE,
        since=_no_start,
    ),
    _needs_attention(
        SituationKind.NAME_CHANGE_DECLINED,
        270,
        Attention.NAME_CHANGE_DECLINED,
        rule(410, name_change=NameChange.DECLINED),
        title="Name change declined",
        action=_REQUEST_NAME,
        shows=ShownError.NONE,
        since=_no_start,
    ),
    SituationSpec(
        SituationKind.BLOCKED,
        rules=(rule(300, state=RegistrationState.BLOCKED),),
        severity=SituationSeverity.WARNING,
        title="Register limit reached",
        action=_WAIT_FOR_RETRY,
        detail=_blocked_detail,
        shows=ShownError.REGISTER_ANSWER,
        quotes_error=True,
        retried=True,
    ),
    SituationSpec(
        SituationKind.REGISTER_BACKOFF,
        rules=(rule(340, state=RegistrationState.SCHEDULED, refused=True),),
        severity=SituationSeverity.WARNING,
        title="Meta refused registration, retrying",
        action=_WAIT_FOR_RETRY,
        detail=_backoff_detail,
        shows=ShownError.REGISTER_ANSWER,
        quotes_error=True,
        retried=True,
    ),
    SituationSpec(
        SituationKind.CHECK_FAILED,
        rules=(rule(420, check_failed=True),),
        severity=SituationSeverity.WARNING,
        title="Last health check failed",
        action=SituationAction(ActionKind.WAIT, "Wait for the next check"),
        detail="The last health read failed; the stored health is older.",
        shows=ShownError.HEALTH_READ,
        quotes_error=True,
        since=_last_failed_read,
    ),
    SituationSpec(
        SituationKind.NAME_CHANGE_DUE,
        rules=(rule(310, name_change=NameChange.APPROVED),),
        severity=SituationSeverity.WARNING,
        title="Name change approved: re-register",
        action=_COMPLETE_REGISTRATION,
        detail=_name_change_due_detail,
        shows=ShownError.REGISTER_ANSWER,
        quotes_error=True,
        since=_name_change_approved,
        retried=True,
        deadline=_name_change_deadline,
    ),
    SituationSpec(
        SituationKind.REGISTRATION_PENDING,
        rules=(rule(350, state=RegistrationState.SCHEDULED),),
        severity=SituationSeverity.INFO,
        title="Registration pending",
        action=_COMPLETE_REGISTRATION,
        detail=_pending_detail,
        shows=ShownError.REGISTER_ANSWER,
        since=_created,
        retried=True,
    ),
    SituationSpec(
        SituationKind.NAME_IN_REVIEW,
        rules=(
            rule(320, state=_RETRYING, name_status=NAME_IN_REVIEW),
            rule(330, state=RegistrationState.AWAITING_DISPLAY_NAME),
        ),
        severity=SituationSeverity.INFO,
        title="Display name in review",
        action=_WAIT_FOR_RETRY,
        detail=_name_in_review_detail,
        shows=ShownError.REGISTER_ANSWER,
        since=_created,
        retried=True,
    ),
    SituationSpec(
        SituationKind.NAME_CHANGE_IN_REVIEW,
        rules=(rule(430, name_change=NameChange.REQUESTED),),
        severity=SituationSeverity.INFO,
        title="Name change in review",
        action=_WAIT_FOR_RETRY,
        detail=_name_change_in_review_detail,
        since=_no_start,
    ),
    SituationSpec(
        SituationKind.APP_RECONNECTING,
        rules=(rule(360, business_app=AppLink.RECONNECTING),),
        severity=SituationSeverity.WARNING,
        title="WhatsApp Business app reconnecting",
        action=SituationAction(ActionKind.WAIT, "Wait for the customer's phone"),
        detail=(
            "Meta reported that the customer is moving the WhatsApp Business app to another device "
            "(ACCOUNT_OFFBOARDED); the number is back once the app reconnects (ACCOUNT_RECONNECTED)."
        ),
        since=_account_event_seen,
    ),
    SituationSpec(
        SituationKind.HISTORY_SYNC_DUE,
        rules=(rule(440, business_app=AppLink.CONNECTED, history_sync=SyncState.DUE),),
        severity=SituationSeverity.WARNING,
        title="Contacts and chat history sync due",
        action=SituationAction(ActionKind.WAIT, "Wait: the onboarding requests it"),
        detail=(
            "Meta lets the contacts and then the chat history of a WhatsApp Business app number be "
            f"requested once each, within {span_words(SYNC_WINDOW)} of onboarding; after the deadline "
            "the customer must offboard and sign up again to share them."
        ),
        since=_sync_opened,
        deadline=_sync_deadline,
    ),
    SituationSpec(
        SituationKind.HISTORY_NOT_SHARED,
        rules=(rule(450, business_app=AppLink.CONNECTED, history_sync=SyncState.DECLINED),),
        severity=SituationSeverity.INFO,
        title="Chat history not shared",
        action=SituationAction(ActionKind.NONE, "Nothing to do"),
        detail=(
            "The customer chose not to share the WhatsApp Business app's chat history; the number "
            "works, and new messages arrive as usual."
        ),
        since=_sync_opened,
    ),
    SituationSpec(
        SituationKind.MESSAGING_LIMIT_LOWERED,
        rules=(rule(460, limit_lowered=True),),
        severity=SituationSeverity.WARNING,
        title="Messaging limit lowered",
        action=_OPEN_MANAGER,
        detail=_limit_lowered_detail,
        since=_no_start,
    ),
    SituationSpec(
        SituationKind.QUALITY_MEDIUM,
        rules=(rule(470, quality_rating=QUALITY_YELLOW),),
        severity=SituationSeverity.WARNING,
        title="Quality rating medium",
        action=_OPEN_MANAGER,
        detail=(
            "Meta rates the number's quality medium (yellow): more blocks or reports would make it "
            "low, and Meta may then lower its messaging limit."
        ),
        since=_checked,
    ),
    SituationSpec(
        SituationKind.NOT_CHECKED,
        # The last rule: it matches every channel the others leave.
        rules=(rule(600),),
        severity=SituationSeverity.INFO,
        title="Not checked yet",
        action=SituationAction(ActionKind.WAIT, "Wait for the first check"),
        detail="No health check has succeeded yet; the fleet reads the number's health every hour.",
        since=_created,
    ),
    SituationSpec(
        SituationKind.HEALTHY,
        rules=(rule(500, state=RegistrationState.REGISTERED),),
        severity=SituationSeverity.OK,
        title="Healthy",
        action=SituationAction(ActionKind.NONE, "Nothing to do"),
        detail="The number is registered and its last health check found nothing to act on.",
        since=_no_start,
    ),
    SituationSpec(
        SituationKind.APP_DISCONNECTED,
        rules=(rule(90, active=False, business_app=AppLink.DISCONNECTED),),
        severity=SituationSeverity.WARNING,
        title="Disconnected in the WhatsApp Business app",
        action=SituationAction(ActionKind.ONBOARD_AGAIN, "Ask the customer to sign up again"),
        detail=_app_disconnected_detail,
        since=_offboarded,
    ),
    SituationSpec(
        SituationKind.OFFBOARDED,
        rules=(rule(100, active=False),),
        severity=SituationSeverity.INFO,
        title="Offboarded",
        action=SituationAction(ActionKind.ONBOARD_AGAIN, "Onboard again (Embedded Signup)"),
        detail="The number was deregistered and the channel deactivated; its history is kept.",
        since=_offboarded,
    ),
)

#: Each kind's spec, in :class:`SituationKind`'s order; the ``vocabulary`` route serves them in that
#: order, so the page holds no copy.
SITUATIONS: dict[SituationKind, SituationSpec] = {
    kind: spec for kind in SituationKind for spec in SITUATION_SPECS if spec.kind is kind
}
#: The kinds a person (operator or customer) must act on: the ``needs_action`` filter and badge.
NEEDS_ACTION_KINDS = frozenset(spec.kind for spec in SITUATION_SPECS if spec.needs_action)
#: Each kind's place in the fleet's "needs action first" sort (0 first): every kind a person
#: must act on before every other, by urgency (:data:`SITUATION_SPECS`' order) within each part.
SORT_RANK: dict[SituationKind, int] = {
    spec.kind: rank
    for rank, spec in enumerate(sorted(SITUATION_SPECS, key=lambda spec: not spec.needs_action))
}


@dataclass(frozen=True, slots=True)
class SituationRule:
    """One check of :func:`situation_kind`: the facts it requires and the kind it names.

    Python (:func:`situation_kind`) and the store's SQL (the fleet's sort expression) both read
    :data:`SITUATION_RULES`, so the rule is written once.
    """

    kind: SituationKind
    when: RequiredFacts

    def matches(self, facts: SituationFacts) -> bool:
        return all(getattr(facts, name) in values for name, values in self.when)


def ordered_rules(specs: tuple[SituationSpec, ...]) -> tuple[SituationRule, ...]:
    """Every spec's rules, lowest precedence first; refuses a table that cannot decide every channel."""
    if sorted(spec.kind for spec in specs) != sorted(SituationKind):
        raise ValueError("every situation kind needs exactly one spec")
    pairs = ((spec.kind, r) for spec in specs for r in spec.rules)
    ordered = sorted(pairs, key=lambda pair: pair[1].precedence)
    precedences = [r.precedence for _, r in ordered]
    if len(set(precedences)) != len(precedences):
        raise ValueError("two situation rules share a precedence: their order would be undefined")
    rules = tuple(SituationRule(kind, r.facts) for kind, r in ordered)
    if [r.when for r in rules].count(()) != 1 or rules[-1].when:
        raise ValueError("exactly one situation rule, the last, must match every channel")
    return rules


#: The situation of a channel is the kind of the first rule its facts match.
SITUATION_RULES: tuple[SituationRule, ...] = ordered_rules(SITUATION_SPECS)


@lru_cache(maxsize=4096)
def situation_kind(facts: SituationFacts) -> SituationKind:
    """Which situation the facts describe: the kind of the first of :data:`SITUATION_RULES` they match.

    Cached: a fleet has a few dozen fact combinations, and walking some fifty rules per channel
    was a quarter of the time a 10,000-channel CSV export took.
    """
    return next(r.kind for r in SITUATION_RULES if r.matches(facts))


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


def situation(facts: SituationFacts, details: SituationDetails | None = None) -> Situation:
    """The channel's situation: its kind (:func:`situation_kind`) worded with the stored details."""
    d = details or SituationDetails()
    spec = SITUATIONS[situation_kind(facts)]
    error = spec.shows.of(d)
    detail = spec.detail if isinstance(spec.detail, str) else spec.detail(d)
    return Situation(
        kind=spec.kind,
        severity=spec.severity,
        needs_action=spec.needs_action,
        title=spec.title,
        detail=detail + _refused(error) if spec.quotes_error else detail,
        since=spec.since(d),
        next_try=d.next_attempt_at if spec.retried else None,
        deadline=spec.deadline(d) if spec.deadline is not None else None,
        error=error,
        action=_UNPAUSE_FLEET if d.fleet_paused and spec.action == _WAIT_FOR_RETRY else spec.action,
    )


#: The action of a kind that waits for the fleet while the fleet DAG is paused.
_UNPAUSE_FLEET = SituationAction(
    ActionKind.WAIT, "Unpause whatsapp_fleet_health: the fleet retries nothing while it is paused"
)


def refused_register_text(kind: ErrorKind) -> str:
    """What a refused register call means, in words (the outcome after *Complete registration*)."""
    outcome = outcome_of_kind(kind)
    hint = ERROR_HINTS.get(kind)
    if outcome.advice is not None:
        said = "Meta refused the register call. " + _sentence(outcome.advice)
    elif outcome.action is Action.REAUTHORIZE:
        said = (
            "Meta refused the register call: only the customer can fix it, by completing Embedded "
            "Signup again."
        )
    else:
        said = "Meta refused the register call; the fleet tries again by itself."
    return said + (f" {hint}" if hint else "")
