"""``POST .../register``: queues ``whatsapp_register_channel`` (202), or says why not (404, 409)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.fleet_seed import SeededChannel
from tests.api.runs import REGISTER_DAG_ID, RunView, set_paused
from tests.store.helpers import set_registration
from whatsapp.domain.registration import RegistrationState
from whatsapp.store import ChannelStore

RunsFn = Callable[[], list[RunView]]


@pytest.fixture
def admin(bearer: dict[str, dict[str, str]]) -> dict[str, str]:
    return bearer["admin"]


def test_pending_channel_queues_a_manual_run_with_its_ids(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], register_runs: RunsFn
) -> None:
    pending = fleet["pending"]
    set_paused(REGISTER_DAG_ID, True)  # created unpaused; paused here, the answer says so
    try:
        response = api_client.post(f"{pending.path}/register", headers=admin)
    finally:
        set_paused(REGISTER_DAG_ID, False)

    assert response.status_code == 202, response.text
    body = response.json()
    run_id = body["dag_run_id"]
    assert run_id.startswith(f"register__{pending.account_id}_{pending.inbox_id}__")
    assert body["dag_id"] == "whatsapp_register_channel"
    assert body["state"] == "queued"
    assert body["dag_paused"] is True
    assert body["url"] == f"/dags/whatsapp_register_channel/runs/{run_id}"
    [run] = register_runs()
    assert run.run_id == run_id
    assert run.conf == {"account_id": pending.account_id, "inbox_id": pending.inbox_id}
    assert (run.state, run.run_type, run.triggering_user_name) == ("queued", "manual", "admin")


def test_run_is_visible_through_airflows_public_api(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], register_runs: RunsFn
) -> None:
    run_id = api_client.post(f"{fleet['declined'].path}/register", headers=admin).json()["dag_run_id"]
    public = api_client.get(f"/api/v2/dags/whatsapp_register_channel/dagRuns/{run_id}", headers=admin)
    assert public.status_code == 200, public.text
    assert public.json()["state"] == "queued"
    assert public.json()["triggered_by"] == "rest_api"


@pytest.mark.parametrize("key", ["healthy", "yellow", "red"])
def test_provisioned_channel_is_409_and_queues_nothing(
    api_client: TestClient,
    admin: dict[str, str],
    fleet: dict[str, SeededChannel],
    register_runs: RunsFn,
    key: str,
) -> None:
    response = api_client.post(f"{fleet[key].path}/register", headers=admin)
    assert response.status_code == 409, response.text
    assert "not needed" in response.json()["detail"]
    assert register_runs() == []


def test_second_click_while_queued_is_409(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], register_runs: RunsFn
) -> None:
    pending = fleet["pending"]
    first = api_client.post(f"{pending.path}/register", headers=admin)
    second = api_client.post(f"{pending.path}/register", headers=admin)
    assert first.status_code == 202
    assert second.status_code == 409, second.text
    assert first.json()["dag_run_id"] in second.json()["detail"]
    assert len(register_runs()) == 1


def test_a_run_of_another_channel_does_not_block(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], register_runs: RunsFn
) -> None:
    assert api_client.post(f"{fleet['pending'].path}/register", headers=admin).status_code == 202
    assert api_client.post(f"{fleet['in_review'].path}/register", headers=admin).status_code == 202
    assert len(register_runs()) == 2


def test_finished_run_does_not_block_a_new_one(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], register_runs: RunsFn
) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy import update

    pending = fleet["pending"]
    first = api_client.post(f"{pending.path}/register", headers=admin).json()["dag_run_id"]
    with create_session() as session:
        session.execute(update(DagRun).where(DagRun.run_id == first).values(state=DagRunState.FAILED))

    again = api_client.post(f"{pending.path}/register", headers=admin)

    assert again.status_code == 202, again.text
    assert again.json()["dag_run_id"] != first


def test_unknown_channel_is_404_and_queues_nothing(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], register_runs: RunsFn
) -> None:
    response = api_client.post("/whatsapp/api/v1/accounts/1/inboxes/999/register", headers=admin)
    assert response.status_code == 404, response.text
    assert register_runs() == []


def test_the_click_is_in_airflows_audit_log(
    api_client: TestClient, admin: dict[str, str], fleet: dict[str, SeededChannel], register_runs: RunsFn
) -> None:
    from airflow.models import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    api_client.post(f"{fleet['pending'].path}/register", headers=admin)
    with create_session() as session:
        owners = session.scalars(
            select(Log.owner).where(Log.event == "whatsapp_complete_registration").order_by(Log.id.desc())
        ).first()
    assert owners == "admin"


def test_a_number_meta_blocked_is_409_until_its_window_reopens(
    api_client: TestClient,
    admin: dict[str, str],
    fleet: dict[str, SeededChannel],
    register_runs: RunsFn,
    pg_store_env: ChannelStore,
) -> None:
    """Meta's 133016: a manual run would bypass the backoff and send one more refused call."""
    pending = fleet["pending"]
    reopens = datetime.now(UTC) + timedelta(hours=5)
    set_registration(pg_store_env, pending.channel_id, RegistrationState.BLOCKED, next_attempt_at=reopens)

    response = api_client.post(f"{pending.path}/register", headers=admin)

    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert "133016" in detail and reopens.isoformat().replace("+00:00", "Z") in detail, detail
    assert register_runs() == []

    # Once the window has reopened the button works again (the fleet may not have run yet).
    reopened = reopens - timedelta(hours=6)
    set_registration(pg_store_env, pending.channel_id, RegistrationState.BLOCKED, next_attempt_at=reopened)
    assert api_client.post(f"{pending.path}/register", headers=admin).status_code == 202
    assert len(register_runs()) == 1
