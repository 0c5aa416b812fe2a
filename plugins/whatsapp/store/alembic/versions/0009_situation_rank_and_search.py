"""The fleet's "needs action first" sort ranks situations, as ``needs_action`` says;
the text search gets trigram indexes on PostgreSQL.

0003 ranked by registration state alone, so a lapsed or declined name change (a person must act)
came after blocked channels and names in review (nobody need act). The indexes behind the sort
are rebuilt on ``whatsapp.store.schema.situation_rank``: the domain's situation rules as one
``CASE`` giving each kind's sort rank. The expression is written out, because a migration must
not change when the code does; ``tests/store/test_fleet_listing.py`` checks that the listing's
queries use these indexes (the planner matches the query's expression to the index's).

On PostgreSQL the text search (``q``: part of the phone number or verified name) gets trigram
GIN indexes, so it reads the matching rows instead of scanning the fleet. They need the
``pg_trgm`` extension: used where it is installed, else created in ``public`` (a trusted
extension since PostgreSQL 13); where neither works the search stays a scan, as on SQLite.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SITUATION_RANK = (
    "(CASE"
    " WHEN NOT active THEN 19"
    " WHEN (reauthorization_reason = 'token_invalid') THEN 0"
    " WHEN (reauthorization_reason = 'permission_revoked') THEN 1"
    " WHEN (registration_state = 'reauthorization_required') THEN 0"
    " WHEN (registration_state = 'needs_attention' AND attention = 'display_name_declined') THEN 6"
    " WHEN (registration_state = 'needs_attention' AND attention = 'pin_mismatch') THEN 4"
    " WHEN (registration_state = 'needs_attention' AND attention = 'needs_reverification') THEN 5"
    " WHEN (registration_state = 'needs_attention' AND attention = 'account_locked') THEN 2"
    " WHEN (registration_state = 'needs_attention' AND attention = 'account_event') THEN 3"
    " WHEN (registration_state = 'needs_attention' AND attention = 'graph_error') THEN 7"
    " WHEN (registration_state = 'needs_attention' AND attention = 'name_change_lapsed') THEN 8"
    " WHEN (registration_state = 'needs_attention' AND attention = 'name_change_declined') THEN 9"
    " WHEN (registration_state = 'needs_attention' AND name_status = 'DECLINED') THEN 6"
    " WHEN (registration_state = 'needs_attention') THEN 7"
    " WHEN (registration_state = 'blocked') THEN 10"
    " WHEN (name_change = 'approved') THEN 13"
    " WHEN (registration_state IN ('awaiting_display_name', 'scheduled')"
    " AND name_status = 'PENDING_REVIEW') THEN 15"
    " WHEN (registration_state = 'awaiting_display_name') THEN 15"
    " WHEN (registration_state = 'scheduled' AND failures_in_a_row > 0) THEN 11"
    " WHEN (registration_state = 'scheduled') THEN 14"
    " WHEN (name_change = 'lapsed') THEN 8"
    " WHEN (name_change = 'declined') THEN 9"
    " WHEN (last_check_failed_at IS NOT NULL) THEN 12"
    " WHEN (name_change = 'requested') THEN 16"
    " WHEN (registration_state = 'registered') THEN 18"
    " ELSE 17 END)"
)
#: 0003's rank (registration state only), for the downgrade.
_STATE_RANK = (
    "(CASE"
    " WHEN (registration_state = 'reauthorization_required'"
    " OR reauthorization_reason IN ('permission_revoked', 'token_invalid')) THEN 0"
    " WHEN (registration_state = 'needs_attention') THEN 1"
    " WHEN (registration_state = 'blocked') THEN 2"
    " WHEN (registration_state = 'scheduled') THEN 3"
    " WHEN (registration_state = 'awaiting_display_name') THEN 4"
    " ELSE 5 END)"
)
#: ``active IS true`` as each dialect renders the listing's filter, so the planner matches it.
ACTIVE = {"postgresql_where": sa.text("active IS true"), "sqlite_where": sa.text("active IS 1")}


def _indexes(rank: str) -> dict[str, list[str | sa.TextClause]]:
    return {
        "ix_channels_needs_action": [sa.text(rank), "account_id", "inbox_id"],
        "ix_channels_state_needs_action": ["registration_state", sa.text(rank), "account_id", "inbox_id"],
    }


def _rebuild(rank: str) -> None:
    for name, columns in _indexes(rank).items():
        op.drop_index(name, table_name="channels")
        op.create_index(name, "channels", columns, **ACTIVE)


#: Trigram indexes of the text search: name -> column.
SEARCH_INDEXES = {
    "ix_channels_search_phone": "display_phone_number",
    "ix_channels_search_name": "verified_name",
}


def _trigram_schema(conn: sa.Connection) -> str | None:
    """The (quoted) schema of ``pg_trgm``, installing it in ``public`` if it is not yet; ``None``
    when it cannot be (not available, or not allowed): the search then works without an index."""
    find = sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    schema = conn.execute(find).scalar_one_or_none()
    if schema is None:
        try:
            with conn.begin_nested():
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        except sa.exc.DBAPIError:
            return None
        schema = conn.execute(find).scalar_one_or_none()
    return schema


def upgrade() -> None:
    _rebuild(SITUATION_RANK)
    conn = op.get_bind()
    if conn.dialect.name != "postgresql" or (schema := _trigram_schema(conn)) is None:
        return
    for name, column in SEARCH_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON channels USING gin ({column} {schema}.gin_trgm_ops)")


def downgrade() -> None:
    for name in SEARCH_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    _rebuild(_STATE_RANK)
