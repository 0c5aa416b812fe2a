"""The store connection: Airflow connections mapped the way ``PostgresHook`` reads them, and engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from airflow.sdk import Connection
from sqlalchemy import insert
from sqlalchemy.exc import DataError

from tests.support.store_fixtures import connection_env_value
from whatsapp.store import ChannelStore, StoreConnectionError
from whatsapp.store.connection import (
    create_store_engine,
    default_sqlite_path,
    resolve_target,
    target_from_connection,
)
from whatsapp.store.migrations import migrate
from whatsapp.store.schema import signups


def _postgres(extra: dict) -> Connection:
    return Connection(
        conn_id="x",
        conn_type="postgres",
        host="db",
        port=5433,
        login="u",
        password="p@ss",
        schema="fleet",
        extra=json.dumps(extra),
    )


def test_postgres_connection_maps_to_psycopg2_url_and_schema():
    target = target_from_connection(_postgres({"schema": "whatsapp"}))
    assert target.url.drivername == "postgresql+psycopg2"
    assert (target.url.host, target.url.port, target.url.database, target.url.password) == (
        "db",
        5433,
        "fleet",
        "p@ss",
    )
    assert target.schema == "whatsapp"
    assert "p@ss" not in target.describe() and "connection 'x'" in target.describe()


def test_postgres_extras_reach_the_driver_as_postgres_hook_passes_them():
    extra = {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
        "sslcert": "/etc/client.pem",
        "sslkey": "/etc/client.key",
        "keepalives_idle": 30,
        "application_name": "fleet-audit",
        "options": "-c statement_timeout=5000",
        "search_path": "whatsapp",
        "cursor": "dictcursor",  # PostgresHook's own settings never reach the driver
        "sqlalchemy_query": {"target_session_attrs": "read-write"},
    }
    target = target_from_connection(_postgres(extra))
    assert target.driver_args() == {
        "connect_timeout": 10,
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
        "sslcert": "/etc/client.pem",
        "sslkey": "/etc/client.key",
        "keepalives_idle": 30,
        "application_name": "fleet-audit",
        "options": "-c statement_timeout=5000 -c search_path=whatsapp",
    }
    assert dict(target.url.query) == {"target_session_attrs": "read-write"}
    assert "/etc/client.key" not in repr(target)


@pytest.mark.parametrize(
    ("conn", "path"),
    [
        (Connection(conn_id="x", conn_type="sqlite", host="/tmp/a.db"), "/tmp/a.db"),
        (Connection(conn_id="x", conn_type="sqlite", schema="/tmp/b.db"), "/tmp/b.db"),
    ],
)
def test_sqlite_connection_takes_the_file_from_host_or_uri_path(conn, path):
    assert target_from_connection(conn).url.database == path


@pytest.mark.parametrize(
    "conn",
    [
        Connection(conn_id="x", conn_type="mysql", host="db"),
        Connection(conn_id="x", conn_type="postgres", host="db", extra=json.dumps({"schema": "a;drop"})),
        Connection(conn_id="x", conn_type="postgres", host="db", extra=json.dumps({"sqlalchemy_query": 1})),
    ],
)
def test_unsupported_or_unsafe_connections_are_refused(conn):
    with pytest.raises(StoreConnectionError, match="store connection 'x'"):
        target_from_connection(conn)


def test_undefined_connection_means_embedded_sqlite(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT", raising=False)
    target = resolve_target()
    assert target.is_sqlite and target.url.database == str(default_sqlite_path())


@pytest.mark.parametrize(
    "executor", ["CeleryExecutor", "LocalExecutor,CeleryExecutor", "k8s:airflow.x.KubernetesExecutor"]
)
def test_embedded_sqlite_default_is_refused_when_tasks_run_on_other_machines(monkeypatch, executor):
    monkeypatch.delenv("AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    with pytest.raises(StoreConnectionError, match=r"define 'whatsapp_store_default'.*postgres") as raised:
        resolve_target()
    assert "Executor" in str(raised.value) and "SQLite" in str(raised.value)


def test_store_conn_env_fixture_points_whatsapp_store_default_at_the_test_store(store_conn_env):
    channel = store_conn_env.channels.upsert(
        account_id=1, phone_number_id="1", waba_id="2", business_id="3", access_token="t"
    )
    other = ChannelStore.from_conn_id()
    try:
        assert other.channels.by_id(channel.id) == channel
    finally:
        other.dispose()


@pytest.mark.postgres
def test_ssl_extras_are_honoured_and_the_error_names_the_connection(pg_target, monkeypatch):
    plain = json.loads(connection_env_value(pg_target))
    strict = {**plain, "extra": {**plain["extra"], "sslmode": "verify-full", "sslrootcert": "/nonexistent"}}
    monkeypatch.setenv("AIRFLOW_CONN_WA_STRICT_SSL", json.dumps(strict))
    monkeypatch.setenv("AIRFLOW_CONN_WA_PLAIN", json.dumps(plain))

    store = ChannelStore.from_conn_id("wa_strict_ssl")
    try:
        with pytest.raises(StoreConnectionError, match="connection 'wa_strict_ssl'") as raised:
            store.migrate()
        assert "cannot reach the channel store" in str(raised.value)
        assert "SSL" in str(raised.value) or "nonexistent" in str(raised.value)
    finally:
        store.dispose()

    store = ChannelStore.from_conn_id("wa_plain")
    try:
        assert store.migrate() != []
        assert store.channels.get(1, 1) is None
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_data_error_does_not_show_the_statement_parameters(pg_target):
    engine = create_store_engine(pg_target)
    try:
        migrate(engine, pg_target.schema)
        with pytest.raises(DataError) as raised, engine.begin() as conn:
            conn.execute(
                insert(signups).values(
                    code_digest="d" * 65,  # one longer than the column
                    account_id=1,
                    waba_id="w",
                    business_id="b",
                    access_token_enc="gAAAA-secret-ciphertext",
                    created_at=datetime.now(UTC),
                )
            )
        message = str(raised.value)
        assert "too long" in message and "parameters hidden" in message
        assert "gAAAA-secret-ciphertext" not in message + repr(raised.value)
    finally:
        engine.dispose()
