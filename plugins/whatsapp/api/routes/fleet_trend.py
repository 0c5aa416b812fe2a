"""The fleet over time: ``GET /fleet/trend`` for the health page's and the dashboard card's chart.

Async behind the fleet routes' limiter (see :mod:`whatsapp.api.routes.fleet`): two bounded
queries and the weekly figures run in the shared thread pool, at most ``LISTING_THREADS`` fleet
requests at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Response

from whatsapp.api.deps import channel_store
from whatsapp.api.models import FleetTrendParams, FleetTrendPoint, FleetTrendResponse, SignupWeek
from whatsapp.api.routes.fleet import listing_limiter
from whatsapp.domain.trend import MAX_TREND_POINTS, weekly_figures, weeks_back
from whatsapp.store.database import utcnow
from whatsapp.store.views import isoformat

router = APIRouter(tags=["fleet"])


def _trend_json(days: int, weeks: int) -> bytes:
    """The whole response body, built in a worker thread."""
    now = utcnow()
    registered_since = weeks_back(now, weeks)
    points, registrations = channel_store().fleet.trend(
        since=now - timedelta(days=days), limit=MAX_TREND_POINTS, registered_since=registered_since, now=now
    )
    response = FleetTrendResponse(
        points=[
            FleetTrendPoint(
                time=isoformat(point.created_at),
                total=point.total,
                needs_action=point.needs_action,
                healthy=point.healthy,
            )
            for point in points
        ],
        weeks=[
            SignupWeek(
                week_start=week.week_start.isoformat(),
                registrations=week.registrations,
                median_seconds=week.median_seconds,
                p90_seconds=week.p90_seconds,
            )
            for week in weekly_figures(registrations, since=registered_since, now=now)
        ],
    )
    return response.model_dump_json().encode()


@router.get("/fleet/trend", response_model=FleetTrendResponse)
async def get_fleet_trend(params: Annotated[FleetTrendParams, Query()]) -> Response:
    """Needs action, healthy and active channels at each fleet summary of the last ``days`` days,
    and per ISO week (UTC) of the last ``weeks`` the median and 90th percentile of the time from a
    signup reaching the intake to Meta accepting its number's first register call after it.

    WhatsApp Business app numbers (never registered), numbers that were registered before they
    were onboarded and signups that bypassed the intake are not in the weekly figures.
    """
    body = await to_thread.run_sync(_trend_json, params.days, params.weeks, limiter=listing_limiter())
    return Response(body, media_type="application/json")
