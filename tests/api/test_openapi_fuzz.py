"""A property-based run of every plugin route against the plugin's own OpenAPI schema: no 500.

Schemathesis generates requests from ``/whatsapp/openapi.json`` (positive: what the schema
allows, negative: what it does not) and sends them, authenticated as admin, through the real
Airflow app with a seeded fleet. Nothing may answer 5xx. Fixed seed (``derandomize``) and
bounded examples keep it reproducible and under a minute (about 30 s here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from include.graph_simulator.process import SimulatorControl
from tests.api.fleet_seed import SeededChannel
from tests.api.runs import ONBOARDING_DAG_ID, RunView, delete_register_runs, set_paused

pytestmark = pytest.mark.postgres

EXAMPLES_PER_OPERATION = 25
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.fixture
def fuzzed_app(
    api_client: TestClient,
    fleet: dict[str, SeededChannel],
    register_runs: Callable[[], list[RunView]],
) -> Iterator[tuple[TestClient, Any]]:
    """The app with a seeded fleet and ``whatsapp_onboarding`` unpaused; runs cleaned afterwards."""
    set_paused(ONBOARDING_DAG_ID, False)
    try:
        yield api_client, schemathesis.openapi.from_dict(api_client.get("/whatsapp/openapi.json").json())
    finally:
        delete_register_runs(ONBOARDING_DAG_ID)
        set_paused(ONBOARDING_DAG_ID, True)


def no_server_error(
    client: TestClient, operation: Any, mode: GenerationMode, headers: dict[str, str], seen: set[int]
) -> Callable[[], None]:
    """A Hypothesis test sending generated requests for one operation; records the statuses."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver/whatsapp", headers=headers)
        body = {"json": kwargs["json"]} if "json" in kwargs else {"content": kwargs.get("data")}
        response = client.request(
            kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs["headers"], **body
        )
        seen.add(response.status_code)
        assert response.status_code < 500, (case.method, kwargs["url"], response.status_code, response.text)

    return send


def test_no_route_answers_a_server_error(
    fuzzed_app: tuple[TestClient, Any],
    bearer: dict[str, dict[str, str]],
    sim: SimulatorControl,
) -> None:
    client, schema = fuzzed_app
    statuses: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:
        for mode in MODES:
            seen = statuses.setdefault(f"{mode.value} {operation.label}", set())
            no_server_error(client, operation, mode, bearer["admin"], seen)()
    print({label: sorted(codes) for label, codes in sorted(statuses.items())})
    assert any(200 <= code < 300 for label, codes in statuses.items() for code in codes if "signups" in label)
    assert any(code == 422 for codes in statuses.values() for code in codes)
