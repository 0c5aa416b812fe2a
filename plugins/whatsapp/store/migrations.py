"""A small versioned migration runner: ``schema_migrations`` records each applied version.

Alembic would add a second configuration and an ``env.py`` for five tables; a numbered list of
functions, each run once inside one transaction under a lock, is all the store needs.
Rule for changes: never edit an applied migration's effect; append a new ``Migration`` that
alters the tables, and change ``schema.py`` to match the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text

from whatsapp.store.connection import SQLITE_BEGIN_KEY
from whatsapp.store.errors import StoreNotMigratedError
from whatsapp.store.schema import V1_TABLES, metadata, schema_migrations

#: Any constant works; it only has to be the same for every process migrating this store.
_MIGRATION_LOCK_KEY = 0x77A7_5A99


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(V1_TABLES))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "channels, signups, history, attempts, summaries", _create_v1),
)
LATEST_VERSION = MIGRATIONS[-1].version


def _applied_version(conn: Connection) -> int:
    if not inspect(conn).has_table(schema_migrations.name):
        return 0
    return conn.execute(select(func.coalesce(func.max(schema_migrations.c.version), 0))).scalar_one()


def current_version(engine: Engine) -> int:
    """The highest applied migration (0 for an empty database)."""
    with engine.connect() as conn:
        return _applied_version(conn)


def migrate(engine: Engine, schema: str | None = None) -> list[int]:
    """Apply every pending migration in one transaction; returns the versions applied (empty: no-op).

    Concurrent callers are serialized (PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``), so
    two workers starting together cannot both create the tables.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.info[SQLITE_BEGIN_KEY] = "BEGIN IMMEDIATE"
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                if schema:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            metadata.create_all(conn, tables=[schema_migrations])
            applied = _applied_version(conn)
            done: list[int] = []
            for migration in MIGRATIONS:
                if migration.version <= applied:
                    continue
                migration.apply(conn)
                conn.execute(
                    insert(schema_migrations).values(
                        version=migration.version, name=migration.name, applied_at=datetime.now(UTC)
                    )
                )
                done.append(migration.version)
            return done


def require_migrated(engine: Engine, where: str) -> None:
    """Raise :class:`StoreNotMigratedError` unless the latest migration is applied."""
    version = current_version(engine)
    if version < LATEST_VERSION:
        raise StoreNotMigratedError(
            f"channel store at {where} is at schema version {version}, needs {LATEST_VERSION}: "
            "run `whatsapp-fleet migrate`"
        )
