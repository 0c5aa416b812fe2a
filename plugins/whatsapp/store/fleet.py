"""Read models for people: channel status with its registration summary, history, fleet counts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, func, insert, select

from whatsapp.domain.registration import REGISTER_WINDOW
from whatsapp.store.channels import PUBLIC_CHANNEL_COLUMNS, channel_from_row
from whatsapp.store.database import Database, utcnow
from whatsapp.store.models import (
    ATTEMPT_SUCCESS,
    ChannelStatus,
    CheckError,
    FleetSummary,
    RegistrationSummary,
)
from whatsapp.store.schema import (
    channels,
    fleet_summaries,
    registration_attempts,
)

#: The dimensions of the fleet summary, as (summary key, channel column); NULL counts as "none".
SUMMARY_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("provisioning", "provisioning"),
    ("registration_state", "registration_state"),
    ("reauthorization_reason", "reauthorization_reason"),
    ("quality_rating", "quality_rating"),
)


def _status_from_row(row: Row[Any]) -> ChannelStatus:
    channel = channel_from_row(row)
    last_error = None
    if row.last_outcome is not None and row.last_outcome != ATTEMPT_SUCCESS:
        last_error = CheckError(row.last_outcome, row.last_code, row.last_subcode, row.last_message)
    return ChannelStatus(
        channel,
        RegistrationSummary(
            state=channel.registration_state,
            attempts_72h=row.attempts_72h or 0,
            last_attempt_at=row.last_attempt_at,
            last_error=last_error,
            next_attempt_at=channel.next_attempt_at,
        ),
    )


class FleetRepository:
    """Read models over the whole fleet, and the ``fleet_summaries`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _statuses(self, now: datetime, *conditions: ColumnElement[bool]) -> list[ChannelStatus]:
        """Channels joined with their attempt count in the window and their last attempt (one query)."""
        per_channel = (
            select(
                registration_attempts.c.channel_id,
                func.count()
                .filter(registration_attempts.c.attempted_at > now - REGISTER_WINDOW)
                .label("attempts_72h"),
                func.max(registration_attempts.c.id).label("last_id"),
            )
            .group_by(registration_attempts.c.channel_id)
            .subquery("per_channel")
        )
        last = registration_attempts.alias("last_attempt")
        query = (
            select(
                *PUBLIC_CHANNEL_COLUMNS,
                per_channel.c.attempts_72h,
                last.c.attempted_at.label("last_attempt_at"),
                last.c.outcome.label("last_outcome"),
                last.c.code.label("last_code"),
                last.c.subcode.label("last_subcode"),
                last.c.message.label("last_message"),
            )
            .select_from(channels)
            .outerjoin(per_channel, per_channel.c.channel_id == channels.c.id)
            .outerjoin(last, last.c.id == per_channel.c.last_id)
            .where(*conditions)
            .order_by(channels.c.account_id, channels.c.inbox_id)
        )
        with self.db.connect() as conn:
            return [_status_from_row(row) for row in conn.execute(query)]

    def channel_status(
        self, account_id: int, inbox_id: int, *, now: datetime | None = None
    ) -> ChannelStatus | None:
        """One channel as the health API shows it, or None."""
        found = self._statuses(
            utcnow(now), channels.c.account_id == account_id, channels.c.inbox_id == inbox_id
        )
        return found[0] if found else None

    def statuses(self, *, now: datetime | None = None) -> list[ChannelStatus]:
        """Every channel (active or not) by account and inbox, for the fleet table."""
        return self._statuses(utcnow(now))

    def counts(self) -> dict[str, Any]:
        """Counts of active channels by provisioning, registration state, reauthorization reason, quality.

        One grouped query; the shape is what the summary task returns and the health page shows.
        """
        columns = [channels.c[column] for _, column in SUMMARY_DIMENSIONS]
        query = select(*columns, func.count()).where(channels.c.active.is_(True)).group_by(*columns)
        counters: dict[str, Counter[str]] = {key: Counter() for key, _ in SUMMARY_DIMENSIONS}
        total = 0
        with self.db.connect() as conn:
            for *values, count in conn.execute(query):
                total += count
                for (key, _), value in zip(SUMMARY_DIMENSIONS, values, strict=True):
                    counters[key][value or "none"] += count
        return {"channels": total, **{key: dict(sorted(c.items())) for key, c in counters.items()}}

    def save_summary(self, counts: dict[str, Any], *, now: datetime | None = None) -> FleetSummary:
        summary = FleetSummary(created_at=utcnow(now), counts=counts)
        with self.db.transaction() as conn:
            conn.execute(insert(fleet_summaries).values(created_at=summary.created_at, counts=counts))
        return summary

    def latest_summary(self) -> FleetSummary | None:
        query = select(fleet_summaries).order_by(
            fleet_summaries.c.created_at.desc(), fleet_summaries.c.id.desc()
        )
        with self.db.connect() as conn:
            row = conn.execute(query.limit(1)).one_or_none()
        return None if row is None else FleetSummary(created_at=row.created_at, counts=row.counts)
