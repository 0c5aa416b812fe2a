"""Small builders shared by the store tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import ReauthorizationReason, RegistrationState
from whatsapp.domain.registration_machine import CustomerMustReauthorize
from whatsapp.store import Channel, ChannelStore

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

PROVISIONED = {
    "name_status": "APPROVED",
    "code_verification_status": "VERIFIED",
    "platform_type": "CLOUD_API",
    "throughput": {"level": "STANDARD"},
    "quality_rating": "GREEN",
    "status": "CONNECTED",
    "account_mode": "LIVE",
    "messaging_limit_tier": "TIER_1K",
}
PENDING = {**PROVISIONED, "platform_type": "NOT_APPLICABLE", "throughput": {"level": "NOT_APPLICABLE"}}


def health(phone_number_id: str, **fields: Any) -> PhoneHealth:
    return PhoneHealth.from_graph({"id": phone_number_id, **PROVISIONED, **fields})


def add_channel(store: ChannelStore, n: int, account_id: int = 1, **kwargs: Any) -> Channel:
    return store.channels.upsert(
        account_id=account_id,
        phone_number_id=f"10654035224{n:04d}",
        waba_id="102290129340398",
        business_id="506914307656634",
        access_token=f"EAAG-token-{n}",
        display_phone_number=f"+1555010{n:04d}",
        **kwargs,
    )


def set_registration(
    store: ChannelStore,
    channel_id: int,
    state: RegistrationState,
    *,
    next_attempt_at: datetime | None = None,
    reason: ReauthorizationReason | str | None = "keep",
) -> None:
    """Put a channel's registration where a test starts (the registration machine moves it from there)."""
    current = store.channels.by_id(channel_id).registration
    store.channels.save_registration(
        channel_id,
        replace(
            current,
            state=state,
            next_attempt_at=next_attempt_at,
            reason=current.reason if reason == "keep" else reason,
        ),
    )


def flag(store: ChannelStore, channel_id: int, reason: ReauthorizationReason) -> None:
    """What the onboarding token check does when the customer must reauthorize."""
    store.channels.apply(channel_id, CustomerMustReauthorize(reason, datetime.now(UTC)))
