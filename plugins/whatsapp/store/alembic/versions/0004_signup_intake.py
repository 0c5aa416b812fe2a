"""Signup intake: signups received by the API, their code encrypted until it is exchanged.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from whatsapp.store.schema import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_intake",
        sa.Column("signup_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("business_id", sa.String(32), nullable=False),
        sa.Column("waba_id", sa.String(32), nullable=False),
        sa.Column("phone_number_id", sa.String(32)),
        sa.Column("inbox_id", sa.BigInteger),
        sa.Column("code_digest", sa.String(64), nullable=False),
        sa.Column("code_enc", sa.Text),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("dag_run_id", sa.String(250)),
    )
    op.create_index("ix_signup_intake_received_at", "signup_intake", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_signup_intake_received_at", table_name="signup_intake")
    op.drop_table("signup_intake")
