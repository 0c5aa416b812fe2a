"""``GET /whatsapp/api/v1/fleet``: the table, filters by state, counts, paging."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.fleet_seed import SPECS, SeededChannel
from whatsapp.store import ChannelStore

FLEET = "/whatsapp/api/v1/fleet"


@pytest.fixture
def admin(bearer: dict[str, dict[str, str]]) -> dict[str, str]:
    return bearer["admin"]


def _inboxes(body: dict) -> list[int]:
    return [c["inbox_id"] for c in body["channels"]]


def test_fleet_lists_every_channel_with_counts(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel]
) -> None:
    body = api_client.get(FLEET, headers=admin).json()
    assert body["total"] == len(SPECS)
    assert sorted(_inboxes(body)) == sorted(c.inbox_id for c in fleet.values())
    # "Needs action first" is the default order, as the page asks for it.
    needs_action_first = api_client.get(f"{FLEET}?sort=needs_action", headers=admin).json()
    assert _inboxes(body) == _inboxes(needs_action_first) != sorted(_inboxes(body))
    counts = body["counts"]
    assert counts["channels"] == len(SPECS)
    assert counts["provisioning"] == {"pending": 3, "provisioned": 3}
    assert counts["quality_rating"] == {"GREEN": 4, "RED": 1, "YELLOW": 1}
    assert body["last_audit"] is None


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("provisioning=pending", {"pending", "in_review", "declined"}),
        ("quality_rating=RED&quality_rating=YELLOW", {"red", "yellow"}),
        ("name_status=PENDING_REVIEW", {"in_review"}),
        ("reauthorization_reason=none", {"healthy", "yellow", "red"}),
        ("provisioning=pending&name_status=DECLINED", {"declined"}),
        ("status=FLAGGED", {"red"}),
        ("provisioning=nothing-like-this", set()),
    ],
)
def test_filters_by_state(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], query: str, keys: set[str]
) -> None:
    body = api_client.get(f"{FLEET}?{query}", headers=admin).json()
    assert set(_inboxes(body)) == {fleet[k].inbox_id for k in keys}
    assert body["total"] == len(keys)
    assert body["counts"]["channels"] == len(SPECS), "counts always cover the whole fleet"


def test_registration_state_filter_matches_the_shape(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel]
) -> None:
    everything = api_client.get(FLEET, headers=admin).json()["channels"]
    state = everything[0]["registration"]["state"]
    filtered = api_client.get(f"{FLEET}?registration_state={state}", headers=admin).json()["channels"]
    assert filtered == [c for c in everything if c["registration"]["state"] == state]


def test_paging(api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel]) -> None:
    page = api_client.get(f"{FLEET}?sort=account&limit=2&offset=2", headers=admin).json()
    assert page["total"] == len(SPECS)
    assert _inboxes(page) == [3, 4]
    assert api_client.get(f"{FLEET}?limit=0", headers=admin).status_code == 422


def test_inactive_channels_only_on_request(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], pg_store_env: ChannelStore
) -> None:
    pg_store_env.channels.set_active(fleet["red"].channel_id, False)
    assert fleet["red"].inbox_id not in _inboxes(api_client.get(FLEET, headers=admin).json())
    with_inactive = api_client.get(f"{FLEET}?include_inactive=true", headers=admin).json()
    assert fleet["red"].inbox_id in _inboxes(with_inactive)


def test_last_audit_is_the_fleet_dags_saved_summary(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], pg_store_env: ChannelStore
) -> None:
    saved = pg_store_env.fleet.save_summary(pg_store_env.fleet.counts())
    last = api_client.get(FLEET, headers=admin).json()["last_audit"]
    assert last["counts"] == saved.counts
    assert last["created_at"].endswith("Z")


def test_empty_store(api_client: TestClient, admin: dict[str, str], pg_store_env: ChannelStore) -> None:
    body = api_client.get(FLEET, headers=admin).json()
    assert (body["total"], body["channels"], body["counts"]["channels"]) == (0, [], 0)


@pytest.mark.parametrize(
    "query",
    [
        "sort=phone_number_id",
        "sort=needs_action&order=sideways",
        "limit=501",
        "offset=-1",
        "include_inactive=maybe",
    ],
)
def test_bad_parameters_are_422(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], query: str
) -> None:
    response = api_client.get(f"{FLEET}?{query}", headers=admin)
    assert response.status_code == 422, response.text


def test_needs_action_sort_puts_incomplete_registrations_first(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel]
) -> None:
    body = api_client.get(f"{FLEET}?sort=needs_action", headers=admin).json()
    states = [c["registration"]["state"] for c in body["channels"]]
    assert states == ["registered"] + ["scheduled"] * 3 + ["registered"] * 2
    # Meta's red rating needs a person; then registrations pending (the declined name is still
    # scheduled) before names in review, by inbox; then the yellow rating, then the healthy.
    assert _inboxes(body) == [fleet[k].inbox_id for k in ("red", "pending", "declined", "in_review")] + [
        fleet[k].inbox_id for k in ("yellow", "healthy")
    ]
    reverse = api_client.get(f"{FLEET}?sort=needs_action&order=desc", headers=admin).json()
    assert _inboxes(reverse) == _inboxes(body)[::-1]


def test_pages_of_a_sorted_filter_cover_it_once(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel]
) -> None:
    query = f"{FLEET}?provisioning=provisioned&provisioning=pending&sort=display_phone_number&order=desc"
    everything = api_client.get(query, headers=admin).json()
    paged = []
    for offset in range(0, everything["total"], 4):
        page = api_client.get(f"{query}&limit=4&offset={offset}", headers=admin).json()
        assert page["total"] == everything["total"] == len(SPECS)
        paged += _inboxes(page)
    assert paged == _inboxes(everything)
    assert sorted(paged) == sorted(c.inbox_id for c in fleet.values())


def test_attempts_of_the_page_are_in_the_rows(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel]
) -> None:
    body = api_client.get(f"{FLEET}?name_status=PENDING_REVIEW", headers=admin).json()
    (row,) = body["channels"]
    assert row["registration"]["attempts_72h"] == 1
    assert row["registration"]["last_error"]["subcode"] == 2388001
