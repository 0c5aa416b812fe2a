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
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    case,
    false,
    literal_column,
    not_,
    or_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.types import TypeDecorator

from whatsapp.domain.health import STORED_FIELDS, STORED_NAMES
from whatsapp.domain.situations import SITUATION_RULES, SORT_RANK


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


def _const(value: object) -> ColumnElement[Any]:
    """A constant rendered inline (not bound), so PostgreSQL matches a query's expression to an
    index's; only plain words and integers, which are safe to quote."""
    if isinstance(value, str):  # enum values and Meta's name statuses: plain words
        if not value.isidentifier():
            raise ValueError(f"not a plain enum value: {value!r}")
        return literal_column(f"'{value}'")
    if isinstance(value, int) and not isinstance(value, bool):
        return literal_column(str(value))
    raise TypeError(f"no inline constant for {value!r}")


def fact_columns(c: Any) -> dict[str, ColumnElement[Any]]:
    """The situation facts (``SituationFacts`` fields) as SQL over a ``channels`` row (``c`` = its
    columns): what the fleet's counts group by, what each listed row selects, what its sort ranks."""
    return {
        "state": c.registration_state,
        "reason": c.reauthorization_reason,
        "attention": c.attention,
        "name_status": c.name_status,
        "name_change": c.name_change,
        "refused": c.failures_in_a_row > _const(0),
        "check_failed": c.last_check_failed_at.is_not(None),
        "active": c.active,
        "business_app": c.business_app,
        "history_sync": c.history_sync,
        "quality_rating": c.quality_rating,
        "phone_status": c.status,
        "limit_lowered": c.limit_lowered,
    }


def _accepts(column: ColumnElement[Any], values: frozenset[object]) -> ColumnElement[bool]:
    """``column`` has one of ``values`` (a boolean fact: is true / is false)."""
    if values in ({True}, {False}):
        return column if True in values else not_(column)
    words = sorted(str(value) for value in values if value is not None)
    options = [column == _const(words[0])] if len(words) == 1 else []
    if len(words) > 1:
        options.append(column.in_([_const(word) for word in words]))
    if None in values:
        options.append(column.is_(None))
    return or_(*options) if len(options) > 1 else options[0]


