"""A small fleet, one channel per state the health page must show, built the way the DAGs build it.

Numbers live in the simulator; channels are saved in the store with the simulator's tokens;
health is fetched through the real hook and stored with ``record_health``. The channel whose
name is still in review also gets one real failed register call (Graph 100/2388001), so the
page and the API have an attempt with a Graph error to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from include.graph_simulator.process import SimulatorControl
from whatsapp.errors import GraphApiError
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.store import ChannelStore, HealthResult

ACCOUNT_ID = 1

#: What the simulator holds for a number live on Cloud API, and for one still pending (the browser
#: suite's seed builds on both too).
LIVE = {
    "name_status": "APPROVED",
    "code_verification_status": "VERIFIED",
    "platform_type": "CLOUD_API",
    "throughput_level": "STANDARD",
    "messaging_limit_tier": "TIER_1K",
    "quality_rating": "GREEN",
    "status": "CONNECTED",
    "account_mode": "LIVE",
}
PENDING = {
    **LIVE,
    "code_verification_status": "NOT_VERIFIED",
    "platform_type": "NOT_APPLICABLE",
    "throughput_level": "NOT_APPLICABLE",
    "status": "PENDING",
}

#: Inbox order = insertion order: inbox 1 is "healthy", inbox 4 "pending", ...
SPECS: dict[str, dict[str, Any]] = {
    "healthy": {**LIVE, "verified_name": "Acme Healthy"},
    "yellow": {**LIVE, "verified_name": "Acme Yellow", "quality_rating": "YELLOW"},
    "red": {**LIVE, "verified_name": "Acme Red", "quality_rating": "RED", "status": "FLAGGED"},
    "pending": {**PENDING, "verified_name": "Acme Pending"},
    "in_review": {
        **PENDING,
        "verified_name": "Acme Review",
        "name_status": "PENDING_REVIEW",
        "review_seconds": 10**7,
    },
    "declined": {**PENDING, "verified_name": "Acme Declined", "name_status": "DECLINED"},
}


@dataclass(frozen=True)
class SeededChannel:
    key: str
    channel_id: int
    account_id: int
    inbox_id: int
    phone_number_id: str

    @property
    def path(self) -> str:
        return f"/whatsapp/api/v1/accounts/{self.account_id}/inboxes/{self.inbox_id}"


def seed_fleet(
    store: ChannelStore, sim: SimulatorControl, hook: WhatsAppGraphHook
) -> dict[str, SeededChannel]:
    """Create every channel of :data:`SPECS`, store its live health, and one failed register call."""
    seeded: dict[str, SeededChannel] = {}
    for key, spec in SPECS.items():
        number = sim.add_number(**spec)
        token = sim.new_token(number["waba_id"])
        channel = store.channels.upsert(
            account_id=ACCOUNT_ID,
            phone_number_id=number["phone_number_id"],
            waba_id=number["waba_id"],
            business_id=number["business_id"],
            access_token=token,
            display_phone_number=number["display_phone_number"],
            verified_name=spec["verified_name"],
        )
        health = hook.get_phone_health(channel.phone_number_id, token)
        store.health.record(
            [HealthResult(channel_id=channel.id, checked_at=datetime.now(UTC), health=health)]
        )
        seeded[key] = SeededChannel(
            key, channel.id, channel.account_id, channel.inbox_id, channel.phone_number_id
        )
    _failed_register_call(store, hook, seeded["in_review"])
    return seeded


def _failed_register_call(store: ChannelStore, hook: WhatsAppGraphHook, seeded: SeededChannel) -> None:
    credentials = store.channels.credentials(seeded.channel_id)
    with store.attempts.claim(seeded.channel_id, respect_backoff=False) as claim:
        assert claim is not None
        try:
            hook.register(credentials.phone_number_id, credentials.access_token, credentials.pin)
        except GraphApiError as error:
            claim.record_attempt(error, run_id="seeded_attempt")
        else:
            raise AssertionError("registering a number whose name is in review must fail")


def secret_values(store: ChannelStore, sim: SimulatorControl, seeded: dict[str, SeededChannel]) -> set[str]:
    """Every secret of the seeded fleet: the store's view and the simulator's (PIN, verify token)."""
    secrets: set[str] = set()
    for channel in seeded.values():
        credentials = store.channels.credentials(channel.channel_id)
        secrets |= {credentials.access_token, credentials.pin, credentials.verify_token}
        number = sim.number(channel.phone_number_id)
        secrets |= {
            value
            for value in (number.get("pin"), (number.get("webhook_configuration") or {}).get("verify_token"))
            if value
        }
    secrets.add(sim.app_secret)
    return {s for s in secrets if len(s) >= 6}
