"""``GET /whatsapp/api/v1/fleet/schedule`` and the words of a paused fleet: what the page needs to say
when the fleet DAG will act, and never "the fleet retries by itself" while it is paused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.runs import set_paused
from tests.api.situation_seed import seed_situations
from whatsapp.api.runs import FLEET_DAG_ID
from whatsapp.domain.situations import SituationKind
from whatsapp.store import Channel, ChannelStore

SCHEDULE = "/whatsapp/api/v1/fleet/schedule"
FLEET = "/whatsapp/api/v1/fleet"


@pytest.fixture
def fleet_dag(api_client: TestClient) -> Iterator[None]:
    """The fleet DAG as Airflow creates it (paused); paused again afterwards."""
    set_paused(FLEET_DAG_ID, True)
    yield
    set_paused(FLEET_DAG_ID, True)


@pytest.fixture
def situations(pg_store_env: ChannelStore) -> dict[SituationKind, Channel]:
    return seed_situations(pg_store_env)


def _path(channel: Channel) -> str:
    return f"/whatsapp/api/v1/accounts/{channel.account_id}/inboxes/{channel.inbox_id}/health"


def test_a_paused_fleet_dag_says_so_and_has_no_next_run(
    api_client: TestClient, bearer: dict[str, dict[str, str]], pg_store_env: ChannelStore, fleet_dag: None
) -> None:
    body = api_client.get(SCHEDULE, headers=bearer["viewer"]).raise_for_status().json()
    assert body["dag_id"] == FLEET_DAG_ID and body["dag_path"] == f"/dags/{FLEET_DAG_ID}"
    assert body["paused"] is True and body["next_run"] is None
    assert body["interval_seconds"] == 3600, body  # schedule=timedelta(hours=1)
    assert body["audit_overdue"] is False  # paused says it already


def test_an_unpaused_fleet_dag_has_a_next_run_and_an_overdue_audit_until_one_is_saved(
    api_client: TestClient, bearer: dict[str, dict[str, str]], pg_store_env: ChannelStore, fleet_dag: None
) -> None:
    set_paused(FLEET_DAG_ID, False)
    never = api_client.get(SCHEDULE, headers=bearer["viewer"]).raise_for_status().json()
    assert never["paused"] is False and never["next_run"] is not None
    assert never["last_audit_at"] is None and never["audit_overdue"] is True

    now = datetime.now(UTC)
    pg_store_env.fleet.save_summary({"channels": 0}, now=now - timedelta(hours=3))
    old = api_client.get(SCHEDULE, headers=bearer["viewer"]).raise_for_status().json()
    assert old["last_audit_at"] is not None and old["audit_overdue"] is True  # 3 h > 2 intervals

    pg_store_env.fleet.save_summary({"channels": 0}, now=now - timedelta(minutes=50))
    fresh = api_client.get(SCHEDULE, headers=bearer["viewer"]).raise_for_status().json()
    assert fresh["audit_overdue"] is False


def test_no_situation_says_the_fleet_retries_by_itself_while_it_is_paused(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    situations: dict[SituationKind, Channel],
    fleet_dag: None,
) -> None:
    backoff = situations[SituationKind.REGISTER_BACKOFF]
    paused = api_client.get(_path(backoff), headers=bearer["viewer"]).raise_for_status().json()["situation"]
    words = f"{paused['detail']} {paused['action']['label']}"
    assert "by itself" not in words and "paused" in words, words
    listed = api_client.get(FLEET, params={"limit": 500}, headers=bearer["viewer"]).raise_for_status().json()
    assert not [
        c["situation"]["detail"] for c in listed["channels"] if "by itself" in c["situation"]["detail"]
    ]

    set_paused(FLEET_DAG_ID, False)
    running = api_client.get(_path(backoff), headers=bearer["viewer"]).raise_for_status().json()["situation"]
    assert "tries again by itself" in running["detail"], running
    assert running["action"]["label"] == "Wait: the fleet retries by itself"
