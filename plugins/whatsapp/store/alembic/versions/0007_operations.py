"""Operations: the flags notifications already announced, and an index for pruning health history.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from whatsapp.store.schema import Id, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notified_flags",
        sa.Column("channel_id", Id, sa.ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("flag", sa.String(80), primary_key=True),
        sa.Column("notified_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_health_checks_checked_at", "health_checks", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_health_checks_checked_at", table_name="health_checks")
    op.drop_table("notified_flags")
