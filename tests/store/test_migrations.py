"""Versioned migrations, the migrated check, and reading the store connection."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from whatsapp.store import LATEST_VERSION, ChannelStore, StoreConnectionError, StoreNotMigratedError
from whatsapp.store.connection import default_sqlite_path, resolve_target, target_from_connection
from whatsapp.store.migrations import current_version


def test_migrate_applies_once_then_is_a_no_op(store_target):
    store = ChannelStore.from_target(store_target)
    try:
        assert store.migrate() == list(range(1, LATEST_VERSION + 1))
        assert store.migrate() == []
        assert current_version(store.engine) == LATEST_VERSION
    finally:
        store.dispose()


def test_unmigrated_store_raises_a_clear_error(store_target):
    store = ChannelStore.from_target(store_target)
    try:
        with pytest.raises(StoreNotMigratedError, match="whatsapp-fleet migrate"):
            store.channels.get(1, 1)
    finally:
        store.dispose()


def test_postgres_connection_maps_to_psycopg2_url_and_schema():
    conn = Connection(
        conn_id="x",
        conn_type="postgres",
        host="db",
        port=5433,
        login="u",
        password="p@ss",
        schema="fleet",
        extra=json.dumps({"schema": "whatsapp"}),
    )
    target = target_from_connection(conn)
    assert target.url.drivername == "postgresql+psycopg2"
    assert (target.url.host, target.url.port, target.url.database, target.url.password) == (
        "db",
        5433,
        "fleet",
        "p@ss",
    )
    assert target.schema == "whatsapp"
    assert "p@ss" not in target.describe()


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
    ],
)
def test_unsupported_or_unsafe_connections_are_refused(conn):
    with pytest.raises(StoreConnectionError):
        target_from_connection(conn)


def test_undefined_connection_means_embedded_sqlite(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT", raising=False)
    target = resolve_target()
    assert target.is_sqlite and target.url.database == str(default_sqlite_path())


def test_store_conn_env_fixture_points_whatsapp_store_default_at_the_test_store(store_conn_env):
    channel = store_conn_env.channels.upsert(
        account_id=1, phone_number_id="1", waba_id="2", business_id="3", access_token="t"
    )
    other = ChannelStore.from_conn_id()
    try:
        assert other.channels.by_id(channel.id) == channel
    finally:
        other.dispose()
