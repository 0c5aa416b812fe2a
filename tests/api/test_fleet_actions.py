"""``POST /fleet/actions``: one ``whatsapp_fleet_action`` run per selection, refused before any side effect.

A viewer gets 403, a paused DAG 409, bad input 422 naming what is wrong; in each case no run is
queued. A good request queues exactly one run whose conf holds the selection (ids or filter words).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.fleet_seed import SeededChannel
from tests.api.runs import RunView, delete_register_runs, register_runs_in_db, set_paused
from whatsapp.domain.fleet_action import MAX_CHANNELS

pytestmark = pytest.mark.postgres

ACTIONS = "/whatsapp/api/v1/fleet/actions"
DAG_ID = "whatsapp_fleet_action"


@pytest.fixture
def action_runs(api_client: TestClient) -> Iterator[Callable[[], list[RunView]]]:
    """The action DAG unpaused, with no runs before and none after."""
    delete_register_runs(DAG_ID)
    set_paused(DAG_ID, False)
    yield lambda: register_runs_in_db(DAG_ID)
    delete_register_runs(DAG_ID)
    set_paused(DAG_ID, False)


def _ids(*channels: SeededChannel) -> list[dict[str, int]]:
    return [{"account_id": c.account_id, "inbox_id": c.inbox_id} for c in channels]


def test_a_selection_queues_one_run_with_the_ids(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    action_runs: Callable[[], list[RunView]],
) -> None:
    chosen = list(fleet.values())[:3]
    response = api_client.post(
        ACTIONS, json={"action": "refresh", "channels": _ids(*chosen)}, headers=bearer["operator"]
    )
    assert response.status_code == 202, response.text
    body = response.json()
    [run] = action_runs()
    assert (body["dag_id"], body["dag_run_id"], body["channels"]) == (DAG_ID, run.run_id, 3)
    assert body["url"].endswith(f"/dags/{DAG_ID}/runs/{run.run_id}")
    assert run.conf == {"action": "refresh", "channels": _ids(*chosen), "chunk_size": 50}
    assert run.triggering_user_name == "operator"

    answer = api_client.get(f"{ACTIONS}/{run.run_id}", headers=bearer["viewer"])  # anyone may read it
    assert answer.status_code == 200, answer.text
    assert answer.json()["run"]["state"] == "queued" and answer.json()["outcomes"] == []


def test_a_filter_queues_one_run_for_all_it_matches(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    action_runs: Callable[[], list[RunView]],
) -> None:
    matching = api_client.get(
        "/whatsapp/api/v1/fleet", params={"needs_action": "true", "limit": 500}, headers=bearer["viewer"]
    ).json()["total"]
    assert matching > 0
    response = api_client.post(
        ACTIONS,
        json={"action": "register", "filter": {"needs_action": True}},
        headers=bearer["admin"],
    )
    assert response.status_code == 202, response.text
    assert response.json()["channels"] == matching
    [run] = action_runs()
    assert run.conf["filter"]["needs_action"] is True and "channels" not in run.conf


def test_a_viewer_may_not_act_on_the_fleet(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    action_runs: Callable[[], list[RunView]],
) -> None:
    response = api_client.post(
        ACTIONS, json={"action": "refresh", "channels": _ids(*fleet.values())}, headers=bearer["viewer"]
    )
    assert response.status_code == 403, response.text
    assert action_runs() == []
    me = api_client.get("/whatsapp/api/v1/me", headers=bearer["viewer"]).json()
    assert me["permissions"]["fleet_action"] == {
        "allowed": False,
        "reason": "your role can view but not act on many numbers at once; ask an Admin or Op",
    }
    assert api_client.get("/whatsapp/api/v1/me", headers=bearer["operator"]).json()["permissions"][
        "fleet_action"
    ]["allowed"]


def test_a_paused_dag_is_a_409_and_nothing_is_queued(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    action_runs: Callable[[], list[RunView]],
) -> None:
    set_paused(DAG_ID, True)
    response = api_client.post(
        ACTIONS, json={"action": "refresh", "channels": _ids(*fleet.values())}, headers=bearer["admin"]
    )
    assert response.status_code == 409, response.text
    assert "paused" in response.json()["detail"]
    assert action_runs() == []


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"action": "delete", "channels": "FIRST"}, "action", "refresh"),
        ({"action": "refresh"}, "body", "either"),
        ({"action": "refresh", "channels": "FIRST", "filter": {}}, "body", "not both"),
        ({"action": "refresh", "channels": []}, "channels", "at least 1"),
        ({"action": "refresh", "channels": [{"account_id": 1}]}, "inbox_id", "required"),
        ({"action": "refresh", "channels": [{"account_id": 0, "inbox_id": 1}]}, "account_id", "greater"),
        ({"action": "refresh", "channels": "TWICE"}, "body", "more than once"),
        ({"action": "refresh", "channels": [{"account_id": 1, "inbox_id": 999999}]}, "channels", "1/999999"),
        ({"action": "refresh", "filter": {"situation": ["nonsense"]}}, "situation", "Input should be"),
        ({"action": "refresh", "filter": {"colour": ["red"]}}, "colour", "not permitted"),
        ({"action": "refresh", "filter": {"q": "no such channel anywhere"}}, "filter", "no channel matches"),
        ({"action": "refresh", "filter": {}, "chunk_size": 0}, "chunk_size", "greater"),
        ({"action": "refresh", "filter": {}, "token": "EAAG"}, "token", "not permitted"),
    ],
    ids=[
        "unknown action",
        "no selection",
        "both selections",
        "empty selection",
        "an id missing",
        "an id out of range",
        "a channel twice",
        "an unknown channel",
        "an unknown situation",
        "an unknown filter",
        "a filter matching nothing",
        "a chunk of none",
        "an unknown key",
    ],
)
def test_bad_input_is_a_422_naming_it_and_nothing_is_queued(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    action_runs: Callable[[], list[RunView]],
    body: dict[str, Any],
    field: str,
    words: str,
) -> None:
    first = next(iter(fleet.values()))
    if body.get("channels") == "FIRST":
        body = {**body, "channels": _ids(first)}
    elif body.get("channels") == "TWICE":
        body = {**body, "channels": _ids(first, first)}
    response = api_client.post(ACTIONS, json=body, headers=bearer["admin"])
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(field in map(str, error["loc"]) and words in error["msg"] for error in detail), detail
    assert action_runs() == []


def test_too_many_channels_are_refused(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    fleet: dict[str, SeededChannel],
    action_runs: Callable[[], list[RunView]],
) -> None:
    ids = [{"account_id": 1, "inbox_id": n} for n in range(1, MAX_CHANNELS + 2)]
    response = api_client.post(ACTIONS, json={"action": "refresh", "channels": ids}, headers=bearer["admin"])
    assert response.status_code == 422, response.text
    assert action_runs() == []


def test_an_unknown_run_is_a_404(api_client: TestClient, bearer: dict[str, dict[str, str]]) -> None:
    response = api_client.get(f"{ACTIONS}/refresh__1_channels__nope", headers=bearer["viewer"])
    assert response.status_code == 404, response.text
