"""Airflow fixtures: a migrated metadata database, the repo's DAGs, and a PostgreSQL store env."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from include.airflow_processes import run_airflow
from tests.support.store_fixtures import STORE_CONN_ENV, connection_env_value
from whatsapp.store import ChannelStore

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


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


def _made_once(shared: Path, name: str, make: Callable[[Path], None]) -> Path:
    """``shared/name``, made by ``make(partial)`` once per test run whichever worker asks first.

    The others wait on a file lock and reuse the file; ``make`` writes a ``.partial`` file that
    is renamed into place only once complete, so a failed attempt leaves nothing to reuse.
    """
    made = shared / name
    with _exclusive(shared / f"{name}.lock"):
        if not made.exists():
            partial = made.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            make(partial)
            partial.replace(made)
    return made


def _airflow_cli(database: Path, *args: str) -> None:
    """``airflow <args>`` on the SQLite metadata database at ``database``."""
    run_airflow({**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{database}"}, *args)


@pytest.fixture(scope="session")
def airflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite metadata database after ``airflow db migrate``, made once per test run.

    The migration takes tens of seconds of CPU; every xdist worker (and the browser suite's
    Airflow) starts from a copy instead of running it again.
    """
    return _made_once(
        _shared_tmp(tmp_path_factory),
        "airflow-metadata-template.db",
        lambda partial: _airflow_cli(partial, "db", "migrate"),
    )


@pytest.fixture(scope="session")
def airflow_db_serialized_template(
    tmp_path_factory: pytest.TempPathFactory, airflow_db_template: Path
) -> Path:
    """The migrated template with the repository's DAGs serialized (``airflow dags reserialize``).

    An Airflow started without a DAG processor (the browser suites') needs its DAGs serialized
    up front; parsing them costs about ten seconds of CPU, once per run instead of per stack.
    """

    def serialize(partial: Path) -> None:
        shutil.copyfile(airflow_db_template, partial)
        _airflow_cli(partial, "dags", "reserialize")

    return _made_once(_shared_tmp(tmp_path_factory), "airflow-metadata-serialized.db", serialize)


def set_dag_paused(database: Path, dag_id: str, paused: bool) -> None:
    """Pause or unpause a serialized DAG in a SQLite metadata database no Airflow runs on yet
    (what ``airflow dags unpause`` does, without starting Airflow's CLI for one row)."""
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        updated = db.execute("UPDATE dag SET is_paused = ? WHERE dag_id = ?", (paused, dag_id)).rowcount
    assert updated == 1, f"{dag_id} is not serialized in {database}"


def copy_metadata_db(template: Path, destination: Path) -> None:
    """A migrated metadata database at ``destination``: a new file (inode) swapped in at once."""
    partial = destination.with_suffix(".partial")
    shutil.copyfile(template, partial)
    partial.replace(destination)


def use_metadata_db(template: Path) -> None:
    """This process's metadata database (tests/conftest.py's AIRFLOW_HOME) replaced by a copy."""
    from airflow import settings

    copy_metadata_db(template, Path(os.environ["AIRFLOW_HOME"]) / "airflow.db")
    if settings.engine is not None:
        settings.engine.dispose()  # no pooled connection may still point at a replaced file


@pytest.fixture(scope="session")
def airflow_db(airflow_db_template: Path) -> None:
    """This process's metadata database, migrated."""
    use_metadata_db(airflow_db_template)


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
