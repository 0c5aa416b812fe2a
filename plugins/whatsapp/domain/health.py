"""The health of one WhatsApp phone number: one declaration, and the snapshot parsed from Graph.

:data:`HEALTH_FIELDS` is the only list of health fields in the provider. Everything else is
derived from it: the Graph ``fields=`` parameter (:func:`graph_fields`, by API version), the
store's snapshot and history columns, the health API's pydantic model, and the labels and
colours of the WhatsApp Health page (served by the API, never copied into JavaScript).
Adding a field means adding one :class:`HealthField` here, plus an Alembic revision that adds
its column.

Graph adds enum values without notice, so every value is kept as the string Meta sent: an
unknown value is shown (with :attr:`ValueSeverity.NEUTRAL`) and stored, never a parse error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any


class ValueSeverity(StrEnum):
    """How one value reads to a person: a health field's value, a registration state or reason.

    Not :class:`~whatsapp.domain.situations.SituationSeverity`, which grades a channel's whole
    situation: here ``neutral`` means "no judgement" (a value the provider does not know, as Graph
    adds values without notice) and ``critical`` a bad value, while a situation is ``info`` when
    nothing is wrong and something is under way, and ``error`` exactly when a person must act.
    The page colours these green, grey, amber and red.
    """

    OK = "ok"
    NEUTRAL = "neutral"
    WARNING = "warning"
    CRITICAL = "critical"


#: Severities whose arrival on a watched field is reported once, when it happens.
RISKY = frozenset({ValueSeverity.WARNING, ValueSeverity.CRITICAL})

NOT_APPLICABLE = "NOT_APPLICABLE"
NAME_IN_REVIEW = "PENDING_REVIEW"
NAME_DECLINED = "DECLINED"
#: ``code_verification_status`` of a number whose ownership was verified (by a code, SMS or voice).
CODE_VERIFIED = "VERIFIED"
#: Meta's low and medium ``quality_rating``, and the ``status`` of a number Meta flagged for its
#: quality (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/phone-numbers).
QUALITY_RED = "RED"
QUALITY_YELLOW = "YELLOW"
FLAGGED = "FLAGGED"
#: ``is_on_biz_app`` as read (:meth:`HealthField.read` spells Graph's booleans as JSON does).
ON_BIZ_APP = "true"


@dataclass(frozen=True, slots=True)
class HealthField:
    """One field of the phone-number node as the provider reads, stores, serves and shows it.

    :param name: attribute, store column and API key (unless ``api_path`` says otherwise).
    :param label: what the page calls it.
    :param graph_field: the ``fields=`` entry that returns it.
    :param path: where the value sits inside that Graph field (``throughput`` → ``("level",)``).
    :param legacy_graph_field: the ``fields=`` entry used below ``since_version``.
    :param since_version: the first Graph API major version that has ``graph_field``.
    :param api_path: where the value sits in the health API's JSON (default: ``(name,)``).
    :param severities: the known values and how they read; others are :attr:`ValueSeverity.NEUTRAL`.
    :param watched: a change to a warning or critical value is reported once (logs, history).
    :param stored: kept as a snapshot column on the channel and in the history.
    :param public: part of the health API's channel shape and the page.
    :param max_length: the store column's length.
    """

    name: str
    label: str
    graph_field: str
    path: tuple[str, ...] = ()
    legacy_graph_field: str | None = None
    since_version: int = 0
    api_path: tuple[str, ...] | None = None
    severities: Mapping[str, ValueSeverity] = field(default_factory=dict)
    watched: bool = False
    stored: bool = True
    public: bool = True
    max_length: int = 64

    @property
    def api_key_path(self) -> tuple[str, ...]:
        return self.api_path or (self.name,)

    def severity(self, value: str | None) -> ValueSeverity:
        if value is None:
            return ValueSeverity.NEUTRAL
        return self.severities.get(value, ValueSeverity.NEUTRAL)

    def graph_field_for(self, api_major: int) -> str:
        if api_major < self.since_version and self.legacy_graph_field:
            return self.legacy_graph_field
        return self.graph_field

    def read(self, node: Mapping[str, Any]) -> str | None:
        """The value in a Graph node, from the current or the legacy field, string or object form."""
        for graph_name in (self.graph_field, self.legacy_graph_field):
            if graph_name is None or graph_name not in node:
                continue
            value: Any = node[graph_name]
            for key in self.path:
                value = value.get(key) if isinstance(value, Mapping) else None
            if isinstance(value, bool):  # Graph's booleans (``is_on_biz_app``) as JSON spells them
                return "true" if value else "false"
            # An object form, e.g. {"current_limit": "TIER_2K"}. (Most values are strings: testing
            # str first skips the costly ABC check, 1.3 million times an audit of 100,000.)
            if not isinstance(value, str) and isinstance(value, Mapping):
                value = next((v for v in value.values() if isinstance(v, str)), None)
            if value is not None and value != "":
                return str(value)
        return None


#: Every health field, in the order the page shows them.
HEALTH_FIELDS: tuple[HealthField, ...] = (
    HealthField("display_phone_number", "Phone number", "display_phone_number", stored=False),
    HealthField("verified_name", "Display name", "verified_name", stored=False, max_length=255),
    HealthField(
        "name_status",
        "Name status",
        "name_status",
        severities={
            "APPROVED": ValueSeverity.OK,
            "AVAILABLE_WITHOUT_REVIEW": ValueSeverity.OK,
            NAME_IN_REVIEW: ValueSeverity.WARNING,
            NAME_DECLINED: ValueSeverity.CRITICAL,
            "EXPIRED": ValueSeverity.CRITICAL,
            "NONE": ValueSeverity.WARNING,
        },
    ),
    HealthField(
        "new_name_status",
        "Name change",
        "new_name_status",
        severities={
            "APPROVED": ValueSeverity.WARNING,
            NAME_IN_REVIEW: ValueSeverity.NEUTRAL,
            NAME_DECLINED: ValueSeverity.CRITICAL,
        },
        stored=False,
        public=False,
    ),
    # Shown while a change is open; kept in the stored Graph node, not as a column.
    HealthField("new_display_name", "New display name", "new_display_name", stored=False, public=False),
    HealthField(
        "code_verification_status",
        "Verification",
        "code_verification_status",
        severities={CODE_VERIFIED: ValueSeverity.OK},
    ),
    HealthField(
        "platform_type",
        "Platform",
        "platform_type",
        severities={
            "CLOUD_API": ValueSeverity.OK,
            "ON_PREMISE": ValueSeverity.OK,
            NOT_APPLICABLE: ValueSeverity.WARNING,
        },
    ),
    HealthField(
        "throughput_level",
        "Throughput",
        "throughput",
        path=("level",),
        api_path=("throughput", "level"),
        severities={
            "STANDARD": ValueSeverity.OK,
            "HIGH": ValueSeverity.OK,
            NOT_APPLICABLE: ValueSeverity.WARNING,
        },
    ),
    HealthField(
        "messaging_limit_tier",
        "Messaging limit",
        "whatsapp_business_manager_messaging_limit",
        legacy_graph_field="messaging_limit_tier",
        since_version=24,
    ),
    HealthField(
        "quality_rating",
        "Quality",
        "quality_rating",
        severities={
            "GREEN": ValueSeverity.OK,
            QUALITY_YELLOW: ValueSeverity.WARNING,
            QUALITY_RED: ValueSeverity.CRITICAL,
        },
        watched=True,
    ),
    HealthField(
        "status",
        "Status",
        "status",
        severities={
            "CONNECTED": ValueSeverity.OK,
            FLAGGED: ValueSeverity.CRITICAL,
            "RESTRICTED": ValueSeverity.CRITICAL,
            "BANNED": ValueSeverity.CRITICAL,
            "RATE_LIMITED": ValueSeverity.WARNING,
            "DISCONNECTED": ValueSeverity.CRITICAL,
            "DELETED": ValueSeverity.CRITICAL,
        },
        watched=True,
    ),
    HealthField("account_mode", "Account mode", "account_mode", severities={"LIVE": ValueSeverity.OK}),
    # A WhatsApp Business app number onboarded to Cloud API as well ("coexistence"): Meta registered
    # it through the app, so it is never sent /register or /deregister (domain/business_app.py,
    # https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users).
    HealthField(
        "is_on_biz_app",
        "WhatsApp Business app",
        "is_on_biz_app",
        severities={ON_BIZ_APP: ValueSeverity.OK, "false": ValueSeverity.NEUTRAL},
        max_length=8,
    ),
    HealthField(
        "can_send_message",
        "Can send",
        "health_status",
        path=("can_send_message",),
        severities={
            "AVAILABLE": ValueSeverity.OK,
            "LIMITED": ValueSeverity.WARNING,
            "BLOCKED": ValueSeverity.CRITICAL,
        },
        stored=False,
        public=False,
    ),
)

FIELDS_BY_NAME: Mapping[str, HealthField] = {f.name: f for f in HEALTH_FIELDS}
#: The fields of the health API's channel shape and of the page.
PUBLIC_FIELDS: tuple[HealthField, ...] = tuple(f for f in HEALTH_FIELDS if f.public)
#: The fields kept as columns on the channel (current snapshot) and in the history.
STORED_FIELDS: tuple[HealthField, ...] = tuple(f for f in HEALTH_FIELDS if f.stored)
STORED_NAMES: tuple[str, ...] = tuple(f.name for f in STORED_FIELDS)


def api_major(api_version: str) -> int:
    """``"v24.0"`` → 24."""
    return int(api_version.lstrip("v").split(".")[0])


@cache
def graph_fields(api_version: str) -> tuple[str, ...]:
    """The ``fields=`` of ``GET /{phone_number_id}`` (single and batch) for an API version."""
    major = api_major(api_version)
    return tuple(dict.fromkeys(f.graph_field_for(major) for f in HEALTH_FIELDS))


class Provisioning(StrEnum):
    """Whether Meta has the number registered on a messaging platform."""

    PROVISIONED = "provisioned"
    PENDING = "pending"


PROVISIONING_SEVERITY: Mapping[Provisioning, ValueSeverity] = {
    Provisioning.PROVISIONED: ValueSeverity.OK,
    Provisioning.PENDING: ValueSeverity.WARNING,
}


@dataclass(frozen=True, slots=True)
class PhoneHealth:
    """A snapshot of one number's health: the value of every :data:`HEALTH_FIELDS` entry.

    The properties below are the fields the provider's own rules read; any other field is
    reached with :meth:`get`, so a new field needs no change here.
    """

    phone_number_id: str
    values: Mapping[str, str | None] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_graph(cls, node: Mapping[str, Any]) -> PhoneHealth:
        """Parse the phone-number node exactly as Graph returns it (string keys)."""
        if "id" not in node:
            raise ValueError("phone number node has no 'id'")
        return cls(
            phone_number_id=str(node["id"]),
            values={f.name: f.read(node) for f in HEALTH_FIELDS},
            raw=dict(node),
        )

    def get(self, name: str) -> str | None:
        if name not in FIELDS_BY_NAME:
            raise KeyError(f"unknown health field {name!r}")
        return self.values.get(name)

    display_phone_number = property(lambda self: self.get("display_phone_number"))
    verified_name = property(lambda self: self.get("verified_name"))
    name_status = property(lambda self: self.get("name_status"))
    new_name_status = property(lambda self: self.get("new_name_status"))
    new_display_name = property(lambda self: self.get("new_display_name"))
    code_verification_status = property(lambda self: self.get("code_verification_status"))
    platform_type = property(lambda self: self.get("platform_type"))
    throughput_level = property(lambda self: self.get("throughput_level"))
    messaging_limit_tier = property(lambda self: self.get("messaging_limit_tier"))
    quality_rating = property(lambda self: self.get("quality_rating"))
    status = property(lambda self: self.get("status"))

    @property
    def is_on_biz_app(self) -> bool:
        """A WhatsApp Business app number that is on Cloud API too (registered through the app)."""
        return self.get("is_on_biz_app") == ON_BIZ_APP

    @property
    def is_pending(self) -> bool:
        """Meta has not put the number on any platform yet (docs/states-and-situations.md: pending).

        A WhatsApp Business app number never is: the app registered it, and Meta fixes its
        throughput (the audit must not read a fixed level as pending).
        """
        if self.is_on_biz_app:
            return False
        return self.platform_type == NOT_APPLICABLE or self.throughput_level == NOT_APPLICABLE

    @property
    def provisioning(self) -> Provisioning:
        return Provisioning.PENDING if self.is_pending else Provisioning.PROVISIONED

    @property
    def needs_registration(self) -> bool:
        """Only a pending number needs ``/register`` (docs/states-and-situations.md).

        ``code_verification_status`` plays no part: Meta reports ``EXPIRED``/``NOT_VERIFIED`` on
        numbers live for months, and registering them only spends the register budget.
        """
        return self.is_pending


def risky_transitions(before: Mapping[str, str | None] | PhoneHealth | None, after: PhoneHealth) -> list[str]:
    """Describe the changes an operator must be told about, once, when they happen.

    ``before`` is the previous snapshot, or just its watched values (what the audit keeps).
    """
    events: list[str] = []
    for f in HEALTH_FIELDS:
        if not f.watched:
            continue
        new = after.get(f.name)
        old = None if before is None else (before.get(f.name))
        if f.severity(new) in RISKY and (before is None or old != new):
            events.append(f"{f.name} {old} -> {new}")
    return events
