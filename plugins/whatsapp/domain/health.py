"""The health of one WhatsApp phone number, parsed from the Graph phone-number node.

Graph adds enum values without notice, so every enum is kept as the string Meta sent:
an unknown value is shown and stored, never a parse error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: The one field list asked of ``GET /{phone_number_id}`` (single and batch).
HEALTH_FIELDS: tuple[str, ...] = (
    "display_phone_number",
    "verified_name",
    "name_status",
    "new_name_status",
    "code_verification_status",
    "platform_type",
    "throughput",
    "messaging_limit_tier",
    "whatsapp_business_manager_messaging_limit",
    "quality_rating",
    "status",
    "account_mode",
    "health_status",
)

NOT_APPLICABLE = "NOT_APPLICABLE"

NAME_IN_REVIEW = "PENDING_REVIEW"
NAME_DECLINED = "DECLINED"

#: Transitions an operator must hear about once, when they happen.
RISKY_QUALITY = frozenset({"YELLOW", "RED"})
RISKY_STATUS = frozenset({"FLAGGED", "RESTRICTED", "BANNED", "RATE_LIMITED", "DISCONNECTED", "DELETED"})


class Provisioning(StrEnum):
    """Whether Meta has the number registered on a messaging platform."""

    PROVISIONED = "provisioned"
    PENDING = "pending"


def _text(node: Mapping[str, Any], key: str) -> str | None:
    value = node.get(key)
    if value is None or value == "":
        return None
    return str(value)


@dataclass(frozen=True, slots=True)
class PhoneHealth:
    """A snapshot of the fields that decide provisioning and registration."""

    phone_number_id: str
    display_phone_number: str | None = None
    verified_name: str | None = None
    name_status: str | None = None
    new_name_status: str | None = None
    code_verification_status: str | None = None
    platform_type: str | None = None
    throughput_level: str | None = None
    messaging_limit_tier: str | None = None
    quality_rating: str | None = None
    status: str | None = None
    account_mode: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_graph(cls, node: Mapping[str, Any]) -> PhoneHealth:
        """Parse the phone-number node exactly as Graph returns it (string keys)."""
        if "id" not in node:
            raise ValueError("phone number node has no 'id'")
        throughput = node.get("throughput")
        level = throughput.get("level") if isinstance(throughput, Mapping) else None
        tier = _text(node, "messaging_limit_tier")
        if tier is None:
            limit = node.get("whatsapp_business_manager_messaging_limit")
            tier = (
                _text(limit, "current_limit")
                if isinstance(limit, Mapping)
                else _text(node, "whatsapp_business_manager_messaging_limit")
            )
        return cls(
            phone_number_id=str(node["id"]),
            display_phone_number=_text(node, "display_phone_number"),
            verified_name=_text(node, "verified_name"),
            name_status=_text(node, "name_status"),
            new_name_status=_text(node, "new_name_status"),
            code_verification_status=_text(node, "code_verification_status"),
            platform_type=_text(node, "platform_type"),
            throughput_level=None if level is None else str(level),
            messaging_limit_tier=tier,
            quality_rating=_text(node, "quality_rating"),
            status=_text(node, "status"),
            account_mode=_text(node, "account_mode"),
            raw=dict(node),
        )

    @property
    def is_pending(self) -> bool:
        """Meta has not put the number on any platform yet (SPEC: pending)."""
        return self.platform_type == NOT_APPLICABLE or self.throughput_level == NOT_APPLICABLE

    @property
    def provisioning(self) -> Provisioning:
        return Provisioning.PENDING if self.is_pending else Provisioning.PROVISIONED

    @property
    def needs_registration(self) -> bool:
        return self.code_verification_status != "VERIFIED" or self.is_pending

    def to_public_dict(self) -> dict[str, Any]:
        """The health fields of the API shape (SPEC.md), no raw node."""
        return {
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "verified_name": self.verified_name,
            "name_status": self.name_status,
            "code_verification_status": self.code_verification_status,
            "platform_type": self.platform_type,
            "throughput": {"level": self.throughput_level},
            "messaging_limit_tier": self.messaging_limit_tier,
            "quality_rating": self.quality_rating,
            "account_mode": self.account_mode,
            "status": self.status,
            "provisioning": self.provisioning.value,
        }


def risky_transitions(before: PhoneHealth | None, after: PhoneHealth) -> list[str]:
    """Describe the changes an operator must be told about, once, when they happen."""
    events: list[str] = []
    if after.quality_rating in RISKY_QUALITY and (
        before is None or before.quality_rating != after.quality_rating
    ):
        previous = before.quality_rating if before else None
        events.append(f"quality_rating {previous} -> {after.quality_rating}")
    if after.status in RISKY_STATUS and (before is None or before.status != after.status):
        previous = before.status if before else None
        events.append(f"status {previous} -> {after.status}")
    return events
