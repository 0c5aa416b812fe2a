"""The weekly signup-to-registered figures: ISO weeks in UTC, the closest signup, median and p90."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from whatsapp.domain.trend import (
    MAX_TREND_WEEKS,
    SignupRegistration,
    WeekFigures,
    latest_signups,
    quantile,
    week_start,
    weekly_figures,
    weeks_back,
)

HOUR = timedelta(hours=1)
#: A Wednesday; its ISO week starts on Monday 2026-11-30.
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _took(channel_id: int, registered_at: datetime, hours: float) -> SignupRegistration:
    return SignupRegistration(channel_id, registered_at - timedelta(hours=hours), registered_at)


@pytest.mark.parametrize(
    ("moment", "monday"),
    [
        (datetime(2026, 11, 30, 0, 0, tzinfo=UTC), date(2026, 11, 30)),  # Monday 00:00 starts it
        (datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC), date(2026, 11, 23)),  # Sunday ends the last
        (datetime(2026, 12, 6, 23, 0, tzinfo=UTC), date(2026, 11, 30)),
        # Monday 01:00 in Berlin is still Sunday in UTC: weeks are UTC weeks.
        (datetime(2026, 11, 30, 1, 0, tzinfo=timezone(timedelta(hours=2))), date(2026, 11, 23)),
        (datetime(2027, 1, 1, 9, 0, tzinfo=UTC), date(2026, 12, 28)),  # across the year
    ],
)
def test_week_start_is_the_utc_monday(moment: datetime, monday: date) -> None:
    assert week_start(moment) == monday


def test_week_start_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        week_start(datetime(2026, 12, 2))


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 0.5, 5.0),
        ([5.0], 0.9, 5.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([1.0, 2.0, 3.0], 0.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),  # position 2.7: 3 + 0.7 * (4 - 3)
        ([float(n) for n in range(1, 11)], 0.9, 9.1),  # 1..10: position 8.1
        ([float(n) for n in range(1, 12)], 0.9, 10.0),  # 1..11: position exactly 9
        ([2.0, 2.0, 2.0], 0.9, 2.0),
        ([1.0, 9.0], 0.0, 1.0),
        ([1.0, 9.0], 1.0, 9.0),
    ],
)
def test_quantile_interpolates_like_percentile_cont(values: list[float], q: float, expected: float) -> None:
    assert quantile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "q"), [([], 0.5), ([1.0], -0.1), ([1.0], 1.5)])
def test_quantile_refuses_nothing_and_out_of_range(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        quantile(values, q)


@pytest.mark.parametrize(
    ("weeks", "first"), [(1, date(2026, 11, 30)), (2, date(2026, 11, 23)), (8, date(2026, 10, 12))]
)
def test_weeks_back_starts_on_a_monday_at_midnight(weeks: int, first: date) -> None:
    since = weeks_back(NOW, weeks)
    assert since == datetime(first.year, first.month, first.day, tzinfo=UTC)


@pytest.mark.parametrize("weeks", [0, MAX_TREND_WEEKS + 1])
def test_weeks_back_is_bounded(weeks: int) -> None:
    with pytest.raises(ValueError, match="weeks"):
        weeks_back(NOW, weeks)


def test_two_signups_before_one_registration_count_once_from_the_later() -> None:
    registered = NOW - HOUR
    rows = [_took(1, registered, 50), _took(1, registered, 2), _took(2, registered, 7)]
    kept = latest_signups(rows)
    assert [(row.channel_id, row.seconds) for row in kept] == [(1, 2 * 3600), (2, 7 * 3600)]


def test_weekly_figures_bucket_by_registration_week_with_empty_weeks() -> None:
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    rows = [
        # This week: 1, 2, 3, 4 hours (median 2.5 h, p90 3.7 h).
        *(_took(n, monday + timedelta(days=1, minutes=n), n) for n in (1, 2, 3, 4)),
        # Two weeks back: one registration of 30 hours, signed up in the week before it.
        _took(9, monday - timedelta(days=14) + HOUR, 30),
        # Before the first week asked for: ignored.
        _took(10, monday - timedelta(days=30), 1),
    ]
    figures = weekly_figures(rows, since=weeks_back(NOW, 3), now=NOW)
    assert figures == [
        WeekFigures(date(2026, 11, 16), 1, 30 * 3600.0, 30 * 3600.0),
        WeekFigures(date(2026, 11, 23), 0, None, None),
        WeekFigures(date(2026, 11, 30), 4, pytest.approx(2.5 * 3600), pytest.approx(3.7 * 3600)),
    ]


def test_a_registration_on_sunday_night_belongs_to_that_week() -> None:
    sunday_night = datetime(2026, 11, 29, 23, 59, tzinfo=UTC)
    figures = weekly_figures([_took(1, sunday_night, 1)], since=weeks_back(NOW, 2), now=NOW)
    assert [(week.week_start, week.registrations) for week in figures] == [
        (date(2026, 11, 23), 1),
        (date(2026, 11, 30), 0),
    ]


def test_no_rows_give_every_week_empty() -> None:
    figures = weekly_figures([], since=weeks_back(NOW, 4), now=NOW)
    assert len(figures) == 4
    assert all(week.registrations == 0 and week.median_seconds is None for week in figures)


def test_since_after_now_is_refused() -> None:
    with pytest.raises(ValueError, match="after"):
        weekly_figures([], since=NOW + timedelta(days=8), now=NOW)
