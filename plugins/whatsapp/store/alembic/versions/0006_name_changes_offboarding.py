"""Display-name changes and offboarding: the channel's name change, its deadline and
offboarding time; ``lifecycle_calls`` for the name-change and deregister calls and their budgets.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from whatsapp.store.schema import Id, UtcDateTime

revision = "0006"  # the brief asked "0004l": renumbered after main took 0004 and 0005
down_revision = "0005"
branch_labels = None
depends_on = None

_CHANNEL_COLUMNS = ("name_change", "name_change_deadline", "offboarded_at")


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("name_change", sa.String(16)))
        batch.add_column(sa.Column("name_change_deadline", UtcDateTime()))
        batch.add_column(sa.Column("offboarded_at", UtcDateTime()))
    op.create_table(
        "lifecycle_calls",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel_id", Id, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("call", sa.String(16), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(255)),
        sa.Column("code", sa.Integer),
        sa.Column("subcode", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("run_id", sa.String(250)),
    )
    op.create_index(
        "ix_lifecycle_calls_channel_call_at", "lifecycle_calls", ["channel_id", "call", "sent_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_lifecycle_calls_channel_call_at", table_name="lifecycle_calls")
    op.drop_table("lifecycle_calls")
    with op.batch_alter_table("channels") as batch:
        for name in reversed(_CHANNEL_COLUMNS):
            batch.drop_column(name)
