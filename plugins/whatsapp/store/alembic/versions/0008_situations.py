"""Situations: why a ``needs_attention`` channel needs a person, counted with the rest.

``channels.attention`` keeps the lifecycle's :class:`~whatsapp.domain.registration.Attention`
while a channel is ``needs_attention``; rows already in that state get it from their last
register answer where that says it for certain (the situation falls back to the display name's
status or "Meta refused" otherwise). ``ix_channels_summary`` gains the columns that decide a
situation, so the fleet counts stay an index-only scan; a WABA's newest ``account_update`` is
found by ``ix_webhook_events_waba_field_received``, a run's register calls by
``ix_registration_attempts_run_id``.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: ``active IS true`` as each dialect renders the listing's filter, so the planner matches it.
ACTIVE = {"postgresql_where": sa.text("active IS true"), "sqlite_where": sa.text("active IS 1")}
_OLD_SUMMARY = ["provisioning", "registration_state", "reauthorization_reason", "quality_rating"]
_SUMMARY = [
    *_OLD_SUMMARY,
    "attention",
    "name_status",
    "name_change",
    "failures_in_a_row",
    "last_check_failed_at",
]
#: Error kinds of a register answer that name an attention (``OUTCOME_BY_KIND`` as of this revision).
_ATTENTION_OF_OUTCOME = {
    "pin_problem": "pin_mismatch",
    "needs_reverification": "needs_reverification",
    "account_locked": "account_locked",
    "invalid_request": "graph_error",
    "unknown": "graph_error",
}
_BACKFILL = sa.text(
    "UPDATE channels SET attention = CASE"
    " WHEN name_status = 'DECLINED' THEN 'display_name_declined'"
    " ELSE (SELECT CASE a.outcome "
    + " ".join(f"WHEN '{outcome}' THEN '{attention}'" for outcome, attention in _ATTENTION_OF_OUTCOME.items())
    + " END FROM registration_attempts a WHERE a.channel_id = channels.id ORDER BY a.id DESC LIMIT 1)"
    " END WHERE registration_state = 'needs_attention'"
)


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("attention", sa.String(32)))
    op.execute(_BACKFILL)
    op.drop_index("ix_channels_summary", table_name="channels")
    op.create_index("ix_channels_summary", "channels", _SUMMARY, **ACTIVE)
    op.create_index(
        "ix_webhook_events_waba_field_received", "webhook_events", ["waba_id", "field", "received_at"]
    )
    op.create_index("ix_registration_attempts_run_id", "registration_attempts", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_registration_attempts_run_id", table_name="registration_attempts")
    op.drop_index("ix_webhook_events_waba_field_received", table_name="webhook_events")
    op.drop_index("ix_channels_summary", table_name="channels")
    op.create_index("ix_channels_summary", "channels", _OLD_SUMMARY, **ACTIVE)
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("attention")
