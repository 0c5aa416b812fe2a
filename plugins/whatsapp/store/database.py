"""The store's plumbing every repository shares: the engine, the lazy schema check, secrets, transactions.

Repositories receive one :class:`Database` (composition, not inheritance): the only state they
share is here, in plain sight.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from whatsapp.store.connection import SQLITE_BEGIN_KEY, StoreTarget
from whatsapp.store.crypto import SecretBox
from whatsapp.store.errors import StoreConnectionError
from whatsapp.store.migrations import require_migrated


def utcnow(now: datetime | None = None) -> datetime:
    return now if now is not None else datetime.now(UTC)


class Database:
    """One store database: connections, transactions and the Fernet box, checked once for migration."""

    def __init__(self, engine: Engine, target: StoreTarget | None = None, secrets: SecretBox | None = None):
        self.engine = engine
        self.target = target or StoreTarget(engine.url)
        self._secrets = secrets
        self._schema_checked = False

    @property
    def secrets(self) -> SecretBox:
        """Airflow's Fernet, loaded on first need (reading the fleet needs no key)."""
        if self._secrets is None:
            self._secrets = SecretBox()
        return self._secrets

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def check_migrated(self) -> None:
        """Raise :class:`StoreNotMigratedError` (or :class:`StoreConnectionError`) unless ready."""
        with self.connection_errors():
            require_migrated(self.engine, self.target.describe())
        self._schema_checked = True

    def mark_migrated(self) -> None:
        self._schema_checked = True

    @contextmanager
    def connection_errors(self) -> Iterator[None]:
        """Wrap connecting (not queries): there, any operational error means the store is unreachable."""
        try:
            yield
        except OperationalError as exc:
            first_line = (
                str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
            )
            raise StoreConnectionError(
                f"cannot reach the channel store at {self.target.describe()}: {first_line}"
            ) from None

    def _open(self) -> Connection:
        if not self._schema_checked:
            self.check_migrated()
        with self.connection_errors():
            return self.engine.connect()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (autobegin; nothing is committed)."""
        with self._open() as conn:
            yield conn

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[Connection]:
        """One transaction, committed on success; ``immediate`` takes SQLite's write lock up front."""
        with self._open() as conn:
            if immediate and self.dialect == "sqlite":
                conn.info[SQLITE_BEGIN_KEY] = "BEGIN IMMEDIATE"
            with conn.begin():
                yield conn

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT, the one with ``on_conflict_do_update``/``on_conflict_do_nothing``."""
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    def dispose(self) -> None:
        """Close pooled connections (tests and short-lived commands)."""
        self.engine.dispose()
