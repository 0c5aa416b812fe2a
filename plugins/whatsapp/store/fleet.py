"""Read models for people: one channel's status, the fleet table and counts, the saved summaries.

The SQL of the fleet table lives in :mod:`whatsapp.store.fleet_listing` as functions over a
connection; this repository only opens one and calls them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from whatsapp.domain.trend import SignupRegistration
from whatsapp.store import fleet_listing, fleet_trend
from whatsapp.store.database import Database, utcnow
from whatsapp.store.fleet_listing import FleetOverview, FleetPage, FleetQuery
from whatsapp.store.fleet_trend import TrendPoint
from whatsapp.store.models import ChannelStatus, DueChannel, FleetSummary
from whatsapp.store.schema import channels, fleet_summaries


class FleetRepository:
    """Read models over the whole fleet, and the ``fleet_summaries`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def channel_status(
        self, account_id: int, inbox_id: int, *, now: datetime | None = None
    ) -> ChannelStatus | None:
        """One channel as the health API shows it, or None."""
        where = (channels.c.account_id == account_id, channels.c.inbox_id == inbox_id)
        with self.db.connect() as conn:
            found = fleet_listing.select_statuses(conn, where, (), now=utcnow(now))
        return found[0] if found else None

    def statuses(self, *, now: datetime | None = None) -> list[ChannelStatus]:
        """Every channel (active or not) by account and inbox: the CLI's whole-fleet table.

        Pages of the fleet (the API, the health page) come from :meth:`page` instead.
        """
        order = fleet_listing.SORTS["account"]("asc")
        with self.db.connect() as conn:
            return fleet_listing.select_statuses(conn, (), order, now=utcnow(now))

    def page(self, query: FleetQuery, *, now: datetime | None = None) -> FleetPage:
        """One page of the filtered, sorted fleet and the filtered total (see ``fleet_listing``)."""
        with self.db.connect() as conn:
            return fleet_listing.list_fleet(conn, query, utcnow(now))

    def overview(self, query: FleetQuery, *, now: datetime | None = None) -> FleetOverview:
        """The page, the live counts and the last saved summary, read on one connection."""
        with self.db.connect() as conn:
            return fleet_listing.fleet_overview(conn, query, utcnow(now))

    def count(self, query: FleetQuery) -> int:
        """How many channels ``query``'s filters match (one indexed ``count(*)``)."""
        with self.db.connect() as conn:
            return fleet_listing.count_matching(conn, query)

    def selection(self, query: FleetQuery, *, limit: int) -> list[DueChannel]:
        """The channels ``query``'s filters match, in its order, at most ``limit`` (ids only)."""
        with self.db.connect() as conn:
            return fleet_listing.select_refs(conn, query, limit=limit)

    def selection_of(self, pairs: Sequence[tuple[int, int]]) -> list[DueChannel]:
        """The channels named by ``(account_id, inbox_id)``, in that order; unknown ones left out."""
        with self.db.connect() as conn:
            return fleet_listing.refs_of(conn, pairs)

    def statuses_of(self, channel_ids: Sequence[int], *, now: datetime | None = None) -> list[ChannelStatus]:
        """These channels as the health API shows them (a few hundred at most), by id."""
        order = (channels.c.id.asc(),)
        with self.db.connect() as conn:
            return fleet_listing.select_statuses(
                conn, (channels.c.id.in_(sorted(set(channel_ids))),), order, now=utcnow(now)
            )

    def counts(self) -> dict[str, Any]:
        """Counts of active channels by state and situation (one grouped query; see ``fleet_counts``)."""
        with self.db.connect() as conn:
            return fleet_listing.fleet_counts(conn)

    def counts_and_summary(self) -> tuple[dict[str, Any], FleetSummary | None]:
        """The live counts and the last saved summary, on one connection (the dashboard card)."""
        with self.db.connect() as conn:
            return fleet_listing.fleet_counts(conn), fleet_listing.latest_fleet_summary(conn)

    def save_summary(self, counts: dict[str, Any], *, now: datetime | None = None) -> FleetSummary:
        summary = FleetSummary(created_at=utcnow(now), counts=counts)
        with self.db.transaction() as conn:
            conn.execute(insert(fleet_summaries).values(created_at=summary.created_at, counts=counts))
        return summary

    def latest_summary(self) -> FleetSummary | None:
        with self.db.connect() as conn:
            return fleet_listing.latest_fleet_summary(conn)

    def trend(
        self, *, since: datetime, limit: int, registered_since: datetime, now: datetime | None = None
    ) -> tuple[list[TrendPoint], list[SignupRegistration]]:
        """The saved summaries since ``since`` (the newest ``limit``) and the signups matched to
        the registrations completed since ``registered_since``, on one connection (see ``fleet_trend``)."""
        with self.db.connect() as conn:
            return (
                fleet_trend.summary_series(conn, since=since, limit=limit),
                fleet_trend.signup_registrations(conn, since=registered_since, until=utcnow(now)),
            )
