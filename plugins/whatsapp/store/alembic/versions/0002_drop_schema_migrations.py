"""Drop ``schema_migrations``, the pre-Alembic runner's version table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Only stores made by the first release have it: ``migrate`` stamps them ``0001`` (their tables
are exactly what ``0001`` creates) and this revision removes the old bookkeeping. On a store
created by Alembic it does nothing.
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("DROP TABLE IF EXISTS schema_migrations")


def downgrade() -> None:
    """Nothing to restore: Alembic's ``alembic_version`` now records what ``schema_migrations`` did."""
