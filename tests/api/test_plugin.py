"""Airflow itself lists the plugin: the FastAPI app at /whatsapp and the three React apps."""

from __future__ import annotations

from fastapi.testclient import TestClient

from whatsapp.ui import BUNDLE


def test_airflow_lists_the_app_and_the_react_apps(
    api_client: TestClient, bearer: dict[str, dict[str, str]]
) -> None:
    response = api_client.get("/api/v2/plugins", headers=bearer["admin"])
    assert response.status_code == 200, response.text
    [plugin] = [p for p in response.json()["plugins"] if p["name"] == "whatsapp"]
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/whatsapp"]
    assert plugin["external_views"] == []
    apps = {app["destination"]: app for app in plugin["react_apps"]}
    assert set(apps) == {"nav", "dashboard", "dag_run"}
    assert {app["bundle_url"] for app in apps.values()} == {"/whatsapp/ui/whatsapp-health.js"}
    nav = apps["nav"]
    assert (nav["name"], nav["url_route"], nav["nav_top_level"]) == ("WhatsApp", "whatsapp-health", True)
    assert nav["icon"].startswith("data:image/svg+xml")
    assert apps["dag_run"]["name"] == "WhatsApp" and apps["dag_run"]["url_route"]
    assert plugin["operator_extra_links"]
    # No import error for Airflow's home page to show.
    errors = api_client.get("/api/v2/plugins/importErrors", headers=bearer["admin"])
    assert errors.status_code == 200 and errors.json()["total_entries"] == 0, errors.text


def test_the_bundle_is_served_without_login_and_revalidated(api_client: TestClient) -> None:
    response = api_client.get("/whatsapp/ui/whatsapp-health.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache" and response.headers["etag"]
    assert response.content == BUNDLE.read_bytes()
    again = api_client.get(
        "/whatsapp/ui/whatsapp-health.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert api_client.get("/whatsapp/ui/other.js").status_code == 404


def test_the_old_page_address_leads_to_the_page_in_airflow(
    api_client: TestClient, tokens: dict[str, str]
) -> None:
    api_client.cookies.set("_token", tokens["viewer"])
    try:
        for path in ("/whatsapp/ui", "/whatsapp/ui/"):
            response = api_client.get(f"{path}?channel=1-2", follow_redirects=False)
            assert response.headers["location"] == "/plugin/whatsapp-health?channel=1-2", path
    finally:
        api_client.cookies.clear()
