"""Store fixtures: every test gets its own migrated store, on PostgreSQL and on SQLite.

PostgreSQL isolation is one fresh schema per test (dropped afterwards), so parallel or repeated
runs against the shared ``WHATSAPP_TEST_DATABASE_URL`` never see each other's rows.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from whatsapp.store import ChannelStore, StoreTarget

STORE_CONN_ENV = "AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT"


def _psycopg2_url(raw: str) -> URL:
    return make_url(raw).set(drivername="postgresql+psycopg2")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test server's URL; unreachable means skip locally, fail under ``CI=true``."""
    raw = os.environ.get("WHATSAPP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    engine = create_engine(_psycopg2_url(raw), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        reason = f"PostgreSQL at {make_url(raw).render_as_string(hide_password=True)} unreachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(f"!!! SKIPPING POSTGRES STORE TESTS !!! {reason}")
    finally:
        engine.dispose()
    return raw


@pytest.fixture
def pg_target(pg_url: str) -> Iterator[StoreTarget]:
    """A fresh, empty PostgreSQL schema for one test, dropped afterwards."""
    schema = f"wa_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_psycopg2_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield StoreTarget(_psycopg2_url(pg_url), schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_target(tmp_path: Path) -> StoreTarget:
    return StoreTarget(URL.create("sqlite", database=str(tmp_path / "whatsapp_store.db")))


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def store_target(request: pytest.FixtureRequest) -> StoreTarget:
    """An empty, isolated store location on each dialect (not migrated)."""
    return request.getfixturevalue("pg_target" if request.param == "postgres" else "sqlite_target")


@pytest.fixture
def store(store_target: StoreTarget) -> Iterator[ChannelStore]:
    """A migrated, empty store on each dialect."""
    channel_store = ChannelStore.from_target(store_target)
    channel_store.migrate()
    yield channel_store
    channel_store.dispose()


@pytest.fixture
def pg_store(pg_target: StoreTarget) -> Iterator[ChannelStore]:
    """A migrated, empty PostgreSQL store, for what only PostgreSQL can show (e.g. ``pg_dump``)."""
    channel_store = ChannelStore.from_target(pg_target)
    channel_store.migrate()
    yield channel_store
    channel_store.dispose()


def connection_env_value(target: StoreTarget) -> str:
    """``AIRFLOW_CONN_...`` value (JSON form) for a store location, as a deployment would set it."""
    if target.is_sqlite:
        return json.dumps({"conn_type": "sqlite", "host": target.url.database})
    url = target.url
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": url.host,
            "port": url.port,
            "login": url.username,
            "password": url.password,
            "schema": url.database,
            "extra": {"schema": target.schema} if target.schema else {},
        }
    )


@pytest.fixture
def store_conn_env(store: ChannelStore, monkeypatch: pytest.MonkeyPatch) -> ChannelStore:
    """The isolated store, also reachable as connection ``whatsapp_store_default`` (DAG tests)."""
    monkeypatch.setenv(STORE_CONN_ENV, connection_env_value(store.target))
    return store
