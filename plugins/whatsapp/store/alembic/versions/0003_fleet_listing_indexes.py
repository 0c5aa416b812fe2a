"""Fleet listing indexes: needs-action order (also within a state), phone number order, counts.

Partial on active channels, as the fleet listing's default filter and the counts are. The
expression is the then ``whatsapp.store.schema.needs_action_rank`` written out, because a
migration must not change when the code does (0009 rebuilt both needs-action indexes on the
situation rank); ``tests/store/test_fleet_listing.py`` checks 0009's downgrade gives these back.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NEEDS_ACTION_RANK = (
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

INDEXES: dict[str, list[str | sa.TextClause]] = {
    "ix_channels_needs_action": [sa.text(NEEDS_ACTION_RANK), "account_id", "inbox_id"],
    "ix_channels_state_needs_action": [
        "registration_state",
        sa.text(NEEDS_ACTION_RANK),
        "account_id",
        "inbox_id",
    ],
    "ix_channels_display_phone_number": ["display_phone_number", "id"],
    "ix_channels_summary": ["provisioning", "registration_state", "reauthorization_reason", "quality_rating"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "channels", columns, **ACTIVE)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="channels")
