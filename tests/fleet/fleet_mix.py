"""One realistic fleet, shared by the audit tests and ``bench/fleet_audit.py``.

Every twentieth number repeats the same mix of what an operator meets across a tech
provider's customers: mostly healthy numbers, some never registered (pending), names still
in review or declined, an expired token, and quality already dropping. Each number gets its
own WABA and token, as one Embedded Signup per customer would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from include.graph_simulator.process import SimulatorControl
from whatsapp.store import ChannelStore


class Kind(StrEnum):
    PROVISIONED = "provisioned"
    PENDING = "pending"
    NAME_IN_REVIEW = "name_in_review"
    NAME_DECLINED = "name_declined"
    EXPIRED_TOKEN = "expired_token"
    YELLOW = "yellow"
    RED_FLAGGED = "red_flagged"


_PROVISIONED = {
    "name_status": "APPROVED",
    "platform_type": "CLOUD_API",
    "throughput_level": "STANDARD",
    "status": "CONNECTED",
    "messaging_limit_tier": "TIER_1K",
}
_PENDING = {**_PROVISIONED, "platform_type": "NOT_APPLICABLE", "throughput_level": "NOT_APPLICABLE"}
_PENDING["status"] = "PENDING"

#: What the simulator holds for each kind (a review far in the future stays in review).
SPECS: dict[Kind, dict[str, Any]] = {
    Kind.PROVISIONED: _PROVISIONED,
    Kind.PENDING: _PENDING,
    Kind.NAME_IN_REVIEW: {**_PENDING, "name_status": "PENDING_REVIEW", "review_seconds": 10**7},
    Kind.NAME_DECLINED: {**_PENDING, "name_status": "DECLINED"},
    Kind.EXPIRED_TOKEN: _PROVISIONED,
    Kind.YELLOW: {**_PROVISIONED, "quality_rating": "YELLOW"},
    Kind.RED_FLAGGED: {**_PROVISIONED, "quality_rating": "RED", "status": "FLAGGED"},
}

#: The repeating pattern: 12 provisioned, 2 pending, 2 in review, 1 of each other kind.
CYCLE: tuple[Kind, ...] = (
    *[Kind.PROVISIONED] * 12,
    Kind.PENDING,
    Kind.PENDING,
    Kind.NAME_IN_REVIEW,
    Kind.NAME_IN_REVIEW,
    Kind.NAME_DECLINED,
    Kind.EXPIRED_TOKEN,
    Kind.YELLOW,
    Kind.RED_FLAGGED,
)
PENDING_KINDS = frozenset({Kind.PENDING, Kind.NAME_IN_REVIEW, Kind.NAME_DECLINED})


def kind_of(index: int) -> Kind:
    return CYCLE[index % len(CYCLE)]


@dataclass(frozen=True, slots=True)
class SeededNumber:
    index: int
    kind: Kind
    phone_number_id: str
    waba_id: str
    business_id: str
    display_phone_number: str
    access_token: str


def seed_simulator(control: SimulatorControl, count: int, *, chunk: int = 20_000) -> Iterator[SeededNumber]:
    """Create ``count`` numbers of the mix in the simulator (bulk, ``chunk`` per call); expire tokens."""
    for start in range(0, count, chunk):
        kinds = [kind_of(i) for i in range(start, min(count, start + chunk))]
        created = control.add_numbers(numbers=[SPECS[kind] for kind in kinds])
        tokens = created["tokens"]
        for offset, (kind, number) in enumerate(zip(kinds, created["numbers"], strict=True)):
            if kind is Kind.EXPIRED_TOKEN:
                control.update_number(number["phone_number_id"], token_state="expired")
            yield SeededNumber(
                index=start + offset,
                kind=kind,
                phone_number_id=number["phone_number_id"],
                waba_id=number["waba_id"],
                business_id=number["business_id"],
                display_phone_number=number["display_phone_number"],
                access_token=tokens[number["waba_id"]],
            )


def seed(sim: SimulatorControl, store: ChannelStore, count: int) -> dict[int, SeededNumber]:
    """The mix in the simulator and, through the store's public API, one channel per number."""
    by_channel = {}
    for number in seed_simulator(sim, count):
        channel = store.channels.upsert(
            account_id=number.index + 1,
            phone_number_id=number.phone_number_id,
            waba_id=number.waba_id,
            business_id=number.business_id,
            access_token=number.access_token,
            display_phone_number=number.display_phone_number,
        )
        by_channel[channel.id] = number
    return by_channel
