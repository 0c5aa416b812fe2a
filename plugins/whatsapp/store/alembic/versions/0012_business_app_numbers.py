"""WhatsApp Business app numbers ("coexistence") and every way an Embedded Signup ends.

``channels`` gains the health field ``is_on_biz_app`` (also in ``health_checks``), the number's
link to the app (``business_app``), its two one-time syncs and their deadline, the history's
progress, a count of the messages the app echoed, and why Meta offboarded it and who did
(``PARTNER_REMOVED``'s ``disconnection_info``). ``signups`` and ``signup_intake`` keep how the
Embedded Signup ended (``event``; rows from before are ``FINISH``, the only end they knew).

The situation rules gain ``business_app`` and ``history_sync`` facts, so the indexes behind the
fleet's "needs action first" sort are rebuilt on the new rank (written out: a migration must not
change when the code does), and ``ix_channels_summary`` gains the two columns.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SITUATION_RANK = (
    "(CASE"
    " WHEN (NOT active AND business_app = 'disconnected') THEN 22"
    " WHEN NOT active THEN 23"
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
    " WHEN (business_app = 'reconnecting') THEN 17"
    " WHEN (name_change = 'lapsed') THEN 8"
    " WHEN (name_change = 'declined') THEN 9"
    " WHEN (last_check_failed_at IS NOT NULL) THEN 12"
    " WHEN (name_change = 'requested') THEN 16"
    " WHEN (business_app = 'connected' AND history_sync = 'due') THEN 18"
    " WHEN (business_app = 'connected' AND history_sync = 'declined') THEN 19"
    " WHEN (registration_state = 'registered') THEN 21 ELSE 20 END)"
)
#: 0009's rank, for the downgrade.
_PREVIOUS_RANK = (
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
]
_SUMMARY = [*_OLD_SUMMARY, "business_app", "history_sync"]
_CHANNEL_COLUMNS = (
    ("is_on_biz_app", sa.String(8)),
    ("business_app", sa.String(16)),
    ("contacts_sync", sa.String(16)),
    ("history_sync", sa.String(16)),
    ("sync_deadline", sa.DateTime(timezone=True)),
    ("history_sync_progress", sa.Integer()),
    ("offboard_reason", sa.String(255)),
    ("offboarded_by", sa.String(64)),
)


def _rebuild(rank: str, summary: list[str]) -> None:
    for name, columns in {
        "ix_channels_needs_action": [sa.text(rank), "account_id", "inbox_id"],
        "ix_channels_state_needs_action": ["registration_state", sa.text(rank), "account_id", "inbox_id"],
        "ix_channels_summary": summary,
    }.items():
        op.drop_index(name, table_name="channels")
        op.create_index(name, "channels", columns, **ACTIVE)


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        for name, type_ in _CHANNEL_COLUMNS:
            batch.add_column(sa.Column(name, type_))
        batch.add_column(sa.Column("message_echoes", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("health_checks", sa.Column("is_on_biz_app", sa.String(8)))
    for table in ("signups", "signup_intake"):
        op.add_column(table, sa.Column("event", sa.String(48), nullable=False, server_default="FINISH"))
    _rebuild(SITUATION_RANK, _SUMMARY)


def downgrade() -> None:
    _rebuild(_PREVIOUS_RANK, _OLD_SUMMARY)
    for table in ("signup_intake", "signups"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("event")
    with op.batch_alter_table("health_checks") as batch:
        batch.drop_column("is_on_biz_app")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("message_echoes")
        for name, _ in reversed(_CHANNEL_COLUMNS):
            batch.drop_column(name)
