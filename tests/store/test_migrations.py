"""Alembic migrations: head equals ``schema.py``, upgrades keep v1 data, concurrent callers, the check."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import Connection, Engine, String, inspect, text

from tests.store.fixtures.make_v1_store import FIXTURE_FERNET_KEY
from tests.store.test_cli import run
from tests.support.store_fixtures import connection_env_value
from whatsapp.store import HEAD_REVISION, ChannelStore, StoreNotMigratedError, StoreTarget
from whatsapp.store.connection import create_store_engine
from whatsapp.store.migrations import (
    REVISIONS,
    _migration_transaction,
    alembic_config,
    current_revision,
    migrate,
    require_migrated,
)
from whatsapp.store.schema import metadata

FIXTURES = Path(__file__).with_name("fixtures")
V1_TABLES = ("channels", "signups", "health_checks", "registration_attempts", "fleet_summaries")
#: Tables later revisions added.
ALL_REVISIONS = list(REVISIONS)
#: Tables revisions after 0001 created.
#: Tables later revisions add: 0004 the signup intake, 0005 Meta's webhook events, 0006 lifecycle calls.
LATER_TABLES = ("signup_intake", "webhook_events", "lifecycle_calls", "notified_flags")


def _diffs(conn: Connection) -> list[Any]:
    """What autogenerate would write for this database against ``schema.metadata``.

    An expression index that exists on both sides shows up as remove + add, because PostgreSQL
    stores its expression normalized (casts, parentheses) and autogenerate compares text; those
    pairs are dropped here, and ``test_fleet_listing`` compares the expressions PostgreSQL built.
    """
    diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    names: dict[str, set[str]] = {}
    for diff in diffs:
        if isinstance(diff, tuple) and diff[0] in ("add_index", "remove_index"):
            names.setdefault(diff[1].name, set()).add(diff[0])
    rewritten = {name for name, kinds in names.items() if kinds == {"add_index", "remove_index"}}
    # An index declared for one dialect only (``info["dialect"]``, created ``ddl_if`` it) is
    # not missing on another.
    elsewhere = {
        index.name
        for table in metadata.tables.values()
        for index in table.indexes
        if index.info.get("dialect") not in (None, conn.dialect.name)
    }
    return [
        d
        for d in diffs
        if not (
            isinstance(d, tuple)
            and d[0] in ("add_index", "remove_index")
            and (d[1].name in rewritten or (d[0] == "add_index" and d[1].name in elsewhere))
        )
    ]


def _shape(conn: Connection) -> dict[str, Any]:
    """Everything about the store's tables a migration can change, in a comparable form."""
    insp = inspect(conn)
    shape: dict[str, Any] = {}
    for table in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        shape[table] = {
            # By name: ALTER TABLE appends a column, create_all puts it where schema.py has it,
            # and the store reads columns by name only.
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], c.get("autoincrement"))
                for c in insp.get_columns(table)
            ),
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"]) for i in insp.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], str(f["options"]))
                for f in insp.get_foreign_keys(table)
            ),
        }
    return shape


def test_revision_files_are_one_numbered_line_that_alembic_agrees_with():
    scripts = ScriptDirectory.from_config(alembic_config())
    history = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert history == ALL_REVISIONS == [f"{n:04d}" for n in range(1, len(ALL_REVISIONS) + 1)]
    assert scripts.get_current_head() == HEAD_REVISION
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_")


@pytest.fixture
def engine(store_target: StoreTarget) -> Any:
    engine = create_store_engine(store_target)
    if not store_target.is_sqlite:
        with engine.begin() as conn:  # pg_target's schema exists; make sure nothing else is visible
            assert conn.execute(text("SELECT current_schema()")).scalar_one() == store_target.schema
    yield engine
    engine.dispose()


