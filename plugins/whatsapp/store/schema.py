"""The store's tables, as SQLAlchemy Core metadata: the result of the newest Alembic revision.

Tables carry no schema name: on PostgreSQL the connection's ``search_path`` picks the schema,
so tests and tenants can keep whole stores side by side in one database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from whatsapp.domain.health import STORED_FIELDS, STORED_NAMES


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on both dialects.

    SQLite has no time zone type: values are stored as naive UTC text in SQLAlchemy's fixed
    format, so text comparison equals time comparison, and come back with ``tzinfo=UTC``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store only accepts timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Integer primary keys that autoincrement on both dialects (SQLite needs plain INTEGER).
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

#: The snapshot columns shared by ``channels`` (current) and ``health_checks`` (history): one per
#: stored field of the health declaration (``whatsapp.domain.health.HEALTH_FIELDS``).
HEALTH_COLUMNS: tuple[str, ...] = STORED_NAMES
#: A failed health fetch, as columns: what kind, Graph code/subcode, and Graph's message.
ERROR_COLUMNS: tuple[str, ...] = ("error_kind", "error_code", "error_subcode", "error_message")


def _health_columns() -> list[Column[Any]]:
    return [Column(f.name, String(f.max_length)) for f in STORED_FIELDS]


def _error_columns(prefix: str = "") -> list[Column[Any]]:
    return [
        Column(f"{prefix}error_kind", String(32)),
        Column(f"{prefix}error_code", Integer),
        Column(f"{prefix}error_subcode", Integer),
        Column(f"{prefix}error_message", Text),
    ]


metadata = MetaData()

channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, nullable=False),
    Column("inbox_id", BigInteger, nullable=False),
    Column("phone_number_id", String(32), nullable=False),
    Column("waba_id", String(32), nullable=False),
    Column("business_id", String(32), nullable=False),
    Column("display_phone_number", String(32)),
    Column("verified_name", String(255)),
    Column("access_token_enc", Text, nullable=False),
    Column("pin_enc", Text, nullable=False),
    Column("verify_token_enc", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    *_health_columns(),
    Column("snapshot", Json),
    Column("checked_at", UtcDateTime),
    Column("provisioning", String(16)),
    *_error_columns("last_check_"),
    Column("last_check_failed_at", UtcDateTime),
    Column("reauthorization_required", Boolean, nullable=False, default=False),
    Column("reauthorization_reason", String(32)),
    Column("registration_state", String(32), nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("failures_in_a_row", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("phone_number_id", name="uq_channels_phone_number_id"),
    UniqueConstraint("account_id", "inbox_id", name="uq_channels_account_inbox"),
    Index("ix_channels_checked_at_id", "checked_at", "id"),
    Index("ix_channels_next_attempt_at", "next_attempt_at"),
)

signups = Table(
    "signups",
    metadata,
    Column("code_digest", String(64), primary_key=True),
    Column("account_id", BigInteger, nullable=False),
    Column("waba_id", String(32), nullable=False),
    Column("business_id", String(32), nullable=False),
    Column("access_token_enc", Text, nullable=False),
    Column("phone_number_id", String(32)),
    Column("created_at", UtcDateTime, nullable=False),
)

health_checks = Table(
    "health_checks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # No foreign key on purpose: the audit appends thousands of rows per statement and a
    # per-row FK check costs ~25 % of that write; channels are deactivated, never deleted.
    Column("channel_id", Id, nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
    *_health_columns(),
    Column("provisioning", String(16)),
    *_error_columns(),
    Index("ix_health_checks_channel_checked", "channel_id", "checked_at"),
)

registration_attempts = Table(
    "registration_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("resulting_state", String(32), nullable=False),
    Column("code", Integer),
    Column("subcode", Integer),
    Column("message", Text),
    Column("run_id", String(250)),
    Index("ix_registration_attempts_channel_at", "channel_id", "attempted_at"),
)

fleet_summaries = Table(
    "fleet_summaries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("counts", Json, nullable=False),
)
