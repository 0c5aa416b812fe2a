"""The JSON shapes of SPEC.md, built in one place for the HTTP API, the CLI and the DAG summary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from whatsapp.domain.links import whatsapp_manager_url
from whatsapp.store.models import ChannelStatus, HealthCheck, RegistrationAttempt


def isoformat(value: datetime | None) -> str | None:
    """UTC with a ``Z``, as in SPEC.md (``2026-11-24T08:00:00Z``)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def channel_api_dict(status: ChannelStatus) -> dict[str, Any]:
    """One channel in the health API's shape (SPEC.md, "HTTP API"): ids, health, flags, registration."""
    channel, registration = status.channel, status.registration
    health = channel.health
    return {
        "account_id": channel.account_id,
        "inbox_id": channel.inbox_id,
        "phone_number_id": channel.phone_number_id,
        "waba_id": channel.waba_id,
        "business_id": channel.business_id,
        "display_phone_number": channel.display_phone_number,
        "verified_name": channel.verified_name,
        "name_status": health and health.name_status,
        "code_verification_status": health and health.code_verification_status,
        "platform_type": health and health.platform_type,
        "throughput": {"level": health and health.throughput_level},
        "messaging_limit_tier": health and health.messaging_limit_tier,
        "quality_rating": health and health.quality_rating,
        "account_mode": health and health.account_mode,
        "status": health and health.status,
        "checked_at": isoformat(channel.checked_at),
        "provisioning": channel.provisioning,
        "reauthorization_required": channel.reauthorization_required,
        "reauthorization_reason": channel.reauthorization_reason and channel.reauthorization_reason.value,
        "registration": {
            "state": registration.state.value,
            "attempts_72h": registration.attempts_72h,
            "last_attempt_at": isoformat(registration.last_attempt_at),
            "last_error": registration.last_error and registration.last_error.to_dict(),
            "next_attempt_at": isoformat(registration.next_attempt_at),
        },
        "links": {"whatsapp_manager": whatsapp_manager_url(channel.business_id, channel.waba_id)},
    }


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
        "error": check.error and check.error.to_dict(),
    }
