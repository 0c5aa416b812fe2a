"""Meta's name decisions carry their time: an older one never overrides what is known.

``channels.name_decided_at``: Meta's time of the newest display-name fact the registration
follows (a ``phone_number_name_update``'s ``entry.time``, or a health read's check time); a
decision observed before it changes nothing. NULL for rows stored before this revision: the
next decision or health read sets it. ``webhook_events.stale``: the change arrived older than
what the store knew and was not applied (kept for the record, ignored by the onboarding wait).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("channels", sa.Column("name_decided_at", sa.DateTime(timezone=True)))
    op.add_column(
        "webhook_events", sa.Column("stale", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("stale")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("name_decided_at")
