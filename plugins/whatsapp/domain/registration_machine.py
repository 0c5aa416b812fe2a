"""A channel's registration: one state machine, fed by every part of the provider.

A channel's registration is four stored facts (:class:`Registration`). They move only through
:func:`transition`: the onboarding steps, the display-name sensor, the fleet audit, the
registration path shared by every DAG and the API all describe what they saw as an *event*,
and the store persists the :class:`Transition` it returns without deciding anything itself.

Rules that live here and nowhere else:

* **Reauthorization precedence.** ``token_invalid`` and ``permission_revoked`` need the
  customer to redo Embedded Signup: only a new token removes them, never a health read that
  happens to succeed (reads need fewer permissions than ``/register``). ``registration_incomplete``
  follows the facts: raised while Meta reads the number as pending, cleared once provisioned.
* **What a health read says about registration.** Provisioned: ``registered`` whatever
  ``code_verification_status`` says (also when someone fixed it by hand in WhatsApp Manager).
  Needs registration but nothing is planned: ``scheduled`` now, so the fleet picks it up.
  Right after a successful register Meta may still read the number as pending: "verify again
  soon", not a flag.
* **The newest name fact wins.** Meta does not deliver notifications in order and retries an
  undelivered one for days (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/overview),
  so a ``phone_number_name_update`` carries Meta's time (its entry's ``time``, "when the webhook
  was triggered") and a health read its check time; the registration keeps the newest one
  applied (``name_decided_at``). A decision older than it is stale and changes nothing; a read
  at least as new wins over the decision before it: a name Meta shows approved (or in review
  again) takes a channel out of "display name declined", due now for the usual register path.
* **What a register answer or a decision without a call leads to**: the outcome table and
  backoff of :mod:`whatsapp.domain.registration`. A call whose answer was lost counts as sent
  (``RegisterAnswered(answered=False)``): ``scheduled`` a short wait ahead, and the next
  attempt's health read decides whether another call is needed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from whatsapp.domain.health import CODE_VERIFIED, NAME_DECLINED, NAME_IN_REVIEW, PhoneHealth, ValueSeverity
from whatsapp.domain.registration import (
    ATTENTION_ACTIONS,
    NAME_CHANGE_LAPSED,
    NAME_CHANGE_WINDOW,
    NEW_NAME_APPROVED,
    NEW_NAME_EXPIRED,
    REGISTER_DECISIONS,
    Attention,
    Decision,
    NameChange,
    Outcome,
    ReauthorizationReason,
    RegistrationState,
    decide,
    next_attempt_at,
    outcome_of_decision,
    outcome_of_kind,
    reauthorization_for,
)
from whatsapp.errors import ErrorKind

#: Reasons that need the customer; facts about provisioning never clear them.
CUSTOMER_REASONS = frozenset({ReauthorizationReason.TOKEN_INVALID, ReauthorizationReason.PERMISSION_REVOKED})
#: States the fleet retries on its own once ``next_attempt_at`` has passed.
RETRYABLE_STATES = frozenset(
    {RegistrationState.SCHEDULED, RegistrationState.AWAITING_DISPLAY_NAME, RegistrationState.BLOCKED}
)
#: States only a person gets out of (with the customer reasons: :attr:`Registration.needs_person`).
PERSON_STATES = frozenset({RegistrationState.NEEDS_ATTENTION, RegistrationState.REAUTHORIZATION_REQUIRED})
#: Meta may read NOT_APPLICABLE for a while after a successful registration; look again then.
VERIFY_AGAIN_AFTER = timedelta(minutes=15)

#: How each state and reason reads on the page (served by the API with the health fields).
STATE_SEVERITY: dict[RegistrationState, ValueSeverity] = {
    RegistrationState.REGISTERED: ValueSeverity.OK,
    RegistrationState.UNKNOWN: ValueSeverity.NEUTRAL,
    RegistrationState.AWAITING_DISPLAY_NAME: ValueSeverity.WARNING,
    RegistrationState.SCHEDULED: ValueSeverity.WARNING,
    RegistrationState.BLOCKED: ValueSeverity.WARNING,
    RegistrationState.NEEDS_ATTENTION: ValueSeverity.CRITICAL,
    RegistrationState.REAUTHORIZATION_REQUIRED: ValueSeverity.CRITICAL,
}
REASON_SEVERITY: dict[ReauthorizationReason, ValueSeverity] = {
    ReauthorizationReason.REGISTRATION_INCOMPLETE: ValueSeverity.WARNING,
    ReauthorizationReason.TOKEN_INVALID: ValueSeverity.CRITICAL,
    ReauthorizationReason.PERMISSION_REVOKED: ValueSeverity.CRITICAL,
}


@dataclass(frozen=True, slots=True)
class Registration:
    """What the store keeps about one channel's registration."""

    state: RegistrationState = RegistrationState.UNKNOWN
    reason: ReauthorizationReason | None = None
    next_attempt_at: datetime | None = None
    failures_in_a_row: int = 0
    #: A live number's display-name change and, once approved, its deadline (``NAME_CHANGE_WINDOW``).
    name_change: NameChange | None = None
    name_change_deadline: datetime | None = None
    #: Why a person must act, while ``needs_attention`` (``None`` in every other state).
    attention: Attention | None = None
    #: Meta's time of the newest display-name fact applied: a decision's or a health read's.
    name_decided_at: datetime | None = None
    #: Meta lowered the number's messaging limit (``phone_number_quality_update`` ``DOWNGRADE``) and
    #: has not raised it since (``UPGRADE``): a situation of its own, never "healthy".
    limit_lowered: bool = False

    def knows_name_after(self, at: datetime) -> bool:
        """A name fact newer than ``at`` was applied: what Meta said at ``at`` is outdated."""
        return self.name_decided_at is not None and at < self.name_decided_at

    @property
    def reauthorization_required(self) -> bool:
        return self.reason is not None

    @property
    def waits_on_customer(self) -> bool:
        return self.reason in CUSTOMER_REASONS

    @property
    def needs_person(self) -> bool:
        """An operator (``needs_attention``) or the customer (reauthorize) must act."""
        return self.state in PERSON_STATES or self.waits_on_customer

    @property
    def retryable(self) -> bool:
        """The fleet may retry it without a person (backoff and budget still apply)."""
        return self.state in RETRYABLE_STATES and not self.waits_on_customer


