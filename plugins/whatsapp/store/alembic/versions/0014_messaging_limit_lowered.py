"""Meta lowering a number's messaging limit is a situation of its own: ``messaging_limit_lowered``.

Meta's ``phone_number_quality_update`` webhook with ``event`` ``DOWNGRADE`` said so, and the
number read "Healthy": the limit was a snapshot column the situation rules did not read, and the
event itself was only a history line. ``channels.limit_lowered`` keeps it until Meta sends
``UPGRADE`` (``Registration.limit_lowered``); the rules gain the fact, so the indexes behind the
fleet's "needs action first" sort are rebuilt on the new rank (written out: a migration must not
change when the code does), and ``ix_channels_summary`` gains ``limit_lowered``.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SITUATION_RANK = (
    "(CASE"
    " WHEN (NOT active AND business_app = 'disconnected') THEN 25"
    " WHEN NOT active THEN 26"
    " WHEN (reauthorization_reason = 'token_invalid') THEN 0"
    " WHEN (reauthorization_reason = 'permission_revoked') THEN 1"
    " WHEN (registration_state = 'reauthorization_required') THEN 0"
    " WHEN (registration_state = 'needs_attention' AND attention = 'display_name_declined') THEN 6"
    " WHEN (registration_state = 'needs_attention' AND attention = 'pin_mismatch') THEN 4"
    " WHEN (registration_state = 'needs_attention' AND attention = 'needs_reverification') THEN 5"
    " WHEN (registration_state = 'needs_attention' AND attention = 'account_locked') THEN 2"
    " WHEN (registration_state = 'needs_attention' AND attention = 'account_event') THEN 3"
    " WHEN (registration_state = 'needs_attention' AND attention = 'graph_error') THEN 7"
    " WHEN (registration_state = 'needs_attention' AND attention = 'name_change_lapsed') THEN 9"
    " WHEN (registration_state = 'needs_attention' AND attention = 'name_change_declined') THEN 10"
    " WHEN (registration_state = 'needs_attention' AND name_status = 'DECLINED') THEN 6"
    " WHEN (registration_state = 'needs_attention') THEN 7"
    " WHEN (quality_rating = 'RED') THEN 8"
    " WHEN (status = 'FLAGGED') THEN 8"
    " WHEN (registration_state = 'blocked') THEN 11"
    " WHEN (name_change = 'approved') THEN 14"
    " WHEN (registration_state IN ('awaiting_display_name', 'scheduled')"
    " AND name_status = 'PENDING_REVIEW') THEN 16"
    " WHEN (registration_state = 'awaiting_display_name') THEN 16"
    " WHEN (registration_state = 'scheduled' AND failures_in_a_row > 0) THEN 12"
    " WHEN (registration_state = 'scheduled') THEN 15"
    " WHEN (business_app = 'reconnecting') THEN 18"
    " WHEN (name_change = 'lapsed') THEN 9"
    " WHEN (name_change = 'declined') THEN 10"
    " WHEN (last_check_failed_at IS NOT NULL) THEN 13"
    " WHEN (name_change = 'requested') THEN 17"
    " WHEN (business_app = 'connected' AND history_sync = 'due') THEN 19"
    " WHEN (business_app = 'connected' AND history_sync = 'declined') THEN 20"
    " WHEN limit_lowered THEN 21"
    " WHEN (quality_rating = 'YELLOW') THEN 22"
    " WHEN (registration_state = 'registered') THEN 24 ELSE 23 END)"
)
#: 0013's rank, for the downgrade.
_PREVIOUS_RANK = (
    "(CASE"
    " WHEN (NOT active AND business_app = 'disconnected') THEN 24"
    " WHEN NOT active THEN 25"
    " WHEN (reauthorization_reason = 'token_invalid') THEN 0"
    " WHEN (reauthorization_reason = 'permission_revoked') THEN 1"
    " WHEN (registration_state = 'reauthorization_required') THEN 0"
    " WHEN (registration_state = 'needs_attention' AND attention = 'display_name_declined') THEN 6"
    " WHEN (registration_state = 'needs_attention' AND attention = 'pin_mismatch') THEN 4"
    " WHEN (registration_state = 'needs_attention' AND attention = 'needs_reverification') THEN 5"
    " WHEN (registration_state = 'needs_attention' AND attention = 'account_locked') THEN 2"
    " WHEN (registration_state = 'needs_attention' AND attention = 'account_event') THEN 3"
    " WHEN (registration_state = 'needs_attention' AND attention = 'graph_error') THEN 7"
    " WHEN (registration_state = 'needs_attention' AND attention = 'name_change_lapsed') THEN 9"
    " WHEN (registration_state = 'needs_attention' AND attention = 'name_change_declined') THEN 10"
    " WHEN (registration_state = 'needs_attention' AND name_status = 'DECLINED') THEN 6"
    " WHEN (registration_state = 'needs_attention') THEN 7"
    " WHEN (quality_rating = 'RED') THEN 8"
    " WHEN (status = 'FLAGGED') THEN 8"
    " WHEN (registration_state = 'blocked') THEN 11"
    " WHEN (name_change = 'approved') THEN 14"
    " WHEN (registration_state IN ('awaiting_display_name', 'scheduled')"
    " AND name_status = 'PENDING_REVIEW') THEN 16"
    " WHEN (registration_state = 'awaiting_display_name') THEN 16"
    " WHEN (registration_state = 'scheduled' AND failures_in_a_row > 0) THEN 12"
    " WHEN (registration_state = 'scheduled') THEN 15"
    " WHEN (business_app = 'reconnecting') THEN 18"
    " WHEN (name_change = 'lapsed') THEN 9"
    " WHEN (name_change = 'declined') THEN 10"
    " WHEN (last_check_failed_at IS NOT NULL) THEN 13"
    " WHEN (name_change = 'requested') THEN 17"
    " WHEN (business_app = 'connected' AND history_sync = 'due') THEN 19"
    " WHEN (business_app = 'connected' AND history_sync = 'declined') THEN 20"
    " WHEN (quality_rating = 'YELLOW') THEN 21"
    " WHEN (registration_state = 'registered') THEN 23 ELSE 22 END)"
)
#: ``active IS true`` as each dialect renders the listing's filter, so the planner matches it.
ACTIVE = {"postgresql_where": sa.text("active IS true"), "sqlite_where": sa.text("active IS 1")}
_OLD_SUMMARY = [
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
]
_SUMMARY = [*_OLD_SUMMARY, "limit_lowered"]


def _rebuild(rank: str, summary: list[str]) -> None:
    for name, columns in {
        "ix_channels_needs_action": [sa.text(rank), "account_id", "inbox_id"],
        "ix_channels_state_needs_action": ["registration_state", sa.text(rank), "account_id", "inbox_id"],
        "ix_channels_summary": summary,
    }.items():
        op.drop_index(name, table_name="channels")
        op.create_index(name, "channels", columns, **ACTIVE)


def upgrade() -> None:
    op.add_column(
        "channels", sa.Column("limit_lowered", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    _rebuild(SITUATION_RANK, _SUMMARY)


def downgrade() -> None:
    _rebuild(_PREVIOUS_RANK, _OLD_SUMMARY)
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("limit_lowered")
