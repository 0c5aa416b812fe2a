"""The Airflow run that stored each health check, so the history links it as register calls do.

``health_checks.run_id``: the fleet audit's, the onboarding or register run's health check;
NULL for a webhook, a refresh from the page, and rows stored before this revision.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("health_checks", sa.Column("run_id", sa.String(250)))


def downgrade() -> None:
    op.drop_column("health_checks", "run_id")