def test_migrate_applies_once_then_is_a_no_op(store_target):
    store = ChannelStore.from_target(store_target)
    try:
        assert store.migrate() == ALL_REVISIONS
        assert store.migrate() == []
        assert current_revision(store.engine) == HEAD_REVISION
    finally:
        store.dispose()


def test_unmigrated_store_raises_a_clear_error(store_target):
    store = ChannelStore.from_target(store_target)
    try:
        with pytest.raises(StoreNotMigratedError, match="whatsapp-fleet migrate") as raised:
            store.channels.get(1, 1)
        assert f"revision none, needs {HEAD_REVISION}" in str(raised.value)
    finally:
        store.dispose()


def test_head_equals_schema_metadata_and_the_check_sees_a_difference(engine, store_target):
    migrate(engine, store_target.schema)
    with engine.connect() as conn:
        assert _diffs(conn) == []
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_channels_next_attempt_at"))
    with engine.connect() as conn:
        assert [d[0] for d in _diffs(conn)] == ["add_index"]


def test_upgrading_step_by_step_equals_a_fresh_create_all(engine):
    for revision in ALL_REVISIONS:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
            assert MigrationContext.configure(conn).get_current_revision() == revision
    with engine.connect() as conn:
        assert _diffs(conn) == []
        stepwise = _shape(conn)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(text("DROP TABLE alembic_version"))
        assert inspect(conn).get_table_names() == []
        metadata.create_all(conn)
    with engine.connect() as conn:
        assert _shape(conn) == stepwise
        assert set(stepwise) == {*V1_TABLES, *LATER_TABLES}


def _load_v1_store(target: StoreTarget, engine: Engine) -> None:
    """Restore the dump of a store written by the v1 code (see ``fixtures/make_v1_store.py``)."""
    if target.is_sqlite:
        db = sqlite3.connect(target.url.database)
        try:
            db.executescript((FIXTURES / "v1_store.sqlite.sql").read_text())
        finally:
            db.close()
        return
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:  # the dump's own SETs and INSERTs, as psql would run them
            cursor.execute((FIXTURES / "v1_store.sql").read_text())
        raw.commit()
    finally:
        raw.close()


