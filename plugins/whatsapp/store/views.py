"""The JSON shapes of docs/http-api.md, built in one place for the HTTP API, the CLI and the DAG summary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from whatsapp.domain.business_app import (
    BUSINESS_APP_LABEL,
    SYNC_ORDER,
    SYNC_STATE_WORDS,
    AppLink,
    SyncState,
    SyncType,
)
from whatsapp.domain.health import PUBLIC_FIELDS
from whatsapp.domain.manager_url import whatsapp_manager_url
from whatsapp.domain.registration import NameChange
from whatsapp.domain.registration_machine import NAME_CHANGE_ADVICE
from whatsapp.domain.situations import (
    Refusal,
    Situation,
    SituationDetails,
    SituationKind,
    refused_register_text,
    situation,
)
from whatsapp.errors import ErrorKind
from whatsapp.store.models import (
    ATTEMPT_NO_ANSWER,
    ATTEMPT_SENT,
    ATTEMPT_SUCCESS,
    Channel,
    ChannelStatus,
    HealthCheck,
    RegistrationAttempt,
)

#: Kept on the channel itself (Graph may omit them from a read; the last known value stays).
_IDENTITY = frozenset({"display_phone_number", "verified_name"})


def isoformat(value: datetime | None) -> str | None:
    """UTC with a ``Z``, as docs/http-api.md shows it (``2026-11-24T08:00:00Z``)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def channel_api_dict(status: ChannelStatus, *, fleet_paused: bool = False) -> dict[str, Any]:
    """One channel in the health API's shape (docs/http-api.md): ids, health, flags, registration
    (``fleet_paused``: see :func:`channel_situation`)."""
    channel, registration = status.channel, status.registration
    shape: dict[str, Any] = {
        "account_id": channel.account_id,
        "inbox_id": channel.inbox_id,
        "phone_number_id": channel.phone_number_id,
        "waba_id": channel.waba_id,
        "business_id": channel.business_id,
    }
    for health_field in PUBLIC_FIELDS:
        value = channel.health.get(health_field.name) if channel.health else None
        if health_field.name in _IDENTITY:
            value = getattr(channel, health_field.name)
        _put(shape, health_field.api_key_path, value)
    return {
        **shape,
        "checked_at": isoformat(channel.checked_at),
        "provisioning": channel.provisioning,
        "reauthorization_required": channel.reauthorization_required,
        "reauthorization_reason": channel.reauthorization_reason and channel.reauthorization_reason.value,
        "registration": {
            "state": registration.state.value,
            "attempts_72h": registration.attempts_72h,
            "last_attempt_at": isoformat(registration.last_attempt_at),
            "last_error": error_dict(registration.last_error),
            "next_attempt_at": isoformat(registration.next_attempt_at),
        },
        "links": {"whatsapp_manager": whatsapp_manager_url(channel.business_id, channel.waba_id)},
        "active": channel.active,
        "offboarded_at": isoformat(channel.offboarded_at),
        "name_change": name_change_dict(channel),
        "business_app": business_app_dict(channel),
        "notes": lifecycle_notes(channel),
        "situation": situation_dict(channel_situation(status, fleet_paused=fleet_paused)),
    }


def channel_situation(status: ChannelStatus, *, fleet_paused: bool = False) -> Situation:
    """The channel's situation (``whatsapp.domain.situations``) from what the store read with it.

    ``fleet_paused``: the fleet DAG is paused (the API reads it from Airflow), so the words say
    nothing is retried rather than "the fleet retries by itself".
    """
    channel, registration = status.channel, status.registration
    details = SituationDetails(
        created_at=channel.created_at,
        checked_at=channel.checked_at,
        offboarded_at=channel.offboarded_at,
        next_attempt_at=registration.next_attempt_at,
        attempts_72h=registration.attempts_72h,
        last_attempt_at=registration.last_attempt_at,
        last_attempt_error=registration.last_error,
        last_check_failed_at=channel.last_check_failed_at,
        last_check_error=channel.last_check_error,
        name_change_deadline=channel.name_change_deadline,
        new_display_name=channel.health.get("new_display_name") if channel.health else None,
        account_event=status.account_event,
        sync_deadline=channel.sync_deadline,
        offboard_reason=channel.offboard_reason,
        fleet_paused=fleet_paused,
        messaging_limit=channel.health.get("messaging_limit_tier") if channel.health else None,
    )
    return situation(status.facts, details)


def error_dict(error: Refusal | None) -> dict[str, Any] | None:
    """The API's error shape (docs/http-api.md): ``type``, ``message``, ``code``, ``subcode``."""
    if error is None:
        return None
    return {"type": error.kind, "message": error.message, "code": error.code, "subcode": error.subcode}


def situation_dict(found: Situation) -> dict[str, Any]:
    """The ``situation`` object of every channel in the API (the page's banner and problem cell)."""
    return {
        "kind": found.kind.value,
        "severity": found.severity.value,
        "needs_action": found.needs_action,
        "title": found.title,
        "detail": found.detail,
        "since": isoformat(found.since),
        "next_try": isoformat(found.next_try),
        "deadline": isoformat(found.deadline),
        "error": error_dict(found.error),
        "action": {"kind": found.action.kind.value, "label": found.action.label},
    }


