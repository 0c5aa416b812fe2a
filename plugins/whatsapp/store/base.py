"""The store's plumbing shared by every operation: engine, lazy schema check, secrets, row mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import ReauthorizationReason, RegistrationState
from whatsapp.store.connection import SQLITE_BEGIN_KEY, StoreTarget
from whatsapp.store.crypto import SecretBox
from whatsapp.store.errors import StoreConnectionError
from whatsapp.store.migrations import require_migrated
from whatsapp.store.models import Channel, CheckError
from whatsapp.store.schema import HEALTH_COLUMNS, channels

#: Every channel column except the encrypted ones: what reads select, so secrets stay unread.
PUBLIC_CHANNEL_COLUMNS = tuple(c for c in channels.c if not c.name.endswith("_enc"))


def utcnow(now: datetime | None = None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def check_error_from(row: Any, prefix: str = "") -> CheckError | None:
    kind = getattr(row, f"{prefix}error_kind")
    if kind is None:
        return None
    return CheckError(
        kind,
        getattr(row, f"{prefix}error_code"),
        getattr(row, f"{prefix}error_subcode"),
        getattr(row, f"{prefix}error_message"),
    )


def channel_from_row(row: Row[Any]) -> Channel:
    """Build the public :class:`Channel` from a row of :data:`PUBLIC_CHANNEL_COLUMNS`."""
    health = None
    if row.checked_at is not None:
        health = PhoneHealth(
            phone_number_id=row.phone_number_id,
            display_phone_number=row.display_phone_number,
            verified_name=row.verified_name,
            **{name: getattr(row, name) for name in HEALTH_COLUMNS},
            raw=row.snapshot or {},
        )
    reason = row.reauthorization_reason
    return Channel(
        id=row.id,
        account_id=row.account_id,
        inbox_id=row.inbox_id,
        phone_number_id=row.phone_number_id,
        waba_id=row.waba_id,
        business_id=row.business_id,
        display_phone_number=row.display_phone_number,
        verified_name=row.verified_name,
        source=row.source,
        active=row.active,
        health=health,
        checked_at=row.checked_at,
        provisioning=row.provisioning,
        last_check_error=check_error_from(row, "last_check_"),
        last_check_failed_at=row.last_check_failed_at,
        reauthorization_required=row.reauthorization_required,
        reauthorization_reason=None if reason is None else ReauthorizationReason(reason),
        registration_state=RegistrationState(row.registration_state),
        next_attempt_at=row.next_attempt_at,
        failures_in_a_row=row.failures_in_a_row,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class StoreBase:
    """Holds the engine; every operation goes through :meth:`_connect` or :meth:`_transaction`."""

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
        with self._connection_errors():
            require_migrated(self.engine, self.target.describe())
        self._schema_checked = True

    @contextmanager
    def _connection_errors(self) -> Iterator[None]:
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
        with self._connection_errors():
            return self.engine.connect()

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A connection for reads (autobegin; nothing is committed)."""
        with self._open() as conn:
            yield conn

    @contextmanager
    def _transaction(self, *, immediate: bool = False) -> Iterator[Connection]:
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
