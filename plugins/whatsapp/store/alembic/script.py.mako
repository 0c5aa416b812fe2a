"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Never edit a revision once merged: add the next one (``0002``, ``0003``, ...) and change
``store/schema.py`` to the result. Use frozen, explicit DDL here, never ``schema.py``'s tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
from whatsapp.store.schema import Id, Json, UtcDateTime  # noqa: F401 (autogenerate renders them)

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | None = ${repr(branch_labels)}
depends_on: str | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