# ---- events: what a part of the provider saw --------------------------------------------------


@dataclass(frozen=True, slots=True)
class HealthRead:
    """A successful health read (audit, onboarding, API refresh, after registering)."""

    health: PhoneHealth
    at: datetime
    just_registered: bool = False


@dataclass(frozen=True, slots=True)
class GraphFailed:
    """A Graph call about the channel failed; only errors that need the customer change anything."""

    kind: ErrorKind
    at: datetime


@dataclass(frozen=True, slots=True)
class CustomerMustReauthorize:
    """A check outside Graph's error codes (``debug_token``) found the token unusable."""

    reason: ReauthorizationReason
    at: datetime


@dataclass(frozen=True, slots=True)
class ReadyToDecide:
    """Live health read under a registration claim: decide whether to call ``/register``.

    ``error`` instead of ``health`` when that read failed permanently: no call, and the
    channel takes the error's outcome (a dead token → ``reauthorization_required``).
    """

    at: datetime
    health: PhoneHealth | None = None
    error: ErrorKind | None = None
    attempt_times: Sequence[datetime] = ()


@dataclass(frozen=True, slots=True)
class RegisterAnswered:
    """A register call was sent; ``error`` is the Graph error kind, ``None`` for success.

    ``wait``: the time Meta named in the error's ``details`` (133008/133009, 133015);
    ``answered=False``: no answer came back (timeout, lost connection, the worker died).
    """

    error: ErrorKind | None
    at: datetime
    attempt_times: Sequence[datetime] = ()
    wait: timedelta | None = None
    answered: bool = True


@dataclass(frozen=True, slots=True)
class NameReviewWaiting:
    """The onboarding sensor starts waiting for Meta's display-name review."""

    at: datetime


@dataclass(frozen=True, slots=True)
class NameWaitEnded:
    """The onboarding wait outlasted its timeout: the fleet takes the channel over."""

    at: datetime


@dataclass(frozen=True, slots=True)
class TokenRenewed:
    """A new Embedded Signup token for the channel (reauthorization)."""

    at: datetime


# ---- Meta webhook events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameReviewDecided:
    """Meta's ``phone_number_name_update``: APPROVED, REJECTED (and why), DEFERRED, PENDING.

    ``at``: when it is applied; ``decided_at``: Meta's time of the decision (the notification's
    entry ``time``), which decides whether it is stale (``None``: ``at``).
    """

    decision: str
    at: datetime
    rejection_reason: str | None = None
    decided_at: datetime | None = None

    @property
    def observed_at(self) -> datetime:
        return self.at if self.decided_at is None else self.decided_at


