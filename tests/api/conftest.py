"""The real Airflow API server app (plugin mounted from the entry point) under FastAPI's TestClient.

One app per session: ``airflow db migrate``, the repo's DAGs serialized with
``airflow dags reserialize`` (the register route creates runs from serialized DAGs, as Airflow's
own trigger route does; both made once a run, tests/support/airflow_fixtures.py), SimpleAuthManager
users from :mod:`tests.api.airflow_auth`.
Each test gets its own PostgreSQL store schema and a reset simulator.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from include.graph_simulator.process import SimulatorControl
from tests.api.airflow_auth import PASSWORDS, auth_env
from tests.api.fleet_seed import SeededChannel, secret_values, seed_fleet
from tests.api.runs import ONBOARDING_DAG_ID, RunView, delete_register_runs, register_runs_in_db, set_paused
from tests.support.airflow_fixtures import use_metadata_db
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.store import ChannelStore


@pytest.fixture(scope="session")
def airflow_auth_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from airflow.configuration import conf

    env = auth_env(tmp_path_factory.mktemp("airflow-auth"))
    # Airflow validates JWTs only against a configured secret. Keep one that is already set
    # (a signer built earlier in the session may hold it); otherwise configure one now.
    if not conf.get("api_auth", "jwt_secret", fallback=""):
        env["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_urlsafe(64)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


@pytest.fixture(scope="session")
def serialized_dags(airflow_db: None, airflow_db_serialized_template: Path) -> None:
    """This process's metadata database replaced by the run's copy with the DAGs serialized."""
    use_metadata_db(airflow_db_serialized_template)


@pytest.fixture(scope="session")
def api_client(serialized_dags: None, airflow_auth_env: dict[str, str]) -> Iterator[TestClient]:
    """Airflow's ``create_app()``: the same app ``airflow api-server`` serves, plugins included."""
    from airflow.api_fastapi.app import create_app, purge_cached_app

    with TestClient(create_app()) as client:
        yield client
    purge_cached_app()


@pytest.fixture(scope="session")
def tokens(api_client: TestClient) -> dict[str, str]:
    """A JWT per user, from ``POST /auth/token`` with the user's password."""
    minted = {}
    for user, password in PASSWORDS.items():
        response = api_client.post("/auth/token", json={"username": user, "password": password})
        assert response.status_code == 201, response.text
        minted[user] = response.json()["access_token"]
    return minted


@pytest.fixture
def bearer(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    return {user: {"Authorization": f"Bearer {token}"} for user, token in tokens.items()}


@pytest.fixture
def fleet(
    pg_store_env: ChannelStore, sim: SimulatorControl, graph_conn_env: str
) -> Iterator[dict[str, SeededChannel]]:
    hook = WhatsAppGraphHook()
    try:
        yield seed_fleet(pg_store_env, sim, hook)
    finally:
        hook.close()


@pytest.fixture
def secrets_of_fleet(
    pg_store_env: ChannelStore, sim: SimulatorControl, fleet: dict[str, SeededChannel]
) -> set[str]:
    values = secret_values(pg_store_env, sim, fleet)
    assert len(values) >= 3 * len(fleet)
    return values


@pytest.fixture
def onboarding_runs(api_client: TestClient) -> Iterator[Callable[[], list[RunView]]]:
    """``whatsapp_onboarding`` unpaused (the intake refuses a paused one); no runs before, none after."""
    delete_register_runs(ONBOARDING_DAG_ID)
    set_paused(ONBOARDING_DAG_ID, False)
    yield lambda: register_runs_in_db(ONBOARDING_DAG_ID)
    delete_register_runs(ONBOARDING_DAG_ID)
    set_paused(ONBOARDING_DAG_ID, True)


@pytest.fixture
def register_runs(api_client: TestClient) -> Iterator[Callable[[], list[RunView]]]:
    """Lists the register DAG's runs, which start empty (other suites run that DAG in the same
    metadata DB) and are deleted afterwards, so tests stay independent of order."""
    delete_register_runs()
    yield register_runs_in_db
    delete_register_runs()
