"""Airflow fixtures: a migrated metadata database, the repo's DAGs, and a PostgreSQL store env."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.store_fixtures import STORE_CONN_ENV, connection_env_value
from whatsapp.store import ChannelStore

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
AIRFLOW = Path(sys.executable).with_name("airflow")


def _shared_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's temporary root, shared by every pytest-xdist worker of one run."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One process at a time (the xdist workers of a run) inside the block."""
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def airflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite metadata database after ``airflow db migrate``, made once per test run.

    The migration takes tens of seconds of CPU; every xdist worker (and the browser suite's
    Airflow) starts from a copy instead of running it again. The first worker to get here
    migrates under a file lock; the others wait for it and reuse the file.
    """
    shared = _shared_tmp(tmp_path_factory)
    template = shared / "airflow-metadata-template.db"
    with _exclusive(shared / "airflow-metadata-template.lock"):
        if not template.exists():
            partial = template.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{partial}"}
            result = subprocess.run(
                [str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
            )
            assert result.returncode == 0, (
                f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
            partial.replace(template)
    return template


def copy_metadata_db(template: Path, destination: Path) -> None:
    """A migrated metadata database at ``destination``: a new file (inode) swapped in at once."""
    partial = destination.with_suffix(".partial")
    shutil.copyfile(template, partial)
    partial.replace(destination)


@pytest.fixture(scope="session")
def airflow_db(airflow_db_template: Path) -> None:
    """This process's metadata database (tests/conftest.py's AIRFLOW_HOME), migrated."""
    from airflow import settings

    copy_metadata_db(airflow_db_template, Path(os.environ["AIRFLOW_HOME"]) / "airflow.db")
    if settings.engine is not None:
        settings.engine.dispose()  # no pooled connection may still point at a replaced file


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
