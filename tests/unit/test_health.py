"""The phone-number node parser keeps what Meta sends, unknown values included."""

from __future__ import annotations

import json

import pytest

from whatsapp.domain.health import PhoneHealth, risky_transitions
from whatsapp.domain.manager_url import whatsapp_manager_url
from whatsapp.domain.usage import Usage

# As in Meta's OpenAPI spec example for GET /{Phone-Number-ID}, plus throughput and platform.
PHONE_NODE = """{"verified_name": "Jasper's Market", "code_verification_status": "VERIFIED",
 "display_phone_number": "+1 631-555-5555", "quality_rating": "GREEN", "platform_type": "CLOUD_API",
 "throughput": {"level": "STANDARD"}, "messaging_limit_tier": "TIER_1K", "name_status": "APPROVED",
 "account_mode": "LIVE", "status": "CONNECTED", "id": "106540352242922"}"""


def test_parse_real_node() -> None:
    health = PhoneHealth.from_graph(json.loads(PHONE_NODE))
    assert health.phone_number_id == "106540352242922"
    assert health.throughput_level == "STANDARD"
    assert health.messaging_limit_tier == "TIER_1K"
    assert health.provisioning.value == "provisioned"


def test_unknown_enum_values_are_kept() -> None:
    raw = json.loads(PHONE_NODE)
    raw.update(quality_rating="PURPLE", status="SOMETHING_NEW", throughput={"level": "ULTRA"})
    health = PhoneHealth.from_graph(raw)
    assert (health.quality_rating, health.status, health.throughput_level) == (
        "PURPLE",
        "SOMETHING_NEW",
        "ULTRA",
    )


def test_missing_fields_are_none_and_id_is_required() -> None:
    health = PhoneHealth.from_graph({"id": "1"})
    assert health.platform_type is None and health.throughput_level is None
    # Only a pending (NOT_APPLICABLE) number registers; verification plays no part
    assert not health.needs_registration
    with pytest.raises(ValueError, match="'id'"):
        PhoneHealth.from_graph({"name_status": "APPROVED"})


def test_new_messaging_limit_field_is_read_when_old_is_absent() -> None:
    raw = json.loads(PHONE_NODE)
    del raw["messaging_limit_tier"]
    raw["whatsapp_business_manager_messaging_limit"] = {"current_limit": "TIER_10K"}
    assert PhoneHealth.from_graph(raw).messaging_limit_tier == "TIER_10K"


def test_risky_transitions_reported_once() -> None:
    green = PhoneHealth.from_graph(json.loads(PHONE_NODE))
    red = PhoneHealth.from_graph({**json.loads(PHONE_NODE), "quality_rating": "RED", "status": "FLAGGED"})
    assert risky_transitions(green, red) == ["quality_rating GREEN -> RED", "status CONNECTED -> FLAGGED"]
    assert risky_transitions(red, red) == []
    assert risky_transitions(red, green) == []


def test_whatsapp_manager_link_keeps_business_and_waba_apart() -> None:
    assert whatsapp_manager_url("506914307656634", "102290129340398") == (
        "https://business.facebook.com/latest/whatsapp_manager/phone_numbers/"
        "?business_id=506914307656634&asset_id=102290129340398"
    )


def test_usage_headers() -> None:
    usage = Usage.from_pairs(
        {
            "X-App-Usage": '{"call_count": 28, "total_time": 25, "total_cputime": 25}',
            "X-Business-Use-Case-Usage": '{"102290129340398": [{"type": "whatsapp_business_management",'
            ' "call_count": 95, "total_cputime": 10, "total_time": 12,'
            ' "estimated_time_to_regain_access": 3}]}',
        }.items()
    )
    assert (usage.app_call_count, usage.app_total_time, usage.app_total_cputime) == (28, 25, 25)
    (business,) = usage.business
    assert business.business_id == "102290129340398"
    assert (business.call_count, business.total_cputime, business.total_time) == (95, 10, 12)
    assert business.peak == 95  # what pauses a WABA (pacing)
    assert usage.regain_access_seconds == 180
    assert Usage.from_pairs([("x-app-usage", "not json")]) == Usage()
