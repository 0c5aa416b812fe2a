"""``POST /whatsapp/api/v1/signups``: every bad field is a 422 naming it with nothing stored or called;
a good signup is stored encrypted and queues ``whatsapp_onboarding`` with only its id."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from include.graph_simulator.process import SimulatorControl
from tests.api.runs import ONBOARDING_DAG_ID, RunView, set_paused
from tests.onboarding.bad_confs import BAD_CONFS, BadConf
from whatsapp.store import ChannelStore
from whatsapp.store.schema import channels, signup_intake, signups

pytestmark = pytest.mark.postgres

INTAKE = "/whatsapp/api/v1/signups"


def signup_body(number: dict[str, Any]) -> dict[str, Any]:
    keys = ("code", "business_id", "waba_id", "phone_number_id")
    return {"account_id": 1, **{key: number[key] for key in keys}}


def store_rows(store: ChannelStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{store.target.schema}"')
        return {
            t.name: conn.scalar(select(func.count()).select_from(t))
            for t in (channels, signups, signup_intake)
        }


def event_log_text() -> str:
    from airflow.models import Log
    from airflow.utils.session import create_session

    with create_session() as session:
        return "\n".join(
            f"{row.event} {row.owner} {row.run_id} {row.extra}" for row in session.scalars(select(Log))
        )


@pytest.mark.parametrize("bad", BAD_CONFS, ids=[bad.case for bad in BAD_CONFS])
def test_a_bad_field_is_a_422_naming_it_and_nothing_happens(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
    bad: BadConf,
) -> None:
    number = sim.add_number(name_status="APPROVED")
    sim.clear_calls()
    body = bad.apply(signup_body(number))
    response = api_client.post(
        INTAKE,
        content=json.dumps(body, allow_nan=True),
        headers={**bearer["admin"], "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    fields = [error["loc"] for error in response.json()["detail"]]
    assert ["body", bad.intake_field or bad.field] in fields, fields
    assert number["code"] not in response.text
    assert onboarding_runs() == []
    assert store_rows(pg_store_env) == {"channels": 0, "signups": 0, "signup_intake": 0}
    assert sim.calls() == []
    assert number["code"] in sim.number(number["phone_number_id"])["codes"]  # never exchanged


@pytest.mark.parametrize("raw", [b"x", b"[1, 2]", b'"text"', b"null", b"{", b'{"account_id": 1,}'], ids=repr)
def test_a_body_that_is_no_json_object_is_a_422(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
    raw: bytes,
) -> None:
    headers = {**bearer["admin"], "Content-Type": "application/json"}
    response = api_client.post(INTAKE, content=raw, headers=headers)
    assert response.status_code == 422, response.text
    assert onboarding_runs() == [] and store_rows(pg_store_env)["signup_intake"] == 0


def test_a_good_signup_is_stored_encrypted_and_queues_a_run_with_only_its_id(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
) -> None:
    number = sim.add_number(name_status="APPROVED")
    sim.clear_calls()
    response = api_client.post(INTAKE, json=signup_body(number), headers=bearer["operator"])

    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"signup_id", "dag_run_id"}
    [run] = onboarding_runs()
    assert run.run_id == answer["dag_run_id"] and run.run_id.startswith("signup__1_")
    assert run.conf == {"signup_id": answer["signup_id"]}
    assert (run.state, run.triggering_user_name) == ("queued", "operator")

    pending = pg_store_env.signups.pending(answer["signup_id"])
    assert pending is not None and pending.code_held and pending.dag_run_id == run.run_id
    assert (
        pending.ids.waba_id == number["waba_id"] and pending.ids.phone_number_id == number["phone_number_id"]
    )
    with pg_store_env.engine.connect() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{pg_store_env.target.schema}"')
        (ciphertext,) = conn.execute(select(signup_intake.c.code_enc)).one()
    assert number["code"] not in ciphertext
    assert pg_store_env.secrets.decrypt(ciphertext) == number["code"]

    log = event_log_text()
    assert f"whatsapp_signup_intake operator {run.run_id}" in log  # audited, like Airflow's own routes
    assert number["code"] not in log and ciphertext not in log
    assert number["code"] not in response.text
    assert sim.calls() == []  # the intake never calls Graph: the run does


@pytest.mark.parametrize(
    ("timing", "conf_timing"),
    [
        ({"name_poke_interval": 1}, {"name_poke_interval": 1}),
        (
            {"name_poke_interval": 20, "name_wait_timeout": 3600},
            {"name_poke_interval": 20, "name_wait_timeout": 3600},
        ),
        ({"name_poke_interval": None, "name_wait_timeout": 5.0}, {"name_wait_timeout": 5}),
    ],
    ids=["poke interval", "both", "null and 5.0"],
)
def test_the_timing_fields_sent_go_to_the_run_with_the_signup_id(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
    timing: dict[str, Any],
    conf_timing: dict[str, int],
) -> None:
    """The DAG's own timing params, checked by the same rules; null means the DAG's default."""
    number = sim.add_number(name_status="APPROVED")
    response = api_client.post(INTAKE, json={**signup_body(number), **timing}, headers=bearer["operator"])
    assert response.status_code == 202, response.text
    [run] = onboarding_runs()
    assert run.conf == {"signup_id": response.json()["signup_id"], **conf_timing}
    assert all(f'"{name}": {value}' in event_log_text() for name, value in conf_timing.items())


def test_a_viewer_may_not_start_an_onboarding(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
) -> None:
    number = sim.add_number(name_status="APPROVED")
    response = api_client.post(INTAKE, json=signup_body(number), headers=bearer["viewer"])
    assert response.status_code == 403, response.text
    assert onboarding_runs() == [] and store_rows(pg_store_env)["signup_intake"] == 0


def test_a_paused_dag_is_a_409_and_nothing_is_kept(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
) -> None:
    set_paused(ONBOARDING_DAG_ID, True)
    number = sim.add_number(name_status="APPROVED")
    response = api_client.post(INTAKE, json=signup_body(number), headers=bearer["admin"])
    assert response.status_code == 409, response.text
    assert "paused" in response.json()["detail"]
    assert onboarding_runs() == [] and store_rows(pg_store_env)["signup_intake"] == 0


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "http://testserver"}, True),
        ({"Referer": "http://testserver/whatsapp/ui/"}, True),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Referer": "https://evil.example/page"}, False),
        ({}, False),
    ],
    ids=["own origin", "own referer", "foreign origin", "opaque origin", "foreign referer", "no origin"],
)
def test_a_cookie_call_must_come_from_our_own_origin(
    api_client: TestClient,
    tokens: dict[str, str],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
    headers: dict[str, str],
    allowed: bool,
) -> None:
    number = sim.add_number(name_status="APPROVED")
    api_client.cookies.set("_token", tokens["admin"])
    try:
        response = api_client.post(INTAKE, json=signup_body(number), headers=headers)
    finally:
        api_client.cookies.clear()
    assert response.status_code == (202 if allowed else 403), response.text
    assert len(onboarding_runs()) == (1 if allowed else 0)
