"""What a careless or hostile client found: each is now a 4xx, never a 500 or a side effect."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from include.graph_simulator.process import SimulatorControl
from tests.api.fleet_seed import SeededChannel
from tests.api.test_signups import signup_body
from whatsapp.api.models import NO_CONTROL_CHARACTERS


@pytest.mark.parametrize("raw", [b"x", b"[1]", b'{"account_id": 1}', b"{"], ids=repr)
def test_register_with_a_body_is_a_422_not_a_500(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    register_runs,
    raw: bytes,
) -> None:
    headers = {**bearer["admin"], "Content-Type": "application/json"}
    response = api_client.post(f"{fleet['pending'].path}/register", content=raw, headers=headers)
    assert response.status_code == 422, response.text
    assert register_runs() == []


def test_register_with_an_empty_json_object_still_works(
    api_client: TestClient, bearer: dict[str, dict[str, str]], fleet: dict[str, SeededChannel], register_runs
) -> None:
    response = api_client.post(f"{fleet['pending'].path}/register", json={}, headers=bearer["admin"])
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("account_id", [0, -1, 2**63, 10**30])
def test_ids_beyond_what_the_store_holds_are_a_422(
    api_client: TestClient, bearer: dict[str, dict[str, str]], account_id: int
) -> None:
    for method, suffix in (("GET", "health"), ("GET", "attempts"), ("GET", "history"), ("POST", "register")):
        path = f"/whatsapp/api/v1/accounts/{account_id}/inboxes/1/{suffix}"
        response = api_client.request(method, path, headers=bearer["admin"])
        assert response.status_code == 422, (path, response.text)


def test_redirects_never_use_the_host_header(api_client: TestClient) -> None:
    evil = {"Host": "evil.example"}
    for path in ("/whatsapp/ui", "/whatsapp/ui/", "/whatsapp/ui/?channel=1/2"):
        response = api_client.get(path, headers=evil, follow_redirects=False)
        assert response.status_code in (302, 307), (path, response.status_code)
        location = response.headers["location"]
        assert "evil.example" not in location and location.startswith("/"), (path, location)


def test_a_cookie_register_from_another_origin_is_refused_but_bearer_is_not(
    api_client: TestClient,
    tokens: dict[str, str],
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    register_runs,
) -> None:
    path = f"{fleet['pending'].path}/register"
    foreign = {"Origin": "https://evil.example"}
    api_client.cookies.set("_token", tokens["admin"])
    try:
        refused = api_client.post(path, headers=foreign)
        no_origin = api_client.post(path)
    finally:
        api_client.cookies.clear()
    assert (refused.status_code, no_origin.status_code) == (403, 403), refused.text
    assert register_runs() == []
    # A Bearer token is never sent by a browser on its own: the origin does not matter.
    accepted = api_client.post(path, headers={**bearer["admin"], **foreign})
    assert accepted.status_code == 202, accepted.text


def test_refresh_needs_register_access(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    sim: SimulatorControl,
) -> None:
    channel = fleet["pending"]
    sim.clear_calls()
    viewer = api_client.get(f"{channel.path}/health?refresh=true", headers=bearer["viewer"])
    assert viewer.status_code == 403, viewer.text
    assert sim.calls() == []  # no Graph call spent, nothing stored
    assert api_client.get(f"{channel.path}/health", headers=bearer["viewer"]).status_code == 200
    operator = api_client.get(f"{channel.path}/health?refresh=true", headers=bearer["operator"])
    assert operator.status_code == 200, operator.text
    assert sim.calls() != []


def test_a_cookie_refresh_from_another_origin_is_refused(
    api_client: TestClient, tokens: dict[str, str], fleet: dict[str, SeededChannel], sim: SimulatorControl
) -> None:
    path = f"{fleet['pending'].path}/health?refresh=true"
    sim.clear_calls()
    api_client.cookies.set("_token", tokens["admin"])
    try:
        refused = api_client.get(path, headers={"Referer": "https://evil.example/"})
        accepted = api_client.get(path, headers={"Referer": "http://testserver/whatsapp/ui/"})
    finally:
        api_client.cookies.clear()
    assert (refused.status_code, accepted.status_code) == (403, 200), refused.text


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_an_empty_bearer_header_does_not_exempt_a_cookie_call_from_the_origin_check(
    api_client: TestClient,
    tokens: dict[str, str],
    fleet: dict[str, SeededChannel],
    sim: SimulatorControl,
    register_runs,
    onboarding_runs,
    scheme: str,
) -> None:
    """A Bearer scheme without a token: Airflow takes the user from the cookie, so the check must too."""
    channel = fleet["pending"]
    number = sim.add_number(name_status="APPROVED")
    signup = signup_body(number)
    headers = {"Authorization": scheme, "Origin": "https://evil.example"}
    sim.clear_calls()
    api_client.cookies.set("_token", tokens["admin"])
    try:
        answers = {
            "register": api_client.post(f"{channel.path}/register", headers=headers).status_code,
            "signup": api_client.post("/whatsapp/api/v1/signups", json=signup, headers=headers).status_code,
            "refresh": api_client.get(f"{channel.path}/health?refresh=true", headers=headers).status_code,
        }
    finally:
        api_client.cookies.clear()
    assert answers == {"register": 403, "signup": 403, "refresh": 403}
    assert register_runs() == [] and onboarding_runs() == []
    assert sim.calls() == []


@pytest.mark.parametrize("char", ["\x00", "\x01", "\r", "\x1f", "\x7f", "\x85", "\x9f"], ids=ascii)
def test_a_control_character_in_a_path_parameter_is_a_422_before_any_query(
    api_client: TestClient, bearer: dict[str, dict[str, str]], fleet: dict[str, SeededChannel], char: str
) -> None:
    """422 from the parameter's type, so the handler (and its queries) never runs.

    (A newline never gets this far: Starlette's mount pattern does not route it into the plugin.)
    """
    encoded = quote(char, safe="")
    paths = [
        f"{fleet['pending'].path}/register/{encoded}",
        f"{fleet['pending'].path}/register/a{encoded}b",
        f"/whatsapp/api/v1/runs/whatsapp_onboarding/{encoded}/channel",
        f"/whatsapp/api/v1/runs/whatsapp_onboarding/a{encoded}b/channel",
        f"/whatsapp/api/v1/runs/whatsapp{encoded}/run/channel",
    ]
    answers = {path: api_client.get(path, headers=bearer["admin"]) for path in paths}
    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(paths, 422), {
        path: r.text[:200] for path, r in answers.items()
    }
    for response in answers.values():
        assert char not in response.text and encoded not in response.text, response.text


def test_every_text_path_parameter_refuses_control_characters(api_client: TestClient) -> None:
    """The plugin's path parameters are integers or the one shared text type (``AirflowIdPath``)."""
    schema = api_client.get("/whatsapp/openapi.json").json()
    params = [
        (path, param["name"], param["schema"])
        for path, operations in schema["paths"].items()
        for operation in operations.values()
        for param in operation.get("parameters", [])
        if param["in"] == "path"
    ]
    assert len(params) >= 10, params
    for path, name, param_schema in params:
        text_type = param_schema.get("pattern") == NO_CONTROL_CHARACTERS
        assert param_schema.get("type") == "integer" or text_type, (path, name, param_schema)
