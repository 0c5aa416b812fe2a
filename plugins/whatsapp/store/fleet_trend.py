"""The fleet's trend in SQL: the saved summaries as a series, and signups matched to registrations.

Two bounded reads for ``GET /fleet/trend`` (the figures are computed by
:mod:`whatsapp.domain.trend`):

* :func:`summary_series` reads three numbers out of each saved summary's ``counts`` JSON (the
  shape of :func:`~whatsapp.store.fleet_listing.counts_of`) in SQL, on PostgreSQL (``jsonb``
  paths) and SQLite (``json_extract``), so a 90-day series never loads the summaries' JSON.
  ``fleet_summaries`` has no index on ``created_at``; it holds one row per fleet run and is pruned
  with the health history (``history_days``), so the scan stays a few thousand rows.
* :func:`signup_registrations` pairs each signup the intake received with the first register call
  Meta accepted for its number at or after it, for the registrations completed in a time range.
  Signups are matched by phone number id (the intake's, or the one the code's exchange found).
  Numbers that stay in the WhatsApp Business app never get a register call, so they never count;
  nor do channels whose number was already registered when it was onboarded (no call needed),
  nor signups that did not come through the intake (a raw ``dag.test()`` or CLI conf).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, exists, func, select

from whatsapp.domain.situations import SituationKind
from whatsapp.domain.trend import SignupRegistration
from whatsapp.store.models import ATTEMPT_SUCCESS
from whatsapp.store.schema import channels, fleet_summaries, registration_attempts, signup_intake, signups


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One saved fleet summary: active channels, how many need a person, how many are healthy.

    ``needs_action`` or ``healthy`` is None for a summary saved before its counts held that number.
    """

    created_at: datetime
    total: int
    needs_action: int | None
    healthy: int | None


def summary_series(conn: Connection, *, since: datetime, limit: int) -> list[TrendPoint]:
    """The newest ``limit`` summaries saved at or after ``since``, oldest first."""
    counts = fleet_summaries.c.counts
    query = (
        select(
            fleet_summaries.c.created_at,
            counts["channels"].as_integer().label("total"),
            counts["needs_action"].as_integer().label("needs_action"),
            counts[("situation", SituationKind.HEALTHY.value)].as_integer().label("healthy"),
        )
        .where(fleet_summaries.c.created_at >= since)
        .order_by(fleet_summaries.c.created_at.desc(), fleet_summaries.c.id.desc())
        .limit(limit)
    )
    rows = conn.execute(query).all()
    return [
        TrendPoint(row.created_at, row.total or 0, row.needs_action, row.healthy) for row in reversed(rows)
    ]


def signup_registrations(conn: Connection, *, since: datetime, until: datetime) -> list[SignupRegistration]:
    """Signups paired with the first successful register call after each, for the calls made in
    ``[since, until)``; a call preceded by several signups of its number comes once per signup
    (:func:`whatsapp.domain.trend.latest_signups` keeps the closest).

    Driven by the successful calls in the range; the "no earlier success since the signup" check
    uses ``ix_registration_attempts_channel_at``. A number re-registered later (a display-name
    change) therefore counts once, at its first registration after the signup.
    """
    phone = func.coalesce(signup_intake.c.phone_number_id, signups.c.phone_number_id)
    success = registration_attempts.alias("success")
    earlier = registration_attempts.alias("earlier")
    earlier_success = exists().where(
        earlier.c.channel_id == success.c.channel_id,
        earlier.c.outcome == ATTEMPT_SUCCESS,
        earlier.c.attempted_at >= signup_intake.c.received_at,
        earlier.c.attempted_at < success.c.attempted_at,
    )
    query = (
        select(
            success.c.channel_id,
            signup_intake.c.received_at,
            success.c.attempted_at,
        )
        .select_from(
            success.join(channels, channels.c.id == success.c.channel_id)
            .join(signup_intake, signup_intake.c.received_at <= success.c.attempted_at)
            .outerjoin(signups, signups.c.code_digest == signup_intake.c.code_digest)
        )
        .where(
            success.c.outcome == ATTEMPT_SUCCESS,
            success.c.attempted_at >= since,
            success.c.attempted_at < until,
            and_(phone.is_not(None), phone == channels.c.phone_number_id),
            ~earlier_success,
        )
    )
    return [
        SignupRegistration(
            channel_id=row.channel_id, signed_up_at=row.received_at, registered_at=row.attempted_at
        )
        for row in conn.execute(query)
    ]
