"""Airflow's own trigger route for ``whatsapp_onboarding`` refuses at the door what the run would
refuse, and never takes a signup code: none reaches ``dag_run.conf`` or Airflow's event log, so a
viewer reads none (``POST /api/v2/dags/whatsapp_onboarding/dagRuns``, ``POST /api/v2/backfills``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from tests.api.airflow_auth import leaked
from tests.api.runs import ONBOARDING_DAG_ID, RunView
from tests.api.test_signups import signup_body
from tests.onboarding.bad_confs import BAD_CONFS, UNKNOWN_SIGNUP_ID, BadConf
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres

TRIGGER = f"/api/v2/dags/{ONBOARDING_DAG_ID}/dagRuns"
#: A raw conf that passes every rule: refused only because it carries the code.
VALID_RAW = {"account_id": 1, "code": "AQDr-not-a-real-code_0123456789", "business_id": "1", "waba_id": "2"}


def trigger(client: TestClient, headers: dict[str, str], body: Any) -> Any:
    raw = json.dumps(body, allow_nan=True)
    return client.post(TRIGGER, content=raw, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("bad", BAD_CONFS, ids=[bad.case for bad in BAD_CONFS])
def test_a_bad_conf_is_a_400_naming_the_field_and_no_run(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    onboarding_runs: Callable[[], list[RunView]],
    bad: BadConf,
) -> None:
    response = trigger(api_client, bearer["admin"], {"logical_date": None, "conf": bad.apply(VALID_RAW)})
    assert response.status_code == 400, response.text
    assert repr(bad.field) in response.json()["detail"], response.text
    assert VALID_RAW["code"] not in response.text
    assert onboarding_runs() == []


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        (VALID_RAW, "code"),
        ({}, "signup_id"),
        ({"signup_id": UNKNOWN_SIGNUP_ID, "code": VALID_RAW["code"]}, "code"),
        ({"signup_id": UNKNOWN_SIGNUP_ID, "foo": 1}, "foo"),
    ],
    ids=["a valid raw signup", "nothing", "signup_id and a code", "signup_id and an unknown key"],
)
def test_only_a_signup_id_is_taken_through_the_api(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    onboarding_runs: Callable[[], list[RunView]],
    conf: dict[str, Any],
    field: str,
) -> None:
    response = trigger(api_client, bearer["operator"], {"logical_date": None, "conf": conf})
    assert response.status_code == 400, response.text
    assert repr(field) in response.json()["detail"], response.text
    assert onboarding_runs() == []


def test_a_signup_id_conf_is_accepted(
    api_client: TestClient, bearer: dict[str, dict[str, str]], onboarding_runs: Callable[[], list[RunView]]
) -> None:
    conf = {"signup_id": UNKNOWN_SIGNUP_ID, "name_poke_interval": 5}
    response = trigger(api_client, bearer["operator"], {"logical_date": None, "conf": conf})
    assert response.status_code == 200, response.text
    [run] = onboarding_runs()
    assert run.conf == conf


def test_a_caller_without_credentials_gets_airflows_401(
    api_client: TestClient, onboarding_runs: Callable[[], list[RunView]]
) -> None:
    response = trigger(api_client, {}, {"logical_date": None, "conf": VALID_RAW})
    assert response.status_code == 401, response.text


def _pages(client: TestClient, headers: dict[str, str], path: str, key: str) -> Iterator[str]:
    """Every page of an Airflow collection, as the viewer reads it."""
    offset = 0
    while True:
        response = client.get(path, params={"limit": 100, "offset": offset}, headers=headers)
        assert response.status_code == 200, (path, response.text)
        yield response.text
        entries = response.json()[key]
        offset += len(entries)
        if not entries or offset >= response.json()["total_entries"]:
            return


def test_a_viewer_reads_no_signup_code_after_accepted_and_refused_triggers(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
) -> None:
    operator = bearer["operator"]
    numbers = [sim.add_number(name_status="APPROVED") for _ in range(6)]
    codes = [number["code"] for number in numbers]
    intake, raw, bad, flat, text_conf, backfill = numbers

    # Accepted: the intake (the code stays encrypted in the store), then the same signup by REST.
    answer = api_client.post("/whatsapp/api/v1/signups", json=signup_body(intake), headers=operator)
    assert answer.status_code == 202, answer.text
    signup_id = answer.json()["signup_id"]
    again = trigger(api_client, operator, {"logical_date": None, "conf": {"signup_id": signup_id}})
    assert again.status_code == 200, again.text
    # Refused: a raw signup, a bad one, one outside ``conf``, a conf that is no object, a backfill.
    refused = [
        trigger(api_client, operator, {"logical_date": None, "conf": onboarding_conf(raw)}),
        trigger(api_client, operator, {"logical_date": None, "conf": onboarding_conf(bad, account_id=0)}),
        trigger(api_client, operator, {"logical_date": None, **onboarding_conf(flat)}),
        trigger(api_client, operator, {"logical_date": None, "conf": f"code={text_conf['code']}"}),
        api_client.post(
            "/api/v2/backfills",
            json={
                "dag_id": ONBOARDING_DAG_ID,
                "from_date": "2026-01-01T00:00:00Z",
                "to_date": "2026-01-02T00:00:00Z",
                "dag_run_conf": onboarding_conf(backfill),
            },
            headers=operator,
        ),
    ]

    viewer = bearer["viewer"]
    read = [
        *_pages(api_client, viewer, "/api/v2/eventLogs", "event_logs"),
        *_pages(api_client, viewer, "/api/v2/dags/~/dagRuns", "dag_runs"),
        *(api_client.get(f"{TRIGGER}/{run.run_id}", headers=viewer).text for run in onboarding_runs()),
    ]
    text = "\n".join(read)
    assert "whatsapp_signup_intake" in text and signup_id in text  # the log was read
    assert leaked(text, codes) == []
    assert [r.status_code for r in refused] == [400] * len(refused), [r.text for r in refused]
    assert len(onboarding_runs()) == 2