@dataclass(frozen=True, slots=True)
class QualityChanged:
    """Meta's ``phone_number_quality_update``: quality lives in the snapshot; a messaging-limit
    ``DOWNGRADE`` is kept (``Registration.limit_lowered``) until Meta sends ``UPGRADE``."""

    event: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """Meta's ``account_update`` for the channel's WABA (``ban_state`` for ``DISABLED_UPDATE``)."""

    event: str
    at: datetime
    ban_state: str | None = None


# ---- lifecycle events: display-name changes of live numbers, offboarding ----------------------


@dataclass(frozen=True, slots=True)
class NameChangeRequested:
    """Meta accepted a ``new_display_name`` request; its review outcome arrives with health reads."""

    at: datetime


@dataclass(frozen=True, slots=True)
class Offboarded:
    """The number was deregistered and the channel deactivated: nothing is planned any more.

    A later onboarding of the same number starts from ``unknown`` (its history stays).
    """

    at: datetime


Event = (
    HealthRead
    | GraphFailed
    | CustomerMustReauthorize
    | ReadyToDecide
    | RegisterAnswered
    | NameReviewWaiting
    | NameWaitEnded
    | TokenRenewed
    | NameReviewDecided
    | QualityChanged
    | AccountEvent
    | NameChangeRequested
    | Offboarded
)


# ---- effects: what the caller carries out -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterNow:
    """Send ``POST /{phone_number_id}/register`` now (then feed :class:`RegisterAnswered`)."""


@dataclass(frozen=True, slots=True)
class ScheduleAt:
    """The fleet retries at ``at``."""

    at: datetime


@dataclass(frozen=True, slots=True)
class FlagForPerson:
    """Someone must act: the customer (reauthorize) or an operator (``needs_attention``)."""

    state: RegistrationState
    reason: ReauthorizationReason | None


@dataclass(frozen=True, slots=True)
class EndNameWait:
    """Meta decided the name while the onboarding sensor waits: its trigger sees the decision in the store."""


@dataclass(frozen=True, slots=True)
class FlagNameChange:
    """A live number's display-name change lapsed or was declined: someone must ask again."""

    name_change: NameChange
    advice: str


Effect = RegisterNow | ScheduleAt | FlagForPerson | EndNameWait | FlagNameChange


@dataclass(frozen=True, slots=True)
class Transition:
    registration: Registration
    effects: tuple[Effect, ...] = ()
    decision: Decision | None = None
    outcome: Outcome | None = None
    #: The event was older than what the registration knew: nothing changed.
    stale: bool = False

    @property
    def register_now(self) -> bool:
        return any(isinstance(e, RegisterNow) for e in self.effects)


# ---- the machine ------------------------------------------------------------------------------


def with_reason(
    current: ReauthorizationReason | None, new: ReauthorizationReason | None
) -> ReauthorizationReason | None:
    """Apply ``new`` (``None`` = "no incomplete registration") with the customer reasons' precedence."""
    if new in CUSTOMER_REASONS:
        return new
    if current in CUSTOMER_REASONS:
        return current
    return new


def _effects(registration: Registration, previous: Registration) -> tuple[Effect, ...]:
    effects: list[Effect] = []
    if registration.next_attempt_at is not None and registration.next_attempt_at != previous.next_attempt_at:
        effects.append(ScheduleAt(registration.next_attempt_at))
    if registration.needs_person and (registration.state, registration.reason) != (
        previous.state,
        previous.reason,
    ):
        effects.append(FlagForPerson(registration.state, registration.reason))
    flagged = registration.name_change
    if flagged in NAME_CHANGE_ADVICE and flagged != previous.name_change:
        effects.append(FlagNameChange(flagged, NAME_CHANGE_ADVICE[flagged]))
    return tuple(effects)


def _apply_outcome(
    current: Registration,
    outcome: Outcome,
    *,
    at: datetime,
    failures: int,
    attempt_times: Sequence[datetime],
    rng: random.Random | None,
    wait: timedelta | None = None,
) -> Registration:
    due = next_attempt_at(
        outcome, now=at, failures_in_a_row=failures, attempt_times=attempt_times, rng=rng, wait=wait
    )
    return replace(
        current,
        state=outcome.state,
        reason=with_reason(current.reason, outcome.reauthorization),
        next_attempt_at=due,
        failures_in_a_row=failures,
        attention=outcome.attention,
    )


