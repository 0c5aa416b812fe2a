"""Small builders shared by the store tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from whatsapp.domain.health import PhoneHealth
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
    return store.upsert_channel(
        account_id=account_id,
        phone_number_id=f"10654035224{n:04d}",
        waba_id="102290129340398",
        business_id="506914307656634",
        access_token=f"EAAG-token-{n}",
        display_phone_number=f"+1555010{n:04d}",
        **kwargs,
    )
