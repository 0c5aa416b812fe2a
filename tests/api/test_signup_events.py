"""The intake takes how Embedded Signup ended (``event``) and keeps it with the signup for the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from include.graph_simulator.process import SimulatorControl
from tests.api.runs import RunView
from tests.api.test_signups import INTAKE
from whatsapp.domain.signup import SignupEvent
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("event", list(SignupEvent))
def test_each_end_with_a_code_is_stored_with_the_signup_and_the_run_gets_only_its_id(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
    event: SignupEvent,
) -> None:
    number = sim.add_number(is_on_biz_app=event is SignupEvent.FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING)
    body: dict[str, Any] = {
        "account_id": 1,
        "code": number["code"],
        "business_id": number["business_id"],
        "waba_id": number["waba_id"],  # the popup's message for these ends carries no number id
        "event": event.value,
    }
    response = api_client.post(INTAKE, json=body, headers=bearer["operator"])
    assert response.status_code == 202, response.text
    [run] = onboarding_runs()
    assert run.conf == {"signup_id": response.json()["signup_id"]}
    pending = pg_store_env.signups.pending(response.json()["signup_id"])
    assert pending is not None
    assert (pending.ids.event, pending.ids.phone_number_id) == (event, None)


def test_a_signup_without_event_is_a_finish(
    api_client: TestClient,
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],  # the DAG unpaused
) -> None:
    number = sim.add_number()
    body = {key: number[key] for key in ("code", "business_id", "waba_id", "phone_number_id")}
    response = api_client.post(INTAKE, json={"account_id": 1, **body}, headers=bearer["operator"])
    assert response.status_code == 202, response.text
    assert pg_store_env.signups.pending(response.json()["signup_id"]).ids.event is SignupEvent.FINISH