def _name_read(current: Registration, event: HealthRead) -> Registration:
    """What a read of ``name_status`` tells: the newest name fact, and a decline it outdates.

    A read at least as new as the decision the registration follows wins over it (the decision's
    webhook may have come late, and a later one may be lost): a channel flagged for a declined
    name whose name Meta shows otherwise now (approved, or in review again) is due now, and the
    usual register path reads it again and decides. An older read changes nothing here.
    """
    status = event.health.name_status
    if status is None or current.knows_name_after(event.at):
        return current
    seen = replace(current, name_decided_at=event.at)
    if current.attention is Attention.DISPLAY_NAME_DECLINED and status != NAME_DECLINED:
        return replace(seen, state=RegistrationState.SCHEDULED, next_attempt_at=event.at, attention=None)
    return seen


def _verification_read(current: Registration, event: HealthRead) -> Registration:
    """A number flagged for re-verification (133006) that Meta now reads ``VERIFIED`` was verified
    again by a person: due now, and the usual register path reads it again and decides.

    Only this attention is proven fixed by a read: Graph shows no PIN (a mismatch is proven gone
    only by a register call that succeeds), and no lock or account event ends in a phone field.
    A pending number reads ``NOT_VERIFIED`` until someone verifies it (Meta's phone-number
    reference: ``code_verification_status``; the simulator does the same).
    """
    if (
        current.state is RegistrationState.NEEDS_ATTENTION
        and current.attention is Attention.NEEDS_REVERIFICATION
        and event.health.code_verification_status == CODE_VERIFIED
    ):
        # The refusal it followed is fixed: no backoff from it (the number reads "pending" again).
        return replace(
            current,
            state=RegistrationState.SCHEDULED,
            next_attempt_at=event.at,
            attention=None,
            failures_in_a_row=0,
        )
    return current


def _health_read(current: Registration, event: HealthRead) -> Registration:
    health = event.health
    current = _verification_read(_name_read(current, event), event)
    if not health.needs_registration:
        return _provisioned_read(current, event)
    if event.just_registered and current.state is RegistrationState.REGISTERED:
        # Meta lags behind a successful register: look again soon, raise no flag.
        return replace(
            current,
            state=RegistrationState.SCHEDULED,
            reason=with_reason(current.reason, None),
            next_attempt_at=event.at + VERIFY_AGAIN_AFTER,
        )
    reason = with_reason(
        current.reason, ReauthorizationReason.REGISTRATION_INCOMPLETE if health.is_pending else None
    )
    if current.state in (RegistrationState.UNKNOWN, RegistrationState.REGISTERED):
        # Needs registration and nothing is planned: the fleet picks it up now.
        return replace(current, state=RegistrationState.SCHEDULED, reason=reason, next_attempt_at=event.at)
    return replace(current, reason=reason)


