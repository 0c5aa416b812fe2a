"""``GET /whatsapp/api/v1/fleet/export.csv``: the fleet's filters, every match, as a streamed CSV."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.api.airflow_auth import leaked
from tests.api.fleet_seed import SPECS, SeededChannel
from whatsapp.api.fleet_csv import CSV_COLUMNS
from whatsapp.api.routes import fleet as fleet_routes
from whatsapp.store import ChannelStore

FLEET = "/whatsapp/api/v1/fleet"
EXPORT = f"{FLEET}/export.csv"


def _csv(text: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return rows


def _refs_of_csv(rows: list[dict[str, str]]) -> list[tuple[int, int]]:
    return [(int(row["Account"]), int(row["Inbox"])) for row in rows]


def _refs_of_json(body: dict) -> list[tuple[int, int]]:
    return [(c["account_id"], c["inbox_id"]) for c in body["channels"]]


def test_an_export_is_a_streamed_csv_attachment(
    api_client: TestClient, bearer: dict[str, dict[str, str]], fleet: dict[str, SeededChannel]
) -> None:
    response = api_client.get(EXPORT, headers=bearer["admin"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith('.csv"'), disposition
    assert "content-length" not in response.headers, "streamed, not built whole"
    header = next(csv.reader(io.StringIO(response.text)))
    assert header == [column.header for column in CSV_COLUMNS]
    rows = _csv(response.text)
    assert len(rows) == len(SPECS)
    listed = api_client.get(FLEET, params={"limit": 500}, headers=bearer["admin"]).json()
    assert _refs_of_csv(rows) == _refs_of_json(listed), "the listing's default order"
    by_ref = {(c["account_id"], c["inbox_id"]): c for c in listed["channels"]}
    for row in rows:
        channel = by_ref[(int(row["Account"]), int(row["Inbox"]))]
        assert row["Phone number"] == channel["display_phone_number"]
        assert row["Phone number id"] == channel["phone_number_id"]
        assert (row["WABA id"], row["Business id"]) == (channel["waba_id"], channel["business_id"])
        assert row["Display name"] == channel["verified_name"]
        assert row["Registration state"] == channel["registration"]["state"]
        assert row["Situation"] == channel["situation"]["title"]
        assert row["Needs action"] == ("yes" if channel["situation"]["needs_action"] else "no")
        assert (row["Quality"], row["Status"]) == (channel["quality_rating"], channel["status"])
        assert row["Messaging limit"] == channel["messaging_limit_tier"]
        assert row["Checked"] == channel["checked_at"]
        assert row["Reauthorization reason"] == (channel["reauthorization_reason"] or "")


@pytest.mark.parametrize(
    "query",
    [
        {"quality_rating": ["RED", "YELLOW"]},
        {"provisioning": "pending", "sort": "display_phone_number", "order": "desc"},
        {"needs_action": "true"},
        {"q": "Acme Re"},
        {"account_id": 1, "sort": "account"},
        {"account_id": 2},
    ],
)
def test_an_export_applies_the_listings_filters_and_sort(
    api_client: TestClient, bearer: dict[str, dict[str, str]], fleet: dict[str, SeededChannel], query: dict
) -> None:
    listed = api_client.get(FLEET, params={**query, "limit": 500}, headers=bearer["admin"]).json()
    exported = _csv(api_client.get(EXPORT, params=query, headers=bearer["admin"]).text)
    assert _refs_of_csv(exported) == _refs_of_json(listed)
    assert len(exported) == listed["total"]


def test_an_export_filters_by_waba_and_business(
    api_client: TestClient, bearer: dict[str, dict[str, str]], fleet: dict[str, SeededChannel]
) -> None:
    listed = api_client.get(FLEET, params={"limit": 500}, headers=bearer["admin"]).json()["channels"]
    red = next(c for c in listed if c["inbox_id"] == fleet["red"].inbox_id)
    for name in ("waba_id", "business_id"):
        rows = _csv(api_client.get(EXPORT, params={name: red[name]}, headers=bearer["admin"]).text)
        expected = [c for c in listed if c[name] == red[name]]
        assert sorted(_refs_of_csv(rows)) == sorted((c["account_id"], c["inbox_id"]) for c in expected)
        assert {row["WABA id" if name == "waba_id" else "Business id"] for row in rows} == {red[name]}


def test_an_export_ignores_paging_and_includes_offboarded_channels_on_request(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    pg_store_env: ChannelStore,
) -> None:
    pg_store_env.channels.set_active(fleet["red"].channel_id, False)
    red = (fleet["red"].account_id, fleet["red"].inbox_id)
    active = _csv(api_client.get(EXPORT, params={"limit": 1, "offset": 2}, headers=bearer["admin"]).text)
    assert len(active) == len(SPECS) - 1 and red not in _refs_of_csv(active)
    everything = _csv(
        api_client.get(EXPORT, params={"include_inactive": "true"}, headers=bearer["admin"]).text
    )
    assert red in _refs_of_csv(everything)
    (row,) = [row for row in everything if (int(row["Account"]), int(row["Inbox"])) == red]
    assert row["Active"] == "no"


def test_a_viewer_may_export_and_no_export_holds_a_secret(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    secrets_of_fleet: set[str],
) -> None:
    response = api_client.get(EXPORT, params={"include_inactive": "true"}, headers=bearer["viewer"])
    assert response.status_code == 200, response.text
    assert len(_csv(response.text)) == len(SPECS)
    found = leaked(response.text, secrets_of_fleet)
    assert not found, f"the export leaks {len(found)} secret(s)"
    assert api_client.get(EXPORT).status_code in (401, 403), "not without a session"


@pytest.mark.parametrize(
    "query",
    [
        "waba_id=12a4",
        "waba_id=123456789012345678901",
        "business_id=",
        "account_id=0",
        "account_id=9223372036854775808",
        "account_id=abc",
        "sort=phone_number_id",
        "include_inactive=maybe",
        "q=%00",
    ],
)
def test_a_bad_filter_is_a_422_before_any_query(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    query: str,
) -> None:
    def no_store() -> None:
        raise AssertionError("the store was asked for a request that should have been refused")

    monkeypatch.setattr(fleet_routes, "channel_store", no_store)
    response = api_client.get(f"{EXPORT}?{query}", headers=bearer["admin"])
    assert response.status_code == 422, response.text
    name = query.split("=")[0]
    assert any(name in item["loc"] for item in response.json()["detail"]), response.text
    # The listing takes the same filters and refuses the same values.
    assert api_client.get(f"{FLEET}?{query}", headers=bearer["admin"]).status_code == 422


def test_the_listing_filters_by_owner(
    api_client: TestClient, bearer: dict[str, dict[str, str]], fleet: dict[str, SeededChannel]
) -> None:
    listed = api_client.get(FLEET, params={"limit": 500}, headers=bearer["admin"]).json()["channels"]
    yellow = next(c for c in listed if c["inbox_id"] == fleet["yellow"].inbox_id)
    query = {"waba_id": [yellow["waba_id"], "1"], "business_id": yellow["business_id"], "account_id": 1}
    body = api_client.get(FLEET, params=query, headers=bearer["admin"]).json()
    assert _refs_of_json(body) == [(1, fleet["yellow"].inbox_id)]
    assert body["total"] == 1
