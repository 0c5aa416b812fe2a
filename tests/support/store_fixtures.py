"""Store fixtures: every test gets its own migrated store, on PostgreSQL and on SQLite.

The Alembic revisions run once per test session (per pytest-xdist worker) into a template;
each test then gets a copy of it. On PostgreSQL the copy is a fresh schema built from
``pg_dump --schema-only`` of the migrated template schema (its name swapped) plus the template's
rows (the Alembic version), dropped afterwards; on SQLite it is a copy of the migrated file.
A database per test (``CREATE DATABASE ... TEMPLATE``) would be simpler but PostgreSQL 15's
``DROP DATABASE`` forces a checkpoint, which took 12 to 60+ s on a busy 2-core machine.
Parallel or repeated runs against the shared ``WHATSAPP_TEST_DATABASE_URL`` never see each
other's rows. Tests of the migrations themselves use the empty targets (``store_target``,
``pg_target``, ``sqlite_target``) and run the revisions for real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from whatsapp.store import ChannelStore, StoreTarget

STORE_CONN_ENV = "AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT"


def _psycopg2_url(raw: str) -> URL:
    return make_url(raw).set(drivername="postgresql+psycopg2")


def admin_execute(url: URL, *statements: str) -> None:
    """Run statements outside a transaction (``CREATE``/``DROP SCHEMA`` or ``DATABASE``)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


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
    server = _psycopg2_url(pg_url)
    schema = f"wa_test_{uuid.uuid4().hex[:12]}"
    admin_execute(server, f'CREATE SCHEMA "{schema}"')
    try:
        yield StoreTarget(server, schema)
    finally:
        admin_execute(server, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_target(tmp_path: Path) -> StoreTarget:
    return StoreTarget(URL.create("sqlite", database=str(tmp_path / "whatsapp_store.db")))


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def store_target(request: pytest.FixtureRequest) -> StoreTarget:
    """An empty, isolated store location on each dialect (not migrated)."""
    return request.getfixturevalue("pg_target" if request.param == "postgres" else "sqlite_target")


def _migrated(target: StoreTarget) -> StoreTarget:
    channel_store = ChannelStore.from_target(target)
    try:
        channel_store.migrate()
    finally:
        channel_store.dispose()
    return target


@dataclass(frozen=True)
class PgTemplate:
    """A migrated schema and what it takes to copy it: its DDL and the tables that hold rows."""

    target: StoreTarget
    ddl: str
    tables_with_rows: tuple[str, ...]

    def copy_to(self, schema: str) -> StoreTarget:
        """Create ``schema`` as a copy of the template (one transaction) and return its target."""
        source = self.target.schema
        assert source is not None
        copy_rows = [
            f'INSERT INTO "{schema}"."{t}" SELECT * FROM "{source}"."{t}"' for t in self.tables_with_rows
        ]
        engine = create_engine(self.target.url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(self.ddl.replace(source, schema))
                for statement in copy_rows:
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()
        return StoreTarget(self.target.url, schema)


def _schema_ddl(target: StoreTarget) -> str:
    """``pg_dump --schema-only`` of the target's schema, without psql meta-commands (``\\restrict``)."""
    url = target.url
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    args = ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", f"--schema={target.schema}"]
    args += ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    dump = subprocess.run([*args, url.database or ""], env=env, capture_output=True, text=True, check=True)
    return "\n".join(line for line in dump.stdout.splitlines() if not line.startswith("\\"))


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> Iterator[PgTemplate]:
    """A schema migrated to head once per session: the template every PostgreSQL store copies."""
    server = _psycopg2_url(pg_url)
    schema = f"wa_tpl_{uuid.uuid4().hex[:12]}"
    admin_execute(server, f'CREATE SCHEMA "{schema}"')
    try:
        target = _migrated(StoreTarget(server, schema))
        engine = create_engine(server)
        try:
            with engine.connect() as conn:
                tables = conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
                    {"s": schema},
                ).scalars()
                with_rows = tuple(
                    t
                    for t in tables
                    if conn.exec_driver_sql(f'SELECT 1 FROM "{schema}"."{t}" LIMIT 1').first()
                )
        finally:
            engine.dispose()
        yield PgTemplate(target, _schema_ddl(target), with_rows)
    finally:
        admin_execute(server, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store file migrated to head once per session; every SQLite store copies it."""
    path = tmp_path_factory.mktemp("store-template") / "whatsapp_store.db"
    _migrated(StoreTarget(URL.create("sqlite", database=str(path))))
    return path


@pytest.fixture
def migrated_pg_target(pg_url: str, pg_template: PgTemplate) -> Iterator[StoreTarget]:
    """A migrated PostgreSQL store of this test alone: a schema copied from the template."""
    schema = f"wa_test_{uuid.uuid4().hex[:12]}"
    try:
        yield pg_template.copy_to(schema)
    finally:
        admin_execute(_psycopg2_url(pg_url), f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def migrated_sqlite_target(tmp_path: Path, sqlite_template: Path) -> StoreTarget:
    path = tmp_path / "whatsapp_store.db"
    shutil.copyfile(sqlite_template, path)
    return StoreTarget(URL.create("sqlite", database=str(path)))


def _open(target: StoreTarget) -> Iterator[ChannelStore]:
    channel_store = ChannelStore.from_target(target)
    yield channel_store
    channel_store.dispose()


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[ChannelStore]:
    """A migrated, empty store on each dialect."""
    name = "migrated_pg_target" if request.param == "postgres" else "migrated_sqlite_target"
    yield from _open(request.getfixturevalue(name))


@pytest.fixture
def pg_store(migrated_pg_target: StoreTarget) -> Iterator[ChannelStore]:
    """A migrated, empty PostgreSQL store, for what only PostgreSQL can show (e.g. ``pg_dump``)."""
    yield from _open(migrated_pg_target)


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