def _rows(
    engine: Engine, like: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every row by column name; with ``like``, only the columns those rows had (later revisions add some)."""
    with engine.connect() as conn:
        tables = {
            table: [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
            for table in V1_TABLES
        }
    if like is None:
        return tables
    return {
        table: [{k: row[k] for k in (like[table][0] if like[table] else row)} for row in rows]
        for table, rows in tables.items()
    }


def test_a_v1_store_with_rows_is_upgraded_by_the_cli_without_loss(engine, store_target):
    _load_v1_store(store_target, engine)
    before = _rows(engine)
    assert {table: len(rows) for table, rows in before.items()} == {
        "channels": 3,
        "signups": 2,
        "health_checks": 4,
        "registration_attempts": 2,
        "fleet_summaries": 1,
    }
    with pytest.raises(StoreNotMigratedError, match="whatsapp-fleet migrate"):
        require_migrated(engine, "the v1 fixture")

    result = run(connection_env_value(store_target), "migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"migrated to revision(s) {', '.join(ALL_REVISIONS[1:])}"

    assert _rows(engine, like=before) == before
    require_migrated(engine, "the upgraded v1 fixture")
    with engine.connect() as conn:
        assert "schema_migrations" not in inspect(conn).get_table_names()
        assert _diffs(conn) == []
        token = conn.execute(text("SELECT access_token_enc FROM channels WHERE id = 1")).scalar_one()
    assert Fernet(FIXTURE_FERNET_KEY.encode()).decrypt(token.encode()) == b"EAAG-fixture-token-1"
    assert migrate(engine, store_target.schema) == []


def test_a_legacy_store_at_an_unknown_version_is_refused(sqlite_target):
    engine = create_store_engine(sqlite_target)
    try:
        _load_v1_store(sqlite_target, engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE schema_migrations SET version = 2"))
        with pytest.raises(StoreNotMigratedError, match="says version 2"):
            migrate(engine)
        with engine.connect() as conn:
            assert "alembic_version" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_a_store_migrated_by_a_newer_provider_is_not_touched(engine, store_target):
    migrate(engine, store_target.schema)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    for call in (lambda: migrate(engine, store_target.schema), lambda: require_migrated(engine, "here")):
        with pytest.raises(StoreNotMigratedError, match="9999, newer than this provider knows"):
            call()


def test_a_sqlite_batch_rebuild_keeps_the_rows_that_reference_the_table(sqlite_target):
    """A batch revision drops and recreates ``channels``: with foreign keys on, SQLite would
    cascade that drop to every registration attempt."""
    engine = create_store_engine(sqlite_target)
    try:
        _load_v1_store(sqlite_target, engine)
        migrate(engine)
        before = _rows(engine)
        with _migration_transaction(engine, None) as conn:
            ops = Operations(MigrationContext.configure(conn))
            with ops.batch_alter_table("channels", recreate="always") as batch:
                batch.alter_column("verified_name", type_=String(300))
        assert _rows(engine, like=before) == before
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()


def _migrate_in_process(target: StoreTarget, barrier: Any) -> list[str]:
    engine = create_store_engine(target)
    try:
        barrier.wait()
        return migrate(engine, target.schema)
    finally:
        engine.dispose()


def test_two_processes_migrating_at_once_apply_each_revision_once(engine, store_target):
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(2)
    with context.Pool(2) as pool:
        results = [pool.apply_async(_migrate_in_process, (store_target, barrier)) for _ in range(2)]
        applied = sorted(r.get(timeout=120) for r in results)
    assert applied == [[], ALL_REVISIONS]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            HEAD_REVISION
        ]


_ATTEMPT_OF_INBOX = (
    "INSERT INTO registration_attempts (channel_id, attempted_at, outcome, resulting_state)"
    " SELECT id, :now, :outcome, 'needs_attention' FROM channels WHERE inbox_id = :inbox"
)


def test_0008_gives_needs_attention_channels_the_attention_their_last_answer_names(engine):
    """Channels flagged before revision 0008 keep a banner that says why: the last register
    answer's kind, or a declined name; an unclear case stays NULL (the situation falls back)."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0007")
        now = "2026-11-25 08:00:00"
        channel = (
            "INSERT INTO channels (account_id, inbox_id, phone_number_id, waba_id, business_id,"
            " access_token_enc, pin_enc, verify_token_enc, source, active, name_status,"
            " reauthorization_required, registration_state, failures_in_a_row, created_at, updated_at)"
            " VALUES (1, :inbox, :phone, 'w', 'b', 'x', 'x', 'x', 'test', true, :name_status, false,"
            " :state, 1, :now, :now)"
        )
        rows = [
            (1, "APPROVED", "needs_attention", ["display_name_not_ready", "pin_problem"]),
            (2, "DECLINED", "needs_attention", []),
            (3, "APPROVED", "needs_attention", []),
            (4, "APPROVED", "scheduled", ["pin_problem"]),
            (5, "APPROVED", "needs_attention", ["unknown"]),
        ]
        for inbox, name_status, state, outcomes in rows:
            conn.execute(
                text(channel),
                {
                    "inbox": inbox,
                    "phone": f"p{inbox}",
                    "name_status": name_status,
                    "state": state,
                    "now": now,
                },
            )
            for outcome in outcomes:
                conn.execute(
                    text(_ATTEMPT_OF_INBOX),
                    {"now": now, "outcome": outcome, "inbox": inbox},
                )
        command.upgrade(alembic_config(conn), "0008")
        found = dict(conn.execute(text("SELECT inbox_id, attention FROM channels")).all())
    assert found == {
        1: "pin_mismatch",
        2: "display_name_declined",
        3: None,
        4: None,
        5: "graph_error",
    }