def situation_rank(c: Any) -> ColumnElement[int]:
    """A ``channels`` row's place in the fleet's "needs action first" sort (``c`` = its columns).

    ``CASE`` over :data:`~whatsapp.domain.situations.SITUATION_RULES` in order, each giving its
    kind's :data:`~whatsapp.domain.situations.SORT_RANK`: the domain's rule, compiled, so the
    sort agrees with each row's ``situation.needs_action``. Used by the fleet listing's ORDER BY
    and by the expression indexes below.
    """
    facts = fact_columns(c)
    *rules, last = SITUATION_RULES
    if last.when:
        raise ValueError("the last situation rule must match every channel")
    whens = [
        (and_(*(_accepts(facts[name], values) for name, values in rule.when)), _const(SORT_RANK[rule.kind]))
        for rule in rules
    ]
    # Parenthesized: PostgreSQL needs an index expression in parentheses.
    return Grouping(case(*whens, else_=_const(SORT_RANK[last.kind])))


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
    # A live number's display-name change and its deadline (lifecycle), offboarding.
    Column("name_change", String(16)),
    Column("name_change_deadline", UtcDateTime),
    Column("offboarded_at", UtcDateTime),
    # Why a ``needs_attention`` channel needs a person (``Attention``), set by the registration machine.
    Column("attention", String(32)),
    # Meta's time of the newest display-name fact the registration follows (``Registration``).
    Column("name_decided_at", UtcDateTime),
    # A WhatsApp Business app number (``whatsapp.domain.business_app``): its link to the app
    # (``AppLink``; NULL for other numbers), its two one-time syncs (``SyncState``), their deadline,
    # how far the history got (Meta's percentage) and how many messages the app echoed.
    Column("business_app", String(16)),
    Column("contacts_sync", String(16)),
    Column("history_sync", String(16)),
    Column("sync_deadline", UtcDateTime),
    Column("history_sync_progress", Integer),
    Column("message_echoes", Integer, nullable=False, server_default="0"),
    # Why the channel was offboarded and by whom, when Meta said (``PARTNER_REMOVED``'s
    # ``disconnection_info``); NULL when the provider offboarded it.
    Column("offboard_reason", String(255)),
    Column("offboarded_by", String(64)),
    # Meta lowered the messaging limit (``phone_number_quality_update`` DOWNGRADE) and has not
    # raised it since (``Registration.limit_lowered``).
    Column("limit_lowered", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("phone_number_id", name="uq_channels_phone_number_id"),
    UniqueConstraint("account_id", "inbox_id", name="uq_channels_account_inbox"),
    Index("ix_channels_checked_at_id", "checked_at", "id"),
    Index("ix_channels_next_attempt_at", "next_attempt_at"),
)
#: What the fleet counts group by (``fleet_listing.fleet_groups``): the summary's dimensions and
#: the facts that decide a situation (``whatsapp.domain.situations.SituationFacts``), all in one
#: index so counting 100,000 channels stays an index-only scan.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "provisioning",
    "registration_state",
    "reauthorization_reason",
    "quality_rating",
    "attention",
    "name_status",
    "name_change",
    "failures_in_a_row",
    "last_check_failed_at",
    "business_app",
    "history_sync",
    "status",
    "limit_lowered",
)
# The fleet listing's indexes (``fleet_listing.py``), partial on active channels as the listing's
# default filter and the counts are: the default page (needs action first), the same within one
# registration state (the page's usual filter), the phone number sort, and an index-only scan for
# the grouped counts. (``checked_at`` and ``next_attempt_at`` sorts use the indexes above.)
Index(
    "ix_channels_needs_action",
    situation_rank(channels.c),
    channels.c.account_id,
    channels.c.inbox_id,
    postgresql_where=channels.c.active.is_(True),
    sqlite_where=channels.c.active.is_(True),
)
Index(
    "ix_channels_state_needs_action",
    channels.c.registration_state,
    situation_rank(channels.c),
    channels.c.account_id,
    channels.c.inbox_id,
    postgresql_where=channels.c.active.is_(True),
    sqlite_where=channels.c.active.is_(True),
)
Index(
    "ix_channels_display_phone_number",
    channels.c.display_phone_number,
    channels.c.id,
    postgresql_where=channels.c.active.is_(True),
    sqlite_where=channels.c.active.is_(True),
)
# The fleet's text search (``q``) on PostgreSQL: trigram indexes for ``ILIKE '%…%'`` (migration
# 0009 creates them where the ``pg_trgm`` extension is or can be installed, in ``public``).
for _name, _column in (
    ("ix_channels_search_phone", "display_phone_number"),
    ("ix_channels_search_name", "verified_name"),
):
    Index(
        _name,
        channels.c[_column],
        postgresql_using="gin",
        postgresql_ops={_column: "public.gin_trgm_ops"},
        info={"dialect": "postgresql"},  # what the migration tests compare it on
    ).ddl_if(dialect="postgresql")
Index(
    "ix_channels_summary",
    *(channels.c[name] for name in SUMMARY_COLUMNS),
    postgresql_where=channels.c.active.is_(True),
    sqlite_where=channels.c.active.is_(True),
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
    # How the customer's Embedded Signup ended (``whatsapp.domain.signup.SignupEvent``).
    Column("event", String(48), nullable=False, server_default="FINISH"),
)

