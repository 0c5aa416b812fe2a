"""``GET /whatsapp/api/v1/fleet/trend``: the saved summaries as a series and the weekly
signup-to-registered figures, for every Airflow user; its bounds refused with 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.store.helpers import add_channel
from tests.support.trend_seed import add_attempt, add_signup, summary_counts
from whatsapp.domain.trend import MAX_TREND_DAYS, MAX_TREND_WEEKS, week_start
from whatsapp.store import ChannelStore

TREND = "/whatsapp/api/v1/fleet/trend"
HOUR = timedelta(hours=1)


def test_series_and_weekly_figures(
    api_client: TestClient, bearer: dict[str, dict[str, str]], pg_store_env: ChannelStore
) -> None:
    now = datetime.now(UTC)
    # 30 hourly summaries, 10 minutes past each hour back: the oldest 6 are outside days=1.
    for hours_ago in range(30, 0, -1):
        store_counts = summary_counts(10, hours_ago % 4, 10 - hours_ago % 4)
        pg_store_env.fleet.save_summary(store_counts, now=now - hours_ago * HOUR + timedelta(minutes=10))
    # Last week (always wholly in the past): registrations 2, 4 and 9 hours after their signups.
    tuesday = datetime.combine(week_start(now) - timedelta(days=6), datetime.min.time(), UTC)
    for n, hours in enumerate((2, 4, 9), start=1):
        channel = add_channel(pg_store_env, n)
        add_signup(pg_store_env, f"s{n}", tuesday - hours * HOUR, channel.phone_number_id)
        add_attempt(pg_store_env, channel.id, tuesday)

    # Any Airflow user reads it (the page and the dashboard card show it to everyone).
    response = api_client.get(f"{TREND}?days=1&weeks=3", headers=bearer["viewer"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["needs_action"] for p in body["points"]] == [h % 4 for h in range(24, 0, -1)]
    assert {(p["total"], p["healthy"] + p["needs_action"]) for p in body["points"]} == {(10, 10)}
    assert all(p["time"].endswith("Z") for p in body["points"])
    assert [w["week_start"] for w in body["weeks"]] == [
        (week_start(now) - timedelta(days=7 * k)).isoformat() for k in (2, 1, 0)
    ]
    assert [(w["registrations"], w["median_seconds"], w["p90_seconds"]) for w in body["weeks"]] == [
        (0, None, None),
        (3, 4 * 3600.0, pytest.approx(8 * 3600.0)),  # p90 of 2, 4, 9 h: position 1.8 → 4 + 0.8 * 5
        (0, None, None),
    ]
    # The defaults: 14 days, 8 weeks.
    body = api_client.get(TREND, headers=bearer["admin"]).json()
    assert (len(body["points"]), len(body["weeks"])) == (30, 8)


@pytest.mark.parametrize(
    "query",
    [
        "days=0",
        f"days={MAX_TREND_DAYS + 1}",
        "weeks=0",
        f"weeks={MAX_TREND_WEEKS + 1}",
        "days=two",
        "weeks=1.5",
    ],
)
def test_bounds_are_422(
    api_client: TestClient, bearer: dict[str, dict[str, str]], pg_store_env: ChannelStore, query: str
) -> None:
    response = api_client.get(f"{TREND}?{query}", headers=bearer["admin"])
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", query.split("=")[0]]


def test_empty_store(
    api_client: TestClient, bearer: dict[str, dict[str, str]], pg_store_env: ChannelStore
) -> None:
    body = api_client.get(f"{TREND}?weeks=2", headers=bearer["admin"]).json()
    assert body["points"] == []
    assert [w["registrations"] for w in body["weeks"]] == [0, 0]
