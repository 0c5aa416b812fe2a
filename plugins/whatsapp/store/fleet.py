"""Read models for people: channel status with its registration summary, history, fleet counts.

The SQL of the fleet table lives in :mod:`whatsapp.store.fleet_listing` as functions over a
connection; the methods here only open one and call them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from whatsapp.store import fleet_listing
from whatsapp.store.base import StoreBase, check_error_from, utcnow
from whatsapp.store.fleet_listing import FleetOverview, FleetPage, FleetQuery
from whatsapp.store.models import ChannelStatus, FleetSummary, HealthCheck
from whatsapp.store.schema import HEALTH_COLUMNS, channels, fleet_summaries, health_checks


class FleetMixin(StoreBase):
    def channel_status(
        self, account_id: int, inbox_id: int, *, now: datetime | None = None
    ) -> ChannelStatus | None:
        """One channel as the health API shows it, or None."""
        where = (channels.c.account_id == account_id, channels.c.inbox_id == inbox_id)
        with self._connect() as conn:
            found = fleet_listing.select_statuses(conn, where, (), now=utcnow(now))
        return found[0] if found else None

    def fleet_status(self, *, now: datetime | None = None) -> list[ChannelStatus]:
        """Every channel (active or not) by account and inbox: the CLI's whole-fleet table.

        Pages of the fleet (the API, the health page) come from :meth:`list_fleet` instead.
        """
        order = fleet_listing.SORTS["account"]("asc")
        with self._connect() as conn:
            return fleet_listing.select_statuses(conn, (), order, now=utcnow(now))

    def list_fleet(self, query: FleetQuery, *, now: datetime | None = None) -> FleetPage:
        """One page of the filtered, sorted fleet and the filtered total (see ``fleet_listing``)."""
        with self._connect() as conn:
            return fleet_listing.list_fleet(conn, query, utcnow(now))

    def fleet_overview(self, query: FleetQuery, *, now: datetime | None = None) -> FleetOverview:
        """The page, the live counts and the last saved summary, read on one connection."""
        with self._connect() as conn:
            return fleet_listing.fleet_overview(conn, query, utcnow(now))

    def history(self, channel_id: int, *, limit: int = 50) -> list[HealthCheck]:
        """The channel's health checks, newest first."""
        query = (
            select(health_checks)
            .where(health_checks.c.channel_id == channel_id)
            .order_by(health_checks.c.checked_at.desc(), health_checks.c.id.desc())
            .limit(limit)
        )
        with self._connect() as conn:
            return [
                HealthCheck(
                    channel_id=row.channel_id,
                    checked_at=row.checked_at,
                    fields={name: getattr(row, name) for name in HEALTH_COLUMNS},
                    provisioning=row.provisioning,
                    error=check_error_from(row),
                )
                for row in conn.execute(query)
            ]

    def fleet_counts(self) -> dict[str, Any]:
        """Counts of active channels by state (one grouped query; see ``fleet_listing.fleet_counts``)."""
        with self._connect() as conn:
            return fleet_listing.fleet_counts(conn)

    def save_fleet_summary(self, counts: dict[str, Any], *, now: datetime | None = None) -> FleetSummary:
        summary = FleetSummary(created_at=utcnow(now), counts=counts)
        with self._transaction() as conn:
            conn.execute(insert(fleet_summaries).values(created_at=summary.created_at, counts=counts))
        return summary

    def latest_fleet_summary(self) -> FleetSummary | None:
        with self._connect() as conn:
            return fleet_listing.latest_fleet_summary(conn)
