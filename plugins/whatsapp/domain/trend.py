"""The fleet's trend: how long a signup takes to become a registered number, week by week.

The health page and the dashboard card chart the saved fleet summaries (needs action, healthy)
and, per week, the median and 90th percentile of the time from a signup reaching the intake to
Meta accepting the number's first register call after it. The store reads the rows; this module
buckets them and computes the figures, so the rules are tested without a database.

Weeks are ISO weeks in UTC (Monday 00:00 UTC to the next Monday): a figure belongs to one
calendar week whoever looks at it, whatever their time zone. A registration counts in the week
it completed, so a past week's figures never change once it is over.

Pure: no Airflow, no HTTP, no SQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

#: The most days of saved summaries one trend request reads: the fleet DAG's default
#: ``history_days`` (older summaries are pruned with the health history).
MAX_TREND_DAYS = 90
#: Summaries one trend request returns at most (the newest): an hourly fleet DAG over
#: :data:`MAX_TREND_DAYS`. Manual runs on top of the hourly ones cut the oldest points off.
MAX_TREND_POINTS = 24 * MAX_TREND_DAYS
#: The most weeks of signup-to-registered figures one request computes.
MAX_TREND_WEEKS = 26

WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SignupRegistration:
    """One signup of a channel and the first successful register call at or after it."""

    channel_id: int
    signed_up_at: datetime
    registered_at: datetime

    @property
    def seconds(self) -> float:
        return (self.registered_at - self.signed_up_at).total_seconds()


@dataclass(frozen=True, slots=True)
class WeekFigures:
    """One ISO week (UTC): registrations completed in it and how long they took since signup."""

    week_start: date
    registrations: int
    median_seconds: float | None
    p90_seconds: float | None


def week_start(moment: datetime) -> date:
    """The Monday (UTC) of the ISO week holding ``moment``, an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"need an aware datetime, got {moment!r}")
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def weeks_back(now: datetime, weeks: int) -> datetime:
    """Monday 00:00 UTC of the earliest of the ``weeks`` ISO weeks ending with ``now``'s week."""
    if not 1 <= weeks <= MAX_TREND_WEEKS:
        raise ValueError(f"weeks must be between 1 and {MAX_TREND_WEEKS}, got {weeks}")
    first = week_start(now) - (weeks - 1) * WEEK
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


def quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated linearly between the two closest ranks.

    The same definition as PostgreSQL's ``percentile_cont`` and numpy's default, so a figure on the
    page can be checked with either.
    """
    if not ordered:
        raise ValueError("no values")
    if not 0 <= q <= 1:
        raise ValueError(f"q must be between 0 and 1, got {q}")
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latest_signups(rows: Iterable[SignupRegistration]) -> list[SignupRegistration]:
    """One row per registration: the signup closest before it.

    A customer who went through Embedded Signup twice before the number registered has two
    signups whose first registration after is the same call; the later signup led to it.
    """
    by_registration: dict[tuple[int, datetime], SignupRegistration] = {}
    for row in rows:
        key = (row.channel_id, row.registered_at)
        kept = by_registration.get(key)
        if kept is None or row.signed_up_at > kept.signed_up_at:
            by_registration[key] = row
    return sorted(by_registration.values(), key=lambda row: (row.registered_at, row.channel_id))


def weekly_figures(
    rows: Iterable[SignupRegistration], *, since: datetime, now: datetime
) -> list[WeekFigures]:
    """Every ISO week from ``since``'s to ``now``'s, oldest first, with the count, median and p90
    of the signup-to-registered times completed in it (``None`` figures for a week without any).

    ``rows`` may hold several signups per registration (see :func:`latest_signups`); rows outside
    the weeks are ignored.
    """
    first, last = week_start(since), week_start(now)
    if first > last:
        raise ValueError(f"since ({since}) is after now ({now})")
    seconds: dict[date, list[float]] = {}
    for row in latest_signups(rows):
        week = week_start(row.registered_at)
        if first <= week <= last:
            seconds.setdefault(week, []).append(row.seconds)
    figures = []
    week = first
    while week <= last:
        values = sorted(seconds.get(week, ()))
        figures.append(
            WeekFigures(
                week_start=week,
                registrations=len(values),
                median_seconds=quantile(values, 0.5) if values else None,
                p90_seconds=quantile(values, 0.9) if values else None,
            )
        )
        week += WEEK
    return figures
