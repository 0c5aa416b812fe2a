"""Airflow itself lists the plugin: the FastAPI app at /whatsapp and the navigation entry."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_airflow_lists_the_app_and_the_health_page(
    api_client: TestClient, bearer: dict[str, dict[str, str]]
) -> None:
    response = api_client.get("/api/v2/plugins", headers=bearer["admin"])
    assert response.status_code == 200, response.text
    [plugin] = [p for p in response.json()["plugins"] if p["name"] == "whatsapp"]
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/whatsapp"]
    [view] = plugin["external_views"]
    assert (view["name"], view["href"], view["url_route"]) == (
        "WhatsApp Health",
        "/whatsapp/ui/",
        "whatsapp-health",
    )
    assert view["destination"] == "nav" and view["nav_top_level"] is True
    assert view["icon"].startswith("data:image/svg+xml")
    assert plugin["operator_extra_links"]


def test_static_assets_are_served(api_client: TestClient) -> None:
    for asset, kind in (("app.js", "javascript"), ("style.css", "css")):
        response = api_client.get(f"/whatsapp/ui/static/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert (
        api_client.get("/whatsapp/ui", follow_redirects=False).headers["location"].endswith("/whatsapp/ui/")
    )
