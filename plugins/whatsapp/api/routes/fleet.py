"""The fleet table with filters by state, sort and paging, and the counts the health page shows.

Filtering, sorting, paging and counting run in SQL (``whatsapp.store.fleet_listing``), so a page
costs the same at 100 channels as at 100,000.

Threads: the API server also serves Airflow's UI, public API and the execution API its workers
call, from one event loop and one shared thread pool (40 threads, one interpreter, one GIL). A
sync route would take one of those threads per request, so twenty concurrent fleet requests
would crowd out Airflow's own sync routes (``/api/v2/monitor/health`` among them). The route is
therefore ``async``: its blocking work (connection lookup, queries, row mapping, JSON encoding)
runs in the shared pool but behind a small limiter of its own, so at most
:data:`LISTING_THREADS` fleet requests hold a thread and a store connection at once; the rest
wait on the event loop at no cost to anyone else. Measured with ``bench/fleet_api.py`` (100,000
channels, 20 concurrent clients, one API worker, 2 shared cores): as a sync route, Airflow's
health answered in 320 ms median / 728 ms p95; with this limiter, 18 ms / 34 ms.

The CSV export streams: each chunk of rows (a server-side cursor's next 1,000) is read and
encoded in a thread behind the same limiter, one chunk per turn, so an export of the whole fleet
holds one chunk in memory and never holds a thread while the client reads what it was sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Annotated

from airflow.api_fastapi.common.dagbag import DagBagDep
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.utils.session import create_session
from anyio import CancelScope, CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from whatsapp.api.deps import StoreDep, channel_store
from whatsapp.api.fleet_csv import MEDIA_TYPE, csv_chunks
from whatsapp.api.fleet_schedule import fleet_paused, fleet_schedule
from whatsapp.api.models import (
    FleetExportParams,
    FleetParams,
    FleetResponse,
    FleetSchedule,
    FleetSummaryResponse,
    LastAudit,
)
from whatsapp.store import FleetSummary, channel_api_dict
from whatsapp.store.database import utcnow
from whatsapp.store.fleet_listing import FleetQuery
from whatsapp.store.views import isoformat

router = APIRouter(tags=["fleet"])

#: Fleet requests served at once per API server worker process (the others queue, threadless).
LISTING_THREADS = 2
_limiter: RunVar[CapacityLimiter] = RunVar("whatsapp_fleet_limiter")


def listing_limiter() -> CapacityLimiter:
    """One limiter per event loop (as anyio keeps its own default one), created on first use;
    shared by every fleet route (the listing, the card's summary, the trend)."""
    try:
        return _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(LISTING_THREADS)
        _limiter.set(limiter)
        return limiter


def _last_audit(summary: FleetSummary | None) -> LastAudit | None:
    return summary and LastAudit(created_at=isoformat(summary.created_at), counts=summary.counts)


def _fleet_json(query: FleetQuery) -> bytes:
    """The whole response body, built in a worker thread: queries, validation and JSON encoding."""
    overview = channel_store().fleet.overview(query)
    with create_session() as session:  # the words of a paused fleet say it retries nothing
        paused = fleet_paused(session)
    response = FleetResponse.model_validate(
        {
            "total": overview.page.total,
            "channels": [channel_api_dict(status, fleet_paused=paused) for status in overview.page.rows],
            "counts": overview.counts,
            "last_audit": _last_audit(overview.last_summary),
        }
    )
    return response.model_dump_json().encode()


def _summary_json() -> bytes:
    """The dashboard card's body: the live counts (one grouped query) and the last audit."""
    counts, summary = channel_store().fleet.counts_and_summary()
    response = FleetSummaryResponse(
        total=counts["channels"],
        needs_action=counts["needs_action"],
        counts=counts,
        last_audit=_last_audit(summary),
    )
    return response.model_dump_json().encode()


@router.get("/fleet", response_model=FleetResponse)
async def get_fleet(params: Annotated[FleetParams, Query()]) -> Response:
    """A page of channels, filtered by state, situation or text and sorted; counts cover every
    active channel (by state and by situation, and how many need a person).

    ``total`` counts every channel the filters match (before ``limit``/``offset``); ``counts``
    are live (one grouped query), so they always agree with the table; ``last_audit`` is what
    the fleet DAG's summary task saved, to show when the fleet was last checked.
    """
    body = await to_thread.run_sync(_fleet_json, params.to_query(), limiter=listing_limiter())
    return Response(body, media_type="application/json")


@router.get("/fleet/summary", response_model=FleetSummaryResponse)
async def get_fleet_summary() -> Response:
    """Counts for Airflow's home dashboard card: active channels, how many need a person, by
    situation and state, and when the fleet DAG last audited (same limiter as the listing)."""
    body = await to_thread.run_sync(_summary_json, limiter=listing_limiter())
    return Response(body, media_type="application/json")


def _open_export(query: FleetQuery) -> tuple[bytes, Iterator[bytes]]:
    """The CSV's first chunk (header and first rows) and the rest, lazily: a store that cannot
    answer fails here, before the response starts, as a 503 like any other route's."""
    chunks = csv_chunks(channel_store().fleet.export(query))
    return next(chunks), chunks


@router.get(
    "/fleet/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per channel, a header first"}},
)
async def export_fleet(params: Annotated[FleetExportParams, Query()]) -> StreamingResponse:
    """Every channel the filters match (the same filters and sort as ``GET /fleet``; no page), as
    CSV: ids, number, display name, state, situation, quality, status, messaging limit, times."""
    limiter = listing_limiter()
    first, chunks = await to_thread.run_sync(_open_export, params.to_query(), limiter=limiter)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            while (chunk := await to_thread.run_sync(next, chunks, None, limiter=limiter)) is not None:
                yield chunk
        finally:  # also when the client went away: give the connection back without blocking the loop
            with CancelScope(shield=True):
                await to_thread.run_sync(chunks.close)

    filename = f"whatsapp-fleet-{utcnow().strftime('%Y%m%dT%H%M%SZ')}.csv"
    return StreamingResponse(
        body(), media_type=MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/fleet/schedule", response_model=FleetSchedule)
def get_fleet_schedule(store: StoreDep, session: SessionDep, dag_bag: DagBagDep) -> FleetSchedule:
    """When the fleet DAG acts next: paused or not, its next run and interval (the page's "next
    try" is the first run at or after a channel's backoff), and whether its last audit is overdue
    (older than two intervals)."""
    summary = store.fleet.latest_summary()
    return fleet_schedule(session, dag_bag, summary.created_at if summary else None, datetime.now(UTC))
