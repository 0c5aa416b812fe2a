"""One registration attempt for one channel: the single path every DAG and the API share.

Claim the channel (one worker per number), re-read live health under the claim, apply the
pure decision, and send ``/register`` only when it can succeed: the attempt is committed
before the request leaves and completed with its answer after (write-ahead, see
:mod:`whatsapp.store.attempts`), so every call Meta counts is in the store even when the
worker dies mid-call. Airflow-free: operators translate the report into task success,
retry or failure.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pendulum

from whatsapp.domain.registration import (
    REGISTER_ALLOWANCE,
    Action,
    Decision,
    Outcome,
    RegistrationState,
    decide,
    span_words,
)
from whatsapp.errors import GraphApiError

if TYPE_CHECKING:
    from whatsapp.domain.health import PhoneHealth
    from whatsapp.domain.registration_machine import Transition
    from whatsapp.hooks.graph import WhatsAppGraphHook
    from whatsapp.store import Channel, ChannelStore
    from whatsapp.store.attempts import RegistrationClaim

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RegistrationReport:
    """What happened, small and secret-free: returned by tasks, shown in logs."""

    channel_id: int
    phone_number_id: str
    decision: str | None
    action: str
    state: str | None
    register_calls: int
    next_attempt_at: str | None = None
    error: dict[str, Any] | None = None
    message: str = ""
    attention: str | None = None  # the Attention a person acts on (domain/registration.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RegistrationFailed(Exception):
    """A permanent outcome a person must act on; carries the report (and the Graph error)."""

    def __init__(self, report: RegistrationReport, error: GraphApiError | None = None) -> None:
        self.report = report
        self.error = error
        super().__init__(report.message)


def attempt_registration(
    hook: WhatsAppGraphHook,
    store: ChannelStore,
    channel_id: int,
    *,
    respect_backoff: bool,
    respect_state: bool | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> RegistrationReport:
    """Register ``channel_id`` if, and only if, live health says it is needed and can succeed.

    Returns the report for done / waiting / scheduled / blocked / skipped outcomes.
    Raises :class:`GraphApiError` for transient failures (the task retries; a sent call is
    already recorded) and :class:`RegistrationFailed` when a person must act.
    """
    from whatsapp.store import HealthResult

    credentials = store.channels.credentials(channel_id)
    with store.attempts.claim(
        channel_id, respect_backoff=respect_backoff, respect_state=respect_state, now=now
    ) as claim:
        if claim is None:
            return _not_claimed(store, channel_id, credentials.phone_number_id, now)
        channel = claim.channel
        try:
            health = hook.get_phone_health(channel.phone_number_id, credentials.access_token)
        except GraphApiError as error:
            if error.retryable:
                raise  # nothing recorded: a failed health read never leads to a register call
            moved = claim.decide(error=error.kind)
            report = _report(channel_id, channel.phone_number_id, moved, 0, error)
            report = replace(report, message=f"health check before registering failed: {error}")
            raise RegistrationFailed(report, error) from None

        moved = claim.decide(health)
        error = None
        calls = 0
        if moved.register_now:
            log.info(
                "Registering %s (%s attempts left in %s)",
                channel.phone_number_id,
                claim.budget_left,
                span_words(REGISTER_ALLOWANCE.window),
            )
            calls = 1
            # Committed before the request leaves; Meta counts the call from when it is sent.
            claim.write_ahead(attempted_at=pendulum.now("UTC"), run_id=run_id)
            try:
                hook.register(channel.phone_number_id, credentials.access_token, credentials.pin)
            except GraphApiError as exc:
                error = exc
            except BaseException as exc:
                # Sent, answer unknown (task timeout, SIGTERM, a bug): record it as such if we can;
                # if not, the committed intent still counts and the next attempt reconciles.
                _record_lost_answer(claim, exc)
                raise
            moved = replace(claim.record_attempt(error), decision=moved.decision)

    registered = calls == 1 and error is None
    if calls == 0 or registered:
        # After a successful call the read that decided is stale: store the verification instead,
        # and only if it worked (a failed read never moves a channel Meta accepted backwards).
        checked = _verify(hook, channel.phone_number_id, credentials.access_token) if registered else health
        if checked is not None:
            store.health.record(
                [
                    HealthResult(
                        channel_id=channel_id,
                        checked_at=pendulum.now("UTC"),
                        health=checked,
                        just_registered=registered,
                    )
                ],
                run_id=run_id,
            )
    stored = store.channels.by_id(channel_id)
    report = _report(channel_id, channel.phone_number_id, moved, calls, error)
    due = stored.next_attempt_at if stored else None
    report = replace(report, next_attempt_at=due.isoformat() if due else None)
    assert moved.outcome is not None
    if error is not None and moved.outcome.action in (Action.RETRY_TASK, Action.RECONCILE):
        raise error
    if moved.outcome.action in (Action.NEEDS_ATTENTION, Action.REAUTHORIZE):
        raise RegistrationFailed(report, error)
    return report


def manual_register_refusal(channel: Channel, now: datetime) -> str | None:
    """Why a person's *Complete registration* (one channel, or many at once) queues no register call.

    Decided on the stored health and registration, before anything is queued: a number the last
    check shows provisioned and verified would only be re-read and skipped; a WhatsApp Business
    app number takes no register call; a number Meta blocked (133016) stays refused until its
    window reopens. ``None``: the register path may run (it re-reads live health under the
    channel's claim and never exceeds the budget).
    """
    decision = decide(channel.health) if channel.health is not None else None
    if decision is Decision.ALREADY_PROVISIONED:
        return "registration not needed: the last health check shows the number provisioned and verified"
    if decision is Decision.ON_BUSINESS_APP:
        return (
            "registration not needed: a WhatsApp Business app number is registered through the app, "
            "and Meta takes no register call for it"
        )
    return register_limit_refusal(channel, now)


def register_limit_refusal(channel: Channel, now: datetime) -> str | None:
    """Why no register call may be queued for a number Meta blocked (133016), until its window reopens.

    A manual run bypasses the fleet's backoff, and our budget counts only our own calls (a
    person may have spent the rest of Meta's allowance in WhatsApp Manager), so a blocked number
    would get one more refused call. A blocked channel's ``next_attempt_at`` is when the window
    reopens (``domain.registration.next_attempt_at``); without one it stays closed until the fleet
    decides again.
    """
    from whatsapp.store.views import isoformat

    if channel.registration_state is not RegistrationState.BLOCKED:
        return None
    reopens = channel.next_attempt_at
    if reopens is not None and reopens <= now:
        return None
    when = f" at {isoformat(reopens)}" if reopens is not None else ""
    return (
        "Meta's register limit for this number is reached (133016): a register call before the "
        f"window reopens{when} would be refused again"
    )


#: ``RegistrationReport.action`` when an earlier call's answer is still unknown (not claimable).
AWAITING_ANSWER = "awaiting_answer"


def _not_claimed(
    store: ChannelStore, channel_id: int, phone_number_id: str, now: datetime | None
) -> RegistrationReport:
    """Why the claim was refused, when it is the wait after an unanswered call: tasks retry that."""
    until = store.attempts.unanswered_until(channel_id, now=now)
    if until is not None:
        return RegistrationReport(
            channel_id=channel_id,
            phone_number_id=phone_number_id,
            decision=None,
            action=AWAITING_ANSWER,
            state=None,
            register_calls=0,
            next_attempt_at=until.isoformat(),
            message=(
                "an earlier register call is in flight or its answer was lost: no new call before "
                f"{until.isoformat()}, then Meta's health decides"
            ),
        )
    return RegistrationReport(
        channel_id=channel_id,
        phone_number_id=phone_number_id,
        decision=None,
        action="skipped",
        state=None,
        register_calls=0,
        message=(
            f"not claimable now: not due, register budget ({REGISTER_ALLOWANCE.budget_words}) spent, "
            "or held by another run"
        ),
    )


def _record_lost_answer(claim: RegistrationClaim, exc: BaseException) -> None:
    lost = GraphApiError.transport(f"outcome unknown ({type(exc).__name__})", operation="register")
    try:
        claim.record_attempt(lost)
    except Exception as failure:  # the original exception matters more; the intent is committed
        log.error("Could not record the lost register answer for channel %s: %s", claim.channel.id, failure)


def _report(
    channel_id: int, phone_number_id: str, moved: Transition, calls: int, error: GraphApiError | None
) -> RegistrationReport:
    assert moved.outcome is not None
    return RegistrationReport(
        channel_id=channel_id,
        phone_number_id=phone_number_id,
        decision=None if moved.decision is None else moved.decision.value,
        action=moved.outcome.action.value,
        state=moved.outcome.state.value,
        register_calls=calls,
        error=error.to_dict() if error else None,
        message=_message(moved.decision, moved.outcome, error),
        attention=None if moved.outcome.attention is None else moved.outcome.attention.value,
    )


def _verify(hook: WhatsAppGraphHook, phone_number_id: str, token: str) -> PhoneHealth | None:
    """Read health once more after registering; a failed read only costs the fresher snapshot."""
    try:
        return hook.get_phone_health(phone_number_id, token)
    except GraphApiError as error:
        log.warning("Registered %s, but reading its health afterwards failed: %s", phone_number_id, error)
        return None


def _message(decision: Decision | None, outcome: Outcome, error: GraphApiError | None) -> str:
    if decision is Decision.ALREADY_PROVISIONED:
        return "already provisioned: no register call sent"
    if decision is Decision.ON_BUSINESS_APP:
        return "a WhatsApp Business app number: registered through the app, no register call sent"
    if decision is Decision.WAIT_FOR_DISPLAY_NAME:
        return "display name still in review: no register call spent, retry scheduled"
    if outcome.advice is not None and error is None:
        return outcome.advice
    if error is None:
        return "registered"
    what = {
        Action.BACKOFF: "register failed, retry scheduled",
        Action.BLOCKED: (
            f"Meta's register limit ({REGISTER_ALLOWANCE}) reached, blocked until the window reopens"
        ),
        Action.NEEDS_ATTENTION: "register failed and needs a person",
        Action.REAUTHORIZE: "register failed, the customer must reauthorize",
        Action.RETRY_TASK: "register failed transiently, retrying",
        Action.RECONCILE: "register sent but its answer was lost; Meta's health decides the next step",
    }[outcome.action]
    advice = f" ({outcome.advice})" if outcome.advice else ""
    return f"{what}{advice}: {error}"
