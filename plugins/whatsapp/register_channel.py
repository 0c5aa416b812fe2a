"""One registration attempt for one channel: the single path every DAG and the API share.

Claim the channel (one worker per number), re-read live health under the claim, apply the
pure decision, send ``/register`` only when it can succeed, and record the call and the
state it leads to in the claim's transaction. Airflow-free: operators translate the
report into task success, retry or failure.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pendulum

from whatsapp.domain.registration import Action, Decision
from whatsapp.errors import GraphApiError

if TYPE_CHECKING:
    from whatsapp.domain.health import PhoneHealth
    from whatsapp.domain.lifecycle import Transition
    from whatsapp.hooks.graph import WhatsAppGraphHook
    from whatsapp.store import ChannelStore

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
            return RegistrationReport(
                channel_id=channel_id,
                phone_number_id=credentials.phone_number_id,
                decision=None,
                action="skipped",
                state=None,
                register_calls=0,
                message="not claimable now: not due, 72 h budget spent, or held by another run",
            )
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
            log.info("Registering %s (%s attempts left in 72 h)", channel.phone_number_id, claim.budget_left)
            calls = 1
            sent_at = pendulum.now("UTC")  # Meta counts the call from when it is sent
            try:
                hook.register(channel.phone_number_id, credentials.access_token, credentials.pin)
            except GraphApiError as exc:
                error = exc
            except BaseException as exc:
                # Sent, outcome unknown (task timeout, SIGTERM, a bug): it still spends budget.
                unknown = GraphApiError.transport(
                    f"outcome unknown ({type(exc).__name__})", operation="register"
                )
                claim.record_attempt(unknown, attempted_at=sent_at, run_id=run_id)
                raise
            moved = replace(
                claim.record_attempt(error, attempted_at=sent_at, run_id=run_id), decision=moved.decision
            )

    registered = calls == 1 and error is None
    if registered:
        health = _verify(hook, channel.phone_number_id, credentials.access_token) or health
    # After a successful call the read that decided is stale: store the verification instead.
    if calls == 0 or registered:
        store.health.record(
            [
                HealthResult(
                    channel_id=channel_id,
                    checked_at=pendulum.now("UTC"),
                    health=health,
                    just_registered=registered,
                )
            ]
        )
    stored = store.channels.by_id(channel_id)
    report = _report(channel_id, channel.phone_number_id, moved, calls, error)
    due = stored.next_attempt_at if stored else None
    report = replace(report, next_attempt_at=due.isoformat() if due else None)
    assert moved.outcome is not None
    if error is not None and moved.outcome.action is Action.RETRY_TASK:
        raise error
    if moved.outcome.action in (Action.NEEDS_ATTENTION, Action.REAUTHORIZE):
        raise RegistrationFailed(report, error)
    return report


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
        message=_message(moved.decision, moved.outcome.action, error),
    )


def _verify(hook: WhatsAppGraphHook, phone_number_id: str, token: str) -> PhoneHealth | None:
    """Read health once more after registering; a failed read only costs the fresher snapshot."""
    try:
        return hook.get_phone_health(phone_number_id, token)
    except GraphApiError as error:
        log.warning("Registered %s, but reading its health afterwards failed: %s", phone_number_id, error)
        return None


def _message(decision: Decision | None, action: Action, error: GraphApiError | None) -> str:
    if decision is Decision.ALREADY_PROVISIONED:
        return "already provisioned: no register call sent"
    if decision is Decision.WAIT_FOR_DISPLAY_NAME:
        return "display name still in review: no register call spent, retry scheduled"
    if decision is Decision.DISPLAY_NAME_DECLINED:
        return "display name DECLINED: edit it in WhatsApp Manager, then complete registration"
    if error is None:
        return "registered"
    return {
        Action.BACKOFF: f"register failed, retry scheduled with backoff: {error}",
        Action.BLOCKED: f"Meta's register limit reached, blocked until the 72 h window reopens: {error}",
        Action.NEEDS_ATTENTION: f"register failed and needs a person: {error}",
        Action.REAUTHORIZE: f"register failed, the customer must reauthorize: {error}",
        Action.RETRY_TASK: f"register failed transiently, retrying: {error}",
    }[action]