def transition(current: Registration, event: Event, *, rng: random.Random | None = None) -> Transition:
    """The new registration and the effects the caller carries out, for one event."""
    decision: Decision | None = None
    outcome: Outcome | None = None
    match event:
        case HealthRead():
            new = _health_read(current, event)
        case GraphFailed(kind=kind):
            customer_reason = reauthorization_for(kind)
            new = (
                current
                if customer_reason is None
                else replace(current, reason=with_reason(current.reason, customer_reason))
            )
        case CustomerMustReauthorize(reason=reason):
            new = replace(current, reason=with_reason(current.reason, reason))
        case ReadyToDecide(health=None, error=kind, at=at, attempt_times=times):
            outcome = outcome_of_kind(kind or ErrorKind.UNKNOWN)
            new = _apply_outcome(
                current, outcome, at=at, failures=current.failures_in_a_row, attempt_times=times, rng=rng
            )
        case ReadyToDecide(health=PhoneHealth() as health, at=at, attempt_times=times):
            decision = decide(health)
            if decision is Decision.REGISTER_NEW_NAME and _name_change_lapsed(current, at):
                outcome = NAME_CHANGE_LAPSED
                new = replace(
                    _apply_outcome(current, outcome, at=at, failures=0, attempt_times=times, rng=rng),
                    name_change=NameChange.LAPSED,
                )
            elif decision in REGISTER_DECISIONS:
                return Transition(current, (RegisterNow(),), decision=decision)
            else:
                outcome = outcome_of_decision(decision)
                failures = 0 if outcome.state is RegistrationState.REGISTERED else current.failures_in_a_row
                new = _apply_outcome(current, outcome, at=at, failures=failures, attempt_times=times, rng=rng)
        case RegisterAnswered(error=kind, at=at, attempt_times=times, wait=wait, answered=answered):
            outcome = outcome_of_kind(kind, answered=answered)
            if outcome.state is RegistrationState.REGISTERED:
                failures = 0
            else:
                failures = current.failures_in_a_row + (1 if outcome.streak else 0)
            new = _apply_outcome(
                current, outcome, at=at, failures=failures, attempt_times=times, rng=rng, wait=wait
            )
        case NameReviewWaiting():
            new = replace(current, state=RegistrationState.AWAITING_DISPLAY_NAME)
        case NameWaitEnded(at=at):
            new = replace(
                current,
                state=RegistrationState.SCHEDULED,
                next_attempt_at=at,
                reason=with_reason(current.reason, ReauthorizationReason.REGISTRATION_INCOMPLETE),
            )
        case TokenRenewed():
            reason = None if current.waits_on_customer else current.reason
            state = (
                RegistrationState.UNKNOWN
                if current.state is RegistrationState.REAUTHORIZATION_REQUIRED
                else current.state
            )
            new = replace(current, state=state, reason=reason)
        case NameReviewDecided() | QualityChanged() | AccountEvent():
            return _meta_transition(current, event)
        case NameChangeRequested():
            new = replace(current, name_change=NameChange.REQUESTED, name_change_deadline=None)
        case Offboarded():
            new = Registration()
        case _:
            raise TypeError(f"not a registration event: {event!r}")
    new = _settled(new)
    return Transition(new, _effects(new, current), decision=decision, outcome=outcome)


def _settled(registration: Registration) -> Registration:
    """The attention is kept only while a person must act on it (``needs_attention``)."""
    if registration.state is RegistrationState.NEEDS_ATTENTION or registration.attention is None:
        return registration
    return replace(registration, attention=None)


# ---- Meta webhook events: what each does to a registration ------------------------------------

#: A name approval registers at once the numbers the fleet holds for it.
_FLEET_WAITS_FOR_NAME = frozenset({RegistrationState.SCHEDULED})
#: ``account_update`` events after which only the customer can give the app access again.
ACCOUNT_EVENTS_FOR_CUSTOMER = frozenset({"PARTNER_REMOVED", "PARTNER_APP_UNINSTALLED"})
#: ``account_update`` events a person must look at (``DISABLED_UPDATE`` unless it reinstates).
ACCOUNT_EVENTS_FOR_OPERATOR = frozenset(
    {"ACCOUNT_VIOLATION", "ACCOUNT_RESTRICTION", "ACCOUNT_DELETED", "ACCOUNT_OFFBOARDED", "DISABLED_UPDATE"}
)
_NOT_A_BAN = frozenset({"REINSTATE"})
#: ``phone_number_quality_update`` events that lower and raise the number's messaging limit
#: (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/phone_number_quality_update).
LIMIT_LOWERED = "DOWNGRADE"
LIMIT_RAISED = "UPGRADE"


