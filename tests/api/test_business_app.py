"""WhatsApp Business app numbers through the API: the ``business_app`` object of each seeded kind
(channel and fleet row), the words the vocabulary serves for it, and *Complete registration*
refused with 409 (Meta takes no ``/register`` for such a number)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.runs import RunView
from tests.api.situation_seed import BUSINESS_APP_KINDS, seed_situations
from whatsapp.domain.business_app import (
    APP_LINK_SEVERITY,
    BUSINESS_APP_LABEL,
    SYNC_STATE_SEVERITY,
    SYNC_STATE_WORDS,
    SYNC_WINDOW,
    SyncState,
)
from whatsapp.domain.situations import SituationKind
from whatsapp.store import Channel, ChannelStore, business_app

K = SituationKind
API = "/whatsapp/api/v1"

#: What the seed leaves each WhatsApp Business app number with: (link, contacts sync, history sync).
EXPECTED: dict[SituationKind, tuple[str, str, str]] = {
    K.HISTORY_SYNC_DUE: ("connected", "due", "due"),
    K.HISTORY_NOT_SHARED: ("connected", "due", "declined"),
    K.APP_RECONNECTING: ("reconnecting", "due", "due"),
    K.APP_DISCONNECTED: ("disconnected", "due", "due"),
}


@pytest.fixture
def admin(bearer: dict[str, dict[str, str]]) -> dict[str, str]:
    return bearer["admin"]


@pytest.fixture
def situations(pg_store_env: ChannelStore) -> dict[SituationKind, Channel]:
    return seed_situations(pg_store_env)


def _path(channel: Channel) -> str:
    return f"{API}/accounts/{channel.account_id}/inboxes/{channel.inbox_id}"


def _health(api_client: TestClient, admin: dict[str, str], channel: Channel) -> dict:
    response = api_client.get(f"{_path(channel)}/health", headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_seed_covers_every_business_app_kind() -> None:
    assert set(EXPECTED) == BUSINESS_APP_KINDS


@pytest.mark.parametrize("kind", sorted(BUSINESS_APP_KINDS))
def test_each_business_app_kind_serves_its_link_syncs_and_deadline(
    api_client: TestClient,
    admin: dict[str, str],
    situations: dict[SituationKind, Channel],
    kind: SituationKind,
) -> None:
    body = _health(api_client, admin, situations[kind])
    assert body["situation"]["kind"] == kind.value
    app = body["business_app"]
    link, contacts, history = EXPECTED[kind]
    assert (app["label"], app["link"], app["message_echoes"]) == (BUSINESS_APP_LABEL, link, 0)
    assert list(app["syncs"]) == ["contacts", "history"]  # Meta's order
    for key, state, sync_type in (
        ("contacts", contacts, "smb_app_state_sync"),
        ("history", history, "history"),
    ):
        sync = app["syncs"][key]
        assert (sync["sync_type"], sync["state"], sync["progress"]) == (sync_type, state, None), sync
        assert sync["text"] == SYNC_STATE_WORDS[SyncState(state)] and sync["label"]
    assert app["sync_deadline"].endswith("Z")
    assert BUSINESS_APP_LABEL in " ".join(body["notes"])


def test_the_sync_deadline_is_the_banners_deadline_while_a_sync_is_due(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    channel = situations[K.HISTORY_SYNC_DUE]
    body = _health(api_client, admin, channel)
    deadline = body["business_app"]["sync_deadline"]
    assert body["situation"]["deadline"] == deadline
    assert channel.created_at is not None and channel.sync_deadline == channel.created_at + SYNC_WINDOW
    assert any("can be requested until" in note for note in body["notes"]), body["notes"]


def test_a_disconnected_number_is_offboarded_with_metas_reason(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    body = _health(api_client, admin, situations[K.APP_DISCONNECTED])
    assert (body["active"], body["business_app"]["link"]) == (False, "disconnected")
    assert any("BUSINESS_USER: Disconnected from the app" in note for note in body["notes"]), body["notes"]


def test_history_progress_and_echoes(
    api_client: TestClient,
    admin: dict[str, str],
    pg_store_env: ChannelStore,
    situations: dict[SituationKind, Channel],
) -> None:
    """What Meta pushes (history chunks, echoed messages) as the webhook receiver stores it."""
    channel = situations[K.HISTORY_SYNC_DUE]
    with pg_store_env.engine.begin() as conn:
        business_app.history_seen(conn, channel.id, progress=40, declined=False)
        business_app.count_echoes(conn, channel.id, 3)
    app = _health(api_client, admin, channel)["business_app"]
    history = app["syncs"]["history"]
    assert (history["state"], history["progress"]) == ("in_progress", 40)
    assert history["text"] == f"{SYNC_STATE_WORDS[SyncState.IN_PROGRESS]} (40 %)"
    assert app["message_echoes"] == 3


def test_fleet_rows_say_which_numbers_are_on_the_business_app(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    response = api_client.get(f"{API}/fleet?limit=500&include_inactive=true", headers=admin)
    assert response.status_code == 200, response.text
    rows = response.json()["channels"]
    assert len(rows) == len(SituationKind)
    on_app = {
        row["situation"]["kind"]: row["business_app"] for row in rows if row["business_app"] is not None
    }
    assert set(on_app) == {kind.value for kind in BUSINESS_APP_KINDS}
    assert {app["label"] for app in on_app.values()} == {BUSINESS_APP_LABEL}


def test_vocabulary_serves_the_business_app_words(api_client: TestClient, admin: dict[str, str]) -> None:
    body = api_client.get(f"{API}/vocabulary", headers=admin).json()["business_app"]
    assert body["label"] == BUSINESS_APP_LABEL
    assert body["link"] == {link.value: severity.value for link, severity in APP_LINK_SEVERITY.items()}
    assert body["sync_states"] == {
        state.value: {"text": SYNC_STATE_WORDS[state], "severity": SYNC_STATE_SEVERITY[state].value}
        for state in SyncState
    }
    assert body["sync_states"]["requested"]["text"] == "requested, answer unknown (not sent again)"


def test_register_is_refused_with_409_for_a_business_app_number(
    api_client: TestClient,
    admin: dict[str, str],
    situations: dict[SituationKind, Channel],
    register_runs: Callable[[], list[RunView]],
) -> None:
    for kind in (K.HISTORY_SYNC_DUE, K.APP_RECONNECTING):
        response = api_client.post(f"{_path(situations[kind])}/register", headers=admin)
        assert response.status_code == 409, response.text
        assert "WhatsApp Business app number" in response.json()["detail"]
    assert register_runs() == []
