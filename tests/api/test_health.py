"""``GET .../health``: the shape docs/http-api.md documents, 404, live refresh stored with newer-wins,
Graph failures as 502.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from include.graph_simulator.process import SimulatorControl
from tests.api.fleet_seed import SeededChannel
from whatsapp.domain.health import PUBLIC_FIELDS, PhoneHealth
from whatsapp.store import ChannelStore, HealthResult

#: The keys of the health API's example in docs/http-api.md.
DOCUMENTED_KEYS = {
    "account_id", "inbox_id", "phone_number_id", "waba_id", "business_id", "display_phone_number",
    "verified_name", "name_status", "code_verification_status", "platform_type", "throughput",
    "messaging_limit_tier", "quality_rating", "account_mode", "status", "checked_at", "provisioning",
    "reauthorization_required", "reauthorization_reason", "registration", "links",
}  # fmt: skip
#: After onboarding: the API shows name changes, offboarding and a WhatsApp Business app number's link.
LIFECYCLE_KEYS = {"active", "offboarded_at", "name_change", "business_app", "notes"}
REGISTRATION_KEYS = {"state", "attempts_72h", "last_attempt_at", "last_error", "next_attempt_at"}


@pytest.fixture
def admin(bearer: dict[str, dict[str, str]]) -> dict[str, str]:
    return bearer["admin"]


def test_health_has_the_documented_shape(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], sim: SimulatorControl
) -> None:
    healthy = fleet["healthy"]
    number = sim.number(healthy.phone_number_id)
    response = api_client.get(f"{healthy.path}/health", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    # The documented example, plus any public health field declared since (HEALTH_FIELDS grows the shape).
    assert set(body) == DOCUMENTED_KEYS | LIFECYCLE_KEYS | {"situation"} | {
        f.api_key_path[0] for f in PUBLIC_FIELDS
    }
    assert body["situation"]["kind"] == "healthy" and body["situation"]["needs_action"] is False
    assert (
        body["active"],
        body["offboarded_at"],
        body["name_change"],
        body["business_app"],
        body["notes"],
    ) == (
        True,
        None,
        None,
        None,
        [],
    )
    assert set(body["registration"]) == REGISTRATION_KEYS
    assert body["account_id"] == healthy.account_id and body["inbox_id"] == healthy.inbox_id
    assert body["phone_number_id"] == healthy.phone_number_id
    assert (body["waba_id"], body["business_id"]) == (number["waba_id"], number["business_id"])
    assert body["display_phone_number"] == number["display_phone_number"]
    assert body["throughput"] == {"level": "STANDARD"}
    assert (body["quality_rating"], body["name_status"], body["platform_type"]) == (
        "GREEN",
        "APPROVED",
        "CLOUD_API",
    )
    assert (body["provisioning"], body["reauthorization_required"]) == ("provisioned", False)
    assert body["checked_at"].endswith("Z")
    assert body["links"]["whatsapp_manager"] == (
        "https://business.facebook.com/latest/whatsapp_manager/phone_numbers/"
        f"?business_id={number['business_id']}&asset_id={number['waba_id']}"
    )


def test_pending_channel_is_flagged_registration_incomplete(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel]
) -> None:
    body = api_client.get(f"{fleet['pending'].path}/health", headers=admin).json()
    assert body["provisioning"] == "pending"
    assert body["reauthorization_required"] is True
    assert body["reauthorization_reason"] == "registration_incomplete"


@pytest.mark.parametrize("suffix", ["health", "health?refresh=true", "attempts", "history"])
@pytest.mark.parametrize(("account_id", "inbox_id"), [(1, 999), (999, 1)])
def test_unknown_account_or_inbox_is_404(
    api_client: TestClient,
    admin: dict[str, str],
    fleet: dict[str, SeededChannel],
    suffix: str,
    account_id: int,
    inbox_id: int,
) -> None:
    response = api_client.get(
        f"/whatsapp/api/v1/accounts/{account_id}/inboxes/{inbox_id}/{suffix}", headers=admin
    )
    assert response.status_code == 404, response.text


def test_non_integer_ids_are_422(
    api_client: TestClient, admin: dict[str, str], pg_store_env: ChannelStore
) -> None:
    assert api_client.get("/whatsapp/api/v1/accounts/x/inboxes/1/health", headers=admin).status_code == 422


def test_refresh_reads_graph_and_stores(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], sim: SimulatorControl
) -> None:
    healthy = fleet["healthy"]
    sim.update_number(healthy.phone_number_id, quality_rating="RED", status="FLAGGED")
    before = api_client.get(f"{healthy.path}/health", headers=admin).json()
    assert before["quality_rating"] == "GREEN", "without refresh the stored snapshot is returned"
    sim.clear_calls()

    refreshed = api_client.get(f"{healthy.path}/health?refresh=true", headers=admin)

    assert refreshed.status_code == 200, refreshed.text
    assert (refreshed.json()["quality_rating"], refreshed.json()["status"]) == ("RED", "FLAGGED")
    assert refreshed.json()["checked_at"] > before["checked_at"]
    assert len(sim.calls(f"/{healthy.phone_number_id}$")) == 1
    stored = api_client.get(f"{healthy.path}/health", headers=admin).json()
    assert stored["quality_rating"] == "RED"
    history = api_client.get(f"{healthy.path}/history", headers=admin).json()["history"]
    assert [h["quality_rating"] for h in history[:2]] == ["RED", "GREEN"]


def test_refresh_never_overwrites_a_newer_check(
    api_client: TestClient,
    admin: dict[str, str],
    fleet: dict[str, SeededChannel],
    pg_store_env: ChannelStore,
) -> None:
    """A fleet audit that stored a later snapshot wins over a refresh that read Graph earlier."""
    healthy = fleet["healthy"]
    later = datetime.now(UTC) + timedelta(hours=1)
    newer = PhoneHealth.from_graph(
        {
            "id": healthy.phone_number_id,
            "name_status": "APPROVED",
            "code_verification_status": "VERIFIED",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "quality_rating": "YELLOW",
        }
    )
    pg_store_env.health.record([HealthResult(channel_id=healthy.channel_id, checked_at=later, health=newer)])

    body = api_client.get(f"{healthy.path}/health?refresh=true", headers=admin).json()

    assert body["quality_rating"] == "YELLOW"
    assert body["checked_at"] == later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_graph_server_error_is_502_with_the_structured_error(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], sim: SimulatorControl
) -> None:
    healthy = fleet["healthy"]
    sim.add_fault(kind="http_500", phone_number_id=healthy.phone_number_id)

    response = api_client.get(f"{healthy.path}/health?refresh=true", headers=admin)

    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert set(error) == {"type", "message", "code", "subcode"}
    assert error["type"] == "transient"
    sim.clear_faults()
    stored = api_client.get(f"{healthy.path}/health", headers=admin).json()
    assert stored["quality_rating"] == "GREEN", "a failed refresh keeps the last good snapshot"


def test_expired_token_is_502_code_190_and_flags_reauthorization(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], sim: SimulatorControl
) -> None:
    healthy = fleet["healthy"]
    sim.update_number(healthy.phone_number_id, token_state="expired")

    response = api_client.get(f"{healthy.path}/health?refresh=true", headers=admin)

    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("token_invalid", 190)
    assert error["message"]
    stored = api_client.get(f"{healthy.path}/health", headers=admin).json()
    assert (stored["reauthorization_required"], stored["reauthorization_reason"]) == (True, "token_invalid")


def test_attempts_show_the_graph_error_of_each_call(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel]
) -> None:
    in_review = fleet["in_review"]
    attempts = api_client.get(f"{in_review.path}/attempts", headers=admin).json()["attempts"]
    assert len(attempts) == 1
    assert (attempts[0]["code"], attempts[0]["subcode"]) == (100, 2388001)
    assert attempts[0]["outcome"] == "display_name_not_ready"
    assert attempts[0]["message"]
    health = api_client.get(f"{in_review.path}/health", headers=admin).json()
    assert health["registration"]["attempts_72h"] == 1
    assert health["registration"]["last_error"]["subcode"] == 2388001
    assert api_client.get(f"{fleet['healthy'].path}/attempts", headers=admin).json() == {"attempts": []}
