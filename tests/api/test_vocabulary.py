"""``GET /whatsapp/api/v1/vocabulary``: the page's labels, colours and filters, derived from the domain."""

from __future__ import annotations

from fastapi.testclient import TestClient

from whatsapp.domain.health import PUBLIC_FIELDS
from whatsapp.domain.registration import RegistrationState

VOCABULARY = "/whatsapp/api/v1/vocabulary"


def test_vocabulary_is_the_health_declaration(
    api_client: TestClient, bearer: dict[str, dict[str, str]]
) -> None:
    body = api_client.get(VOCABULARY, headers=bearer["viewer"]).json()
    assert [f["name"] for f in body["health_fields"]] == [f.name for f in PUBLIC_FIELDS]
    by_name = {f["name"]: f for f in body["health_fields"]}
    assert by_name["status"]["severities"]["RATE_LIMITED"] == "warning"  # one rule, Python and page alike
    assert by_name["quality_rating"]["severities"] == {"GREEN": "ok", "YELLOW": "warning", "RED": "critical"}
    assert by_name["throughput_level"]["api_path"] == ["throughput", "level"]
    assert set(body["registration_state"]) == {s.value for s in RegistrationState}
    assert body["filters"]["quality_rating"][-1] == "none"
    assert body["filters"]["reauthorization_reason"][0] == "none"


def test_vocabulary_needs_a_user(api_client: TestClient) -> None:
    assert api_client.get(VOCABULARY).status_code == 401
