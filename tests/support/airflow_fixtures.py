"""Airflow fixtures: a migrated metadata database, the repo's DAGs, and a PostgreSQL store env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.store_fixtures import STORE_CONN_ENV, connection_env_value
from whatsapp.store import ChannelStore

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """``airflow db migrate`` once per session, in the test-only AIRFLOW_HOME (tests/conftest.py)."""
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "db", "migrate"], env=os.environ.copy(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    )


@pytest.fixture(scope="session")
def dagbag(airflow_db: None) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def fresh_dag(dag_id: str) -> Any:
    """A newly parsed DAG for one ``dag.test()`` run.

    ``dag.test()`` runs tasks in this process on the DAG's own task objects, and a run's conf
    is merged into their params in place; a worker process starts fresh every time, so each
    test run gets a fresh DAG too (its file is ``dags/<dag_id>.py``).
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


@pytest.fixture
def pg_store_env(pg_store: ChannelStore, monkeypatch: pytest.MonkeyPatch) -> ChannelStore:
    """An isolated, migrated PostgreSQL store reachable as ``whatsapp_store_default``."""
    monkeypatch.setenv(STORE_CONN_ENV, connection_env_value(pg_store.target))
    return pg_store