def _meta_transition(
    current: Registration, event: NameReviewDecided | QualityChanged | AccountEvent
) -> Transition:
    """Meta's pushed events: a decided name wakes whoever waits for it; account trouble flags the channel.

    * A name decision older than the newest name fact applied is stale: nothing changes
      (``Transition.stale``). Any other records its time.
    * ``APPROVED`` while the onboarding sensor waits (``awaiting_display_name``): the state stays,
      the sensor's trigger sees the decision in the store (:class:`EndNameWait`) and the onboarding
      registers; while the fleet holds it (``scheduled``), or flagged for an earlier rejection of
      the name: ``scheduled``, due now and :class:`RegisterNow`.
    * ``REJECTED`` before registration: ``needs_attention`` (the reason is in the event's history).
      A registered number keeps its state: the rejection was of an edit, the old name stays.
    * ``DEFERRED``/``PENDING`` and quality events: recorded, registration unchanged.
    * ``account_update``: partner access removed → the customer must reauthorize
      (``permission_revoked``); a violation, restriction, ban or deletion → ``needs_attention``.
    """
    previous = current
    if isinstance(event, NameReviewDecided):
        if current.knows_name_after(event.observed_at):
            return Transition(current, stale=True)
        current = replace(current, name_decided_at=event.observed_at)
    renamed = _live_name_change_decided(current, event)  # a live number's name change
    if renamed is not None:
        return renamed
    extra: tuple[Effect, ...] = ()
    new = current
    waiting = current.state is RegistrationState.AWAITING_DISPLAY_NAME
    declined = current.attention is Attention.DISPLAY_NAME_DECLINED
    match event:
        case NameReviewDecided(decision="APPROVED", at=at):
            if waiting:
                extra = (EndNameWait(),)
            elif (current.state in _FLEET_WAITS_FOR_NAME or declined) and not current.waits_on_customer:
                new = replace(current, state=RegistrationState.SCHEDULED, next_attempt_at=at)
                extra = (RegisterNow(),)
        case NameReviewDecided(decision="REJECTED"):
            if current.state not in (
                RegistrationState.REGISTERED,
                RegistrationState.REAUTHORIZATION_REQUIRED,
            ):
                new = replace(
                    current,
                    state=RegistrationState.NEEDS_ATTENTION,
                    reason=with_reason(current.reason, ReauthorizationReason.REGISTRATION_INCOMPLETE),
                    next_attempt_at=None,
                    attention=Attention.DISPLAY_NAME_DECLINED,
                )
                extra = (EndNameWait(),) if waiting else ()
        case QualityChanged(event=name) if name == LIMIT_LOWERED:
            new = replace(current, limit_lowered=True)
        case QualityChanged(event=name) if name == LIMIT_RAISED:
            new = replace(current, limit_lowered=False)
        case AccountEvent(event=name) if name in ACCOUNT_EVENTS_FOR_CUSTOMER:
            new = replace(
                current, reason=with_reason(current.reason, ReauthorizationReason.PERMISSION_REVOKED)
            )
        case AccountEvent(event=name, ban_state=ban) if (
            name in ACCOUNT_EVENTS_FOR_OPERATOR and ban not in _NOT_A_BAN
        ):
            if current.state is not RegistrationState.REAUTHORIZATION_REQUIRED:
                new = replace(
                    current,
                    state=RegistrationState.NEEDS_ATTENTION,
                    next_attempt_at=None,
                    attention=Attention.ACCOUNT_EVENT,
                )
        case _:
            pass
    new = _settled(new)
    return Transition(new, _effects(new, previous) + extra)


# ---- display-name changes of live numbers ----------------------------------------------------
#
# Meta: once a display-name change is approved the number must register again within
# ``NAME_CHANGE_WINDOW``, or the change lapses
# (https://developers.facebook.com/documentation/business-messaging/whatsapp/display-names/,
# docs/meta-sources.md). Graph's phone node carries ``new_name_status`` but no approval
# time, so the deadline counts from the first read (or webhook) that shows the approval: the
# fleet audits every hour, so it is at most an audit interval later than Meta's. No register
# call is sent once it has passed, whatever Graph still shows.

#: What a person does about a name change that needs one (the page, the CLI, notifications).
NAME_CHANGE_ADVICE: dict[NameChange, str] = {
    NameChange.LAPSED: ATTENTION_ACTIONS[Attention.NAME_CHANGE_LAPSED],
    NameChange.DECLINED: ATTENTION_ACTIONS[Attention.NAME_CHANGE_DECLINED],
}
NAME_CHANGE_SEVERITY: dict[NameChange, ValueSeverity] = {
    NameChange.REQUESTED: ValueSeverity.NEUTRAL,
    NameChange.APPROVED: ValueSeverity.WARNING,
    NameChange.LAPSED: ValueSeverity.CRITICAL,
    NameChange.DECLINED: ValueSeverity.CRITICAL,
}


def _name_change_lapsed(current: Registration, at: datetime) -> bool:
    deadline = current.name_change_deadline
    return current.name_change is NameChange.APPROVED and deadline is not None and at >= deadline


