"""The health declaration is the one field list: Graph ``fields=``, store columns, API model, page labels."""

from __future__ import annotations

import pytest

from whatsapp.api.models import ChannelHealth, HealthCheckEntry
from whatsapp.domain.health import (
    HEALTH_FIELDS,
    PUBLIC_FIELDS,
    STORED_NAMES,
    PhoneHealth,
    ValueSeverity,
    graph_fields,
    risky_transitions,
)
from whatsapp.store.schema import channels, health_checks


@pytest.mark.parametrize(
    ("version", "limit_field"),
    [("v23.0", "messaging_limit_tier"), ("v24.0", "whatsapp_business_manager_messaging_limit")],
)
def test_graph_fields_follow_the_api_version(version: str, limit_field: str) -> None:
    fields = graph_fields(version)
    assert limit_field in fields
    assert {"messaging_limit_tier", "whatsapp_business_manager_messaging_limit"} - {limit_field} & set(
        fields
    ) == set()
    assert "throughput" in fields and "throughput_level" not in fields
    assert len(fields) == len(set(fields))


@pytest.mark.parametrize(
    "node_value",
    ["TIER_2K", {"current_limit": "TIER_2K"}],
    ids=["string (v24+)", "object (older answers)"],
)
def test_messaging_limit_string_and_object_forms(node_value: object) -> None:
    health = PhoneHealth.from_graph({"id": "1", "whatsapp_business_manager_messaging_limit": node_value})
    assert health.messaging_limit_tier == "TIER_2K"
    assert PhoneHealth.from_graph({"id": "1", "messaging_limit_tier": "TIER_1K"}).messaging_limit_tier == (
        "TIER_1K"
    )


def test_store_columns_and_api_models_are_derived_from_the_declaration() -> None:
    for name in STORED_NAMES:
        assert name in channels.c and name in health_checks.c
        assert name in HealthCheckEntry.model_fields
    for health_field in PUBLIC_FIELDS:
        top = health_field.api_key_path[0]
        assert top in ChannelHealth.model_fields, health_field.name
    throughput = ChannelHealth.model_fields["throughput"].annotation
    assert "level" in throughput.model_fields  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "value", "severity"),
    [
        ("quality_rating", "GREEN", ValueSeverity.OK),
        ("quality_rating", "YELLOW", ValueSeverity.WARNING),
        ("quality_rating", "RED", ValueSeverity.CRITICAL),
        ("name_status", "AVAILABLE_WITHOUT_REVIEW", ValueSeverity.OK),
        ("name_status", "PENDING_REVIEW", ValueSeverity.WARNING),
        ("name_status", "DECLINED", ValueSeverity.CRITICAL),
        ("status", "RATE_LIMITED", ValueSeverity.WARNING),
        ("status", "BANNED", ValueSeverity.CRITICAL),
        ("status", "SOMETHING_NEW", ValueSeverity.NEUTRAL),
        ("platform_type", "NOT_APPLICABLE", ValueSeverity.WARNING),
        ("quality_rating", None, ValueSeverity.NEUTRAL),
    ],
)
def test_severity_of_each_known_value(name: str, value: str | None, severity: ValueSeverity) -> None:
    assert {f.name: f for f in HEALTH_FIELDS}[name].severity(value) is severity


def test_risky_transitions_come_from_watched_fields_and_severities() -> None:
    after = PhoneHealth("1", {"quality_rating": "GREEN", "status": "RATE_LIMITED"})
    assert risky_transitions({"quality_rating": "GREEN", "status": "CONNECTED"}, after) == [
        "status CONNECTED -> RATE_LIMITED"
    ]
    assert risky_transitions(after, after) == []


def test_unknown_field_names_are_refused() -> None:
    with pytest.raises(KeyError, match="no_such_field"):
        PhoneHealth("1").get("no_such_field")