#: Signups received by ``POST /whatsapp/api/v1/signups``, waiting for their onboarding run. The
#: code is kept encrypted only until it is exchanged, refused or past Meta's lifetime (then
#: ``code_enc`` is NULL); the digest stays so a re-run finds the token ``signups`` saved for it.
signup_intake = Table(
    "signup_intake",
    metadata,
    Column("signup_id", String(32), primary_key=True),
    Column("account_id", BigInteger, nullable=False),
    Column("business_id", String(32), nullable=False),
    Column("waba_id", String(32), nullable=False),
    Column("phone_number_id", String(32)),
    Column("inbox_id", BigInteger),
    Column("code_digest", String(64), nullable=False),
    Column("code_enc", Text),
    Column("received_at", UtcDateTime, nullable=False),
    Column("dag_run_id", String(250)),
    Column("event", String(48), nullable=False, server_default="FINISH"),
    Index("ix_signup_intake_received_at", "received_at"),
)

#: What names a channel to a task or a person: its ids and its number. Every list of channels that
#: leaves the store (due registrations, channels that newly need a person) selects these first.
CHANNEL_REF_COLUMNS = (
    channels.c.id,
    channels.c.account_id,
    channels.c.inbox_id,
    channels.c.phone_number_id,
    channels.c.display_phone_number,
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
    # What Meta pushed (``whatsapp.domain.webhooks.WebhookChange.describe``); NULL for a Graph read.
    Column("event", Text),
    # The Airflow run that read it (audit, onboarding, register); NULL for webhooks and page refreshes.
    Column("run_id", String(250)),
    Index("ix_health_checks_channel_checked", "channel_id", "checked_at"),
    # Retention prunes by age across all channels (store/operations.py).
    Index("ix_health_checks_checked_at", "checked_at"),
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
    # What a DAG run did (the page's outcome after *Complete registration*, the DAG-run panel).
    Index("ix_registration_attempts_run_id", "run_id"),
)

# What the fleet's notifications already announced: one row per channel and flag ("state/reason"),
# so a flag is announced once; rows of flags that cleared are dropped, so it is announced again
# should it come back.
notified_flags = Table(
    "notified_flags",
    metadata,
    Column("channel_id", Id, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("flag", String(80), primary_key=True),
    Column("notified_at", UtcDateTime, nullable=False),
)

fleet_summaries = Table(
    "fleet_summaries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("counts", Json, nullable=False),
)

# Meta webhooks: every change received, once (``change_key``), and what it led to.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("change_key", String(64), nullable=False),
    Column("field", String(64), nullable=False),
    Column("waba_id", String(32), nullable=False),
    Column("display_phone_number", String(32)),
    # The number's channel for phone-number fields (NULL for WABA-wide events or unknown numbers).
    Column("channel_id", Id),
    Column("event", String(64)),
    Column("detail", Text),
    Column("value", Json, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    # The risky transitions this change reported (reported once: a redelivery is a duplicate).
    Column("reported", Json),
    # The change was older than what the store knew of its channel and changed nothing.
    Column("stale", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("change_key", name="uq_webhook_events_change_key"),
    Index("ix_webhook_events_channel_field_received", "channel_id", "field", "received_at"),
    # A WABA's newest ``account_update`` (the ``account_event`` situation names it).
    Index("ix_webhook_events_waba_field_received", "waba_id", "field", "received_at"),
)

#: Graph calls about a channel's lifecycle other than ``/register``, each counted
#: against its own Meta limit: ``name_change`` (``NAME_CHANGE_ALLOWANCE``) and ``deregister``
#: (``DEREGISTER_ALLOWANCE``).
#: Written ahead like register attempts (``sent`` before the call, the answer after).
lifecycle_calls = Table(
    "lifecycle_calls",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel_id", Id, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("call", String(16), nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("detail", String(255)),  # the requested display name; never a secret
    Column("code", Integer),
    Column("subcode", Integer),
    Column("message", Text),
    Column("run_id", String(250)),
    Index("ix_lifecycle_calls_channel_call_at", "channel_id", "call", "sent_at"),
)
