"""No response carries a token, PIN or verify token; the published OpenAPI schema matches the answers."""

from __future__ import annotations

from typing import Any

import jsonschema
from fastapi.testclient import TestClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from include.graph_simulator.process import SimulatorControl
from tests.api.airflow_auth import leaked
from tests.api.fleet_seed import SeededChannel


def _every_response(
    client: TestClient, headers: dict[str, str], fleet: dict[str, SeededChannel], sim: SimulatorControl
) -> list[tuple[str, int, str]]:
    """Hit every route in every outcome this fleet allows, including failures; return the bodies."""
    calls: list[tuple[str, str]] = [("GET", "/whatsapp/api/v1/fleet"), ("GET", "/whatsapp/openapi.json")]
    calls += [("GET", "/whatsapp/api/v1/fleet?provisioning=pending&include_inactive=true")]
    calls += [("GET", "/whatsapp/api/v1/fleet/export.csv?include_inactive=true")]
    for channel in fleet.values():
        calls += [
            ("GET", f"{channel.path}/health"),
            ("GET", f"{channel.path}/health?refresh=true"),
            ("GET", f"{channel.path}/attempts"),
            ("GET", f"{channel.path}/history"),
            ("POST", f"{channel.path}/register"),
            ("POST", f"{channel.path}/register"),  # 409 while queued, or not needed
        ]
    bodies = [
        (f"{m} {p}", (r := client.request(m, p, headers=headers)).status_code, r.text) for m, p in calls
    ]
    # Failures: Graph 5xx, an expired token (Graph's 190 message), an unknown channel.
    sim.add_fault(kind="http_500", phone_number_id=fleet["yellow"].phone_number_id)
    sim.update_number(fleet["healthy"].phone_number_id, token_state="expired")
    for path in (
        f"{fleet['yellow'].path}/health?refresh=true",
        f"{fleet['healthy'].path}/health?refresh=true",
        f"{fleet['healthy'].path}/health",
        "/whatsapp/api/v1/accounts/1/inboxes/999/health",
    ):
        response = client.get(path, headers=headers)
        bodies.append((f"GET {path}", response.status_code, response.text))
    page = client.get("/whatsapp/ui/", cookies={"_token": headers["Authorization"].split()[1]})
    client.cookies.clear()
    bodies.append(("GET /whatsapp/ui/", page.status_code, page.text))
    return bodies


def test_no_secret_in_any_response(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    sim: SimulatorControl,
    secrets_of_fleet: set[str],
    register_runs: Any,
) -> None:
    bodies = _every_response(api_client, bearer["admin"], fleet, sim)
    statuses = {status for _, status, _ in bodies}
    assert {200, 202, 404, 409, 502} <= statuses, statuses
    for label, status, body in bodies:
        found = leaked(body, secrets_of_fleet)
        assert not found, f"{label} ({status}) leaks {len(found)} secret(s), e.g. {found[0][:4]}..."


def _schema_validator(openapi: dict[str, Any], name: str) -> jsonschema.protocols.Validator:
    resource = Resource.from_contents(openapi, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:plugin", resource)
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:plugin#/components/schemas/{name}"}, registry=registry
    )


def test_openapi_schema_is_published_and_typed(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    sim: SimulatorControl,
) -> None:
    openapi = api_client.get("/whatsapp/openapi.json").json()
    paths = openapi["paths"]
    health = paths["/api/v1/accounts/{account_id}/inboxes/{inbox_id}/health"]["get"]["responses"]
    assert health["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChannelHealth")
    assert health["502"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    register = paths["/api/v1/accounts/{account_id}/inboxes/{inbox_id}/register"]["post"]["responses"]
    assert register["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/RegisterResponse")
    assert {"403", "404", "409"} <= set(register)
    fleet_op = paths["/api/v1/fleet"]["get"]
    assert {p["name"] for p in fleet_op["parameters"]} >= {
        "provisioning",
        "registration_state",
        "quality_rating",
    }
    assert {"OAuth2PasswordBearer", "HTTPBearer"} <= set(openapi["components"]["securitySchemes"])

    admin = bearer["admin"]
    for name, path in (
        ("ChannelHealth", f"{fleet['in_review'].path}/health"),
        ("FleetResponse", "/whatsapp/api/v1/fleet"),
        ("AttemptsResponse", f"{fleet['in_review'].path}/attempts"),
        ("HistoryResponse", f"{fleet['in_review'].path}/history"),
    ):
        _schema_validator(openapi, name).validate(api_client.get(path, headers=admin).json())
    sim.add_fault(kind="http_500", phone_number_id=fleet["healthy"].phone_number_id)
    failed = api_client.get(f"{fleet['healthy'].path}/health?refresh=true", headers=admin)
    _schema_validator(openapi, "ErrorResponse").validate(failed.json())
