"""Who may call the health API: Airflow users only, by cookie or Bearer JWT; DAG access to register."""

from __future__ import annotations

import jwt
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.api.fleet_seed import SeededChannel

# Every API route of the plugin, with a method and a concrete path (ids of a channel that may
# not exist: authentication is checked before anything is looked up).
API_ROUTES = [
    ("GET", "/whatsapp/api/v1/fleet"),
    ("GET", "/whatsapp/api/v1/vocabulary"),
    ("GET", "/whatsapp/api/v1/accounts/1/inboxes/1/health"),
    ("GET", "/whatsapp/api/v1/accounts/1/inboxes/1/health?refresh=true"),
    ("GET", "/whatsapp/api/v1/accounts/1/inboxes/1/attempts"),
    ("GET", "/whatsapp/api/v1/accounts/1/inboxes/1/history"),
    ("POST", "/whatsapp/api/v1/accounts/1/inboxes/1/register"),
    ("POST", "/whatsapp/api/v1/signups"),
    ("GET", "/whatsapp/api/v1/me"),
    ("GET", "/whatsapp/api/v1/fleet/summary"),
    ("GET", "/whatsapp/api/v1/fleet/trend"),
    ("GET", "/whatsapp/api/v1/fleet/export.csv"),
    ("GET", "/whatsapp/api/v1/fleet/schedule"),
    ("GET", "/whatsapp/api/v1/accounts/1/inboxes/1/register/run-1"),
    ("GET", "/whatsapp/api/v1/runs/whatsapp_register_channel/run-1/channel"),
    ("POST", "/whatsapp/api/v1/fleet/actions"),
    ("GET", "/whatsapp/api/v1/fleet/actions/run-1"),
]


def _admin_user() -> object:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return SimpleAuthManagerUser(username="admin", role="admin")


def test_route_list_covers_the_app() -> None:
    """A new route without a case here would escape the 401 checks below."""
    from whatsapp.api.app import create_app

    api_paths = {
        (method, route.path)
        for route in create_app().routes
        if isinstance(route, APIRoute) and route.path.startswith("/api/")
        for method in route.methods
    }
    listed = {(m, "/api/v1" + p.split("/api/v1", 1)[1].split("?")[0]) for m, p in API_ROUTES}
    templated = {(m, p.replace("{account_id}", "1").replace("{inbox_id}", "1")) for m, p in api_paths}
    listed = {(m, p.replace("/register/run-1", "/register/{dag_run_id}")) for m, p in listed}
    listed = {(m, p.replace("/fleet/actions/run-1", "/fleet/actions/{dag_run_id}")) for m, p in listed}
    listed = {
        (m, p.replace("/runs/whatsapp_register_channel/run-1/", "/runs/{dag_id}/{dag_run_id}/"))
        for m, p in listed
    }
    assert templated == listed


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_no_credentials_is_401(api_client: TestClient, method: str, path: str) -> None:
    response = api_client.request(method, path)
    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_forged_token_is_401(api_client: TestClient, method: str, path: str, tokens: dict[str, str]) -> None:
    """Same claims as a real admin token, signed with another key: rejected, never trusted."""
    claims = jwt.decode(tokens["admin"], options={"verify_signature": False})
    header = jwt.get_unverified_header(tokens["admin"])
    forged = jwt.encode(claims, "not-the-airflow-secret-" * 4, algorithm=header["alg"], headers=header)
    for auth in ({"headers": {"Authorization": f"Bearer {forged}"}}, {"cookies": {"_token": forged}}):
        api_client.cookies.clear()
        response = api_client.request(method, path, **auth)
        assert response.status_code == 401, (auth.keys(), response.text)
    api_client.cookies.clear()


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_expired_token_is_401(api_client: TestClient, method: str, path: str) -> None:
    """Minted by Airflow's own auth manager, already past its expiry (beyond the JWT leeway)."""
    from airflow.api_fastapi.app import get_auth_manager

    expired = get_auth_manager().generate_jwt(_admin_user(), expiration_time_in_seconds=-120)
    response = api_client.request(method, path, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401, response.text
    assert "expired" in response.json()["detail"].lower()


def test_garbage_and_non_bearer_credentials_are_401(api_client: TestClient, tokens: dict[str, str]) -> None:
    path = "/whatsapp/api/v1/fleet"
    for header in ("Bearer not-a-jwt", f"Basic {tokens['admin']}", f"Token {tokens['admin']}"):
        assert api_client.get(path, headers={"Authorization": header}).status_code == 401, header


def test_bearer_and_ui_cookie_both_work(
    api_client: TestClient, tokens: dict[str, str], fleet: dict[str, SeededChannel]
) -> None:
    path = "/whatsapp/api/v1/fleet"
    assert api_client.get(path, headers={"Authorization": f"Bearer {tokens['viewer']}"}).status_code == 200
    api_client.cookies.set("_token", tokens["viewer"])
    try:
        assert api_client.get(path).status_code == 200
    finally:
        api_client.cookies.clear()


def test_viewer_may_read_but_not_register(
    api_client: TestClient, bearer: dict[str, dict[str, str]], fleet: dict[str, SeededChannel], register_runs
) -> None:
    pending = fleet["pending"]
    assert api_client.get(f"{pending.path}/health", headers=bearer["viewer"]).status_code == 200
    response = api_client.post(f"{pending.path}/register", headers=bearer["viewer"])
    assert response.status_code == 403, response.text
    assert register_runs() == []


def test_operator_role_may_register(
    api_client: TestClient, bearer: dict[str, dict[str, str]], fleet: dict[str, SeededChannel], register_runs
) -> None:
    response = api_client.post(f"{fleet['pending'].path}/register", headers=bearer["operator"])
    assert response.status_code == 202, response.text
    assert [run.triggering_user_name for run in register_runs()] == ["operator"]


def test_page_redirects_anonymous_visitors_to_airflow_login(api_client: TestClient) -> None:
    response = api_client.get("/whatsapp/ui/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"].startswith("/auth/login")
    assert response.headers["location"].endswith("next=%2Fplugin%2Fwhatsapp-health")