def name_change_seen(current: Registration, status: str | None, at: datetime) -> Registration:
    """The name change after a read of ``new_name_status`` (``None``: Meta shows none open).

    An approval starts the window once (a later read keeps the first deadline); an approved
    change that disappears before its deadline was applied by a registration (ours or a
    person's in WhatsApp Manager), after it, it lapsed. Lapsed and declined stay flagged until
    a new request (an approval shown after a lapse is taken for the lapsed one).
    """
    kept = current.name_change
    if status == NEW_NAME_APPROVED:
        if kept is NameChange.LAPSED:
            # Still the lapsed approval (Graph lags, or we are past our own deadline): a new one
            # comes after a new request, which resets the change to ``requested``.
            return current
        if kept is NameChange.APPROVED and current.name_change_deadline is not None:
            if _name_change_lapsed(current, at):
                return replace(current, name_change=NameChange.LAPSED)
            return current
        return replace(current, name_change=NameChange.APPROVED, name_change_deadline=at + NAME_CHANGE_WINDOW)
    if status == NAME_IN_REVIEW:
        return replace(current, name_change=NameChange.REQUESTED, name_change_deadline=None)
    if status == NAME_DECLINED:
        return replace(current, name_change=NameChange.DECLINED, name_change_deadline=None)
    if status == NEW_NAME_EXPIRED or (kept is NameChange.APPROVED and _name_change_lapsed(current, at)):
        return replace(current, name_change=NameChange.LAPSED)
    if kept is NameChange.APPROVED:
        return replace(current, name_change=None, name_change_deadline=None)
    return current


def _live_name_change_decided(
    current: Registration, event: NameReviewDecided | QualityChanged | AccountEvent
) -> Transition | None:
    """Meta's decision on a name change we requested for a registered number (webhook).

    Approved: the window counts from Meta's decision time, the re-registration is due now and
    :class:`RegisterNow` starts it; rejected: ``declined``, flagged. Anything else: ``None``.
    """
    if not (
        isinstance(event, NameReviewDecided)
        and current.state is RegistrationState.REGISTERED
        and current.name_change is NameChange.REQUESTED
    ):
        return None
    if event.decision == NEW_NAME_APPROVED:
        seen = name_change_seen(current, NEW_NAME_APPROVED, event.at)
        new = replace(seen, state=RegistrationState.SCHEDULED, next_attempt_at=event.at)
        return Transition(new, (*_effects(new, current), RegisterNow()))
    if event.decision == "REJECTED":
        new = replace(current, name_change=NameChange.DECLINED, name_change_deadline=None)
        return Transition(new, _effects(new, current))
    return None


def _provisioned_read(current: Registration, event: HealthRead) -> Registration:
    """A live number: registered, unless an approved name change needs a register call first."""
    seen = name_change_seen(
        replace(current, reason=with_reason(current.reason, None)), event.health.new_name_status, event.at
    )
    if seen.name_change is not NameChange.APPROVED:
        return replace(seen, state=RegistrationState.REGISTERED, next_attempt_at=None, failures_in_a_row=0)
    if seen.state in (RegistrationState.UNKNOWN, RegistrationState.REGISTERED):
        # Schedule the re-registration now (the fleet's retries pick it up in the same run); right
        # after our own register call Meta may still show the approval: look again soon.
        wait = VERIFY_AGAIN_AFTER if event.just_registered else timedelta(0)
        return replace(seen, state=RegistrationState.SCHEDULED, next_attempt_at=event.at + wait)
    return seen  # already scheduled, backing off, blocked or waiting on a person: keep that


#: Meta's length limits for ``new_display_name`` (the OpenAPI spec of the Business Messaging API
#: v23.0, ``new_display_name``: minLength 2, maxLength 75; the simulator enforces the same).
DISPLAY_NAME_MIN_LENGTH = 2
DISPLAY_NAME_MAX_LENGTH = 75


class DisplayNameInvalid(ValueError):
    """The requested display name breaks a rule Meta documents; nothing was sent."""


def validate_display_name(name: str) -> str:
    """The name as it will be sent (outer whitespace trimmed), or :class:`DisplayNameInvalid`.

    Checked here: the documented length (2-75 characters), and no control characters or line
    breaks (a profile name is one line). Meta's naming guidelines (no generic terms, consistent
    branding, sparing capitals) are judgements its review makes; a declined name comes back as
    ``new_name_status DECLINED`` and is flagged.
    """
    trimmed = name.strip()
    if not DISPLAY_NAME_MIN_LENGTH <= len(trimmed) <= DISPLAY_NAME_MAX_LENGTH:
        raise DisplayNameInvalid(
            f"a display name has {DISPLAY_NAME_MIN_LENGTH} to {DISPLAY_NAME_MAX_LENGTH} characters, "
            f"this one {len(trimmed)}"
        )
    if any(not ch.isprintable() for ch in trimmed):
        raise DisplayNameInvalid("a display name is one line without control characters")
    return trimmed