def _day(value: datetime | None) -> str:
    return "?" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def name_change_dict(channel: Channel) -> dict[str, Any] | None:
    """A live number's display-name change: status, the name, the deadline, in words."""
    change = channel.name_change
    if change is None:
        return None
    new_name = channel.health.get("new_display_name") if channel.health else None
    named = f" ({new_name})" if new_name else ""
    deadline = _day(channel.name_change_deadline)
    text = {
        NameChange.REQUESTED: f"name change{named} in review at Meta",
        NameChange.APPROVED: f"name change{named} approved — re-register by {deadline}",
    }.get(change) or f"name change {change.value}: {NAME_CHANGE_ADVICE[change]}"
    return {
        "status": change.value,
        "new_display_name": new_name,
        "deadline": isoformat(channel.name_change_deadline),
        "text": text,
    }


def business_app_dict(channel: Channel) -> dict[str, Any] | None:
    """A WhatsApp Business app number's link, its two syncs and their deadline (``None`` for others)."""
    if channel.business_app is None:
        return None
    syncs = channel.syncs
    return {
        "label": BUSINESS_APP_LABEL,
        "link": channel.business_app.value,
        "syncs": {sync.name.lower(): _sync_dict(sync, syncs.state(sync), channel) for sync in SYNC_ORDER},
        # Shown while a sync can still be requested; after it, what was not requested is lost.
        "sync_deadline": isoformat(syncs.deadline),
        "message_echoes": channel.message_echoes,
    }


def _sync_dict(sync: SyncType, state: SyncState | None, channel: Channel) -> dict[str, Any]:
    progress = channel.history_sync_progress if sync is SyncType.HISTORY else None
    words = "not tracked" if state is None else SYNC_STATE_WORDS[state]
    shown = f"{words} ({progress} %)" if progress is not None and state is SyncState.IN_PROGRESS else words
    return {
        "sync_type": sync.value,
        "label": sync.label,
        "state": None if state is None else state.value,
        "text": shown,
        "progress": progress,
    }


def lifecycle_notes(channel: Channel) -> list[str]:
    """The plain lines the API, the CLI and the page show about name changes, offboarding and the
    WhatsApp Business app."""
    notes = []
    if channel.offboarded_at is not None and not channel.active:
        said = (
            f" ({channel.offboarded_by or 'Meta'}: {channel.offboard_reason})"
            if channel.offboard_reason
            else ""
        )
        notes.append(f"offboarded on {_day(channel.offboarded_at)}{said}")
    if channel.business_app is not None:
        syncs = channel.syncs
        notes.append(f"{BUSINESS_APP_LABEL}: {channel.business_app.value}")
        # Only a linked, active number may still be synced (the store refuses the others).
        if syncs.waiting and channel.active and channel.business_app is AppLink.CONNECTED:
            notes.append(f"contacts and chat history can be requested until {_day(syncs.deadline)}")
    change = name_change_dict(channel)
    if change is not None:
        notes.append(change["text"])
    return notes


def _put(shape: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        shape = shape.setdefault(key, {})
    shape[path[-1]] = value


def attempt_dict(attempt: RegistrationAttempt) -> dict[str, Any]:
    return {
        "attempted_at": isoformat(attempt.attempted_at),
        "outcome": attempt.outcome,
        "resulting_state": attempt.resulting_state,
        "code": attempt.code,
        "subcode": attempt.subcode,
        "message": attempt.message,
        "run_id": attempt.run_id,
    }


def health_check_dict(check: HealthCheck) -> dict[str, Any]:
    return {
        "checked_at": isoformat(check.checked_at),
        **check.fields,
        "provisioning": check.provisioning,
        "error": error_dict(check.error),
        "event": check.event,
        "run_id": check.run_id,
    }


#: Airflow run states in which a register run may still send its call.
_ACTIVE_RUN_STATES = frozenset({"queued", "running"})


def register_outcome_dict(
    run_state: str, attempt: RegistrationAttempt | None, now: Situation
) -> dict[str, Any]:
    """What a *Complete registration* run did: the register call it stored, else why it sent none.

    ``attempt`` is the run's newest stored call; ``now`` the channel's situation, which says why
    no call was sent (a name in review, a number already registered) and when the next try is.
    """
    if attempt is not None and attempt.outcome == ATTEMPT_SUCCESS:
        return _outcome("registered", "Meta accepted the register call: the number is registered.")
    if attempt is not None and attempt.outcome not in (ATTEMPT_SENT, ATTEMPT_NO_ANSWER):
        try:
            text = refused_register_text(ErrorKind(attempt.outcome))
        except ValueError:
            text = refused_register_text(ErrorKind.UNKNOWN)
        return _outcome("refused", text, attempt.error, now.next_try)
    if run_state in _ACTIVE_RUN_STATES:
        return _outcome("running", f"The run is {run_state}: it reads the number's health, then decides.")
    if attempt is not None:
        text = "The register call got no answer; the next attempt reads the number's health first."
        return _outcome("failed", text, None, now.next_try)
    if run_state != "success":
        return _outcome("failed", f"The run ended {run_state} before sending a register call; see its log.")
    if now.kind is SituationKind.HEALTHY:
        return _outcome("not_needed", "No register call was needed: the number is registered.")
    return _outcome("no_call", f"No register call was sent ({now.title}). {now.detail}", None, now.next_try)


def _outcome(
    kind: str, text: str, error: Refusal | None = None, next_try: datetime | None = None
) -> dict[str, Any]:
    return {"kind": kind, "text": text, "error": error_dict(error), "next_try": isoformat(next_try)}
