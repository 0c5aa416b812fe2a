"""Meta webhooks: ``webhook_events`` (each change once) and ``health_checks.event`` (what Meta pushed).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("health_checks", sa.Column("event", sa.Text(), nullable=True))
    op.create_table(
        "webhook_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("change_key", sa.String(64), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("waba_id", sa.String(32), nullable=False),
        sa.Column("display_phone_number", sa.String(32), nullable=True),
        sa.Column("channel_id", _ID, nullable=True),
        sa.Column("event", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("value", _JSON, nullable=False),
        sa.Column("occurred_at", _TIME, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("reported", _JSON, nullable=True),
        sa.UniqueConstraint("change_key", name="uq_webhook_events_change_key"),
    )
    op.create_index(
        "ix_webhook_events_channel_field_received", "webhook_events", ["channel_id", "field", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_channel_field_received", table_name="webhook_events")
    op.drop_table("webhook_events")
    with op.batch_alter_table("health_checks") as batch:
        batch.drop_column("event")
