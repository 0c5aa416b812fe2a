"""The v1 store: channels, signups, health history, registration attempts, fleet summaries.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Frozen copy of the tables as the first release created them (``schema_migrations`` version 1):
explicit DDL, so later changes to ``store/schema.py`` never change what this revision does.
Only the column *types* come from ``schema.py``; they are part of the storage format.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from whatsapp.store.schema import Id, Json, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_HEALTH = (
    "name_status",
    "code_verification_status",
    "platform_type",
    "throughput_level",
    "messaging_limit_tier",
    "quality_rating",
    "status",
    "account_mode",
)


def _health_columns() -> list[sa.Column]:
    return [sa.Column(name, sa.String(64)) for name in _HEALTH]


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("inbox_id", sa.BigInteger, nullable=False),
        sa.Column("phone_number_id", sa.String(32), nullable=False),
        sa.Column("waba_id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.String(32), nullable=False),
        sa.Column("display_phone_number", sa.String(32)),
        sa.Column("verified_name", sa.String(255)),
        sa.Column("access_token_enc", sa.Text, nullable=False),
        sa.Column("pin_enc", sa.Text, nullable=False),
        sa.Column("verify_token_enc", sa.Text, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        *_health_columns(),
        sa.Column("snapshot", Json),
        sa.Column("checked_at", UtcDateTime),
        sa.Column("provisioning", sa.String(16)),
        sa.Column("last_check_error_kind", sa.String(32)),
        sa.Column("last_check_error_code", sa.Integer),
        sa.Column("last_check_error_subcode", sa.Integer),
        sa.Column("last_check_error_message", sa.Text),
        sa.Column("last_check_failed_at", UtcDateTime),
        sa.Column("reauthorization_required", sa.Boolean, nullable=False),
        sa.Column("reauthorization_reason", sa.String(32)),
        sa.Column("registration_state", sa.String(32), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime),
        sa.Column("failures_in_a_row", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("phone_number_id", name="uq_channels_phone_number_id"),
        sa.UniqueConstraint("account_id", "inbox_id", name="uq_channels_account_inbox"),
    )
    op.create_index("ix_channels_checked_at_id", "channels", ["checked_at", "id"])
    op.create_index("ix_channels_next_attempt_at", "channels", ["next_attempt_at"])

    op.create_table(
        "signups",
        sa.Column("code_digest", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("waba_id", sa.String(32), nullable=False),
        sa.Column("business_id", sa.String(32), nullable=False),
        sa.Column("access_token_enc", sa.Text, nullable=False),
        sa.Column("phone_number_id", sa.String(32)),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )

    # No foreign key to channels on purpose (bulk appends; channels are never deleted).
    op.create_table(
        "health_checks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel_id", Id, nullable=False),
        sa.Column("checked_at", UtcDateTime, nullable=False),
        *_health_columns(),
        sa.Column("provisioning", sa.String(16)),
        sa.Column("error_kind", sa.String(32)),
        sa.Column("error_code", sa.Integer),
        sa.Column("error_subcode", sa.Integer),
        sa.Column("error_message", sa.Text),
    )
    op.create_index("ix_health_checks_channel_checked", "health_checks", ["channel_id", "checked_at"])

    op.create_table(
        "registration_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel_id", Id, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempted_at", UtcDateTime, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("resulting_state", sa.String(32), nullable=False),
        sa.Column("code", sa.Integer),
        sa.Column("subcode", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("run_id", sa.String(250)),
    )
    op.create_index(
        "ix_registration_attempts_channel_at", "registration_attempts", ["channel_id", "attempted_at"]
    )

    op.create_table(
        "fleet_summaries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("counts", Json, nullable=False),
    )


def downgrade() -> None:
    for table in ("fleet_summaries", "registration_attempts", "health_checks", "signups", "channels"):
        op.drop_table(table)
