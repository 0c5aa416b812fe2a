"""The fleet table in SQL: filter, sort, page and count channels without loading the fleet.

At 100,000 channels the health page and the API need one page of 50 rows, a total and the
counts, in well under 100 ms. Everything here is therefore a query over an explicit
``Connection`` (no store object, no hidden state): the filtered set is counted with one indexed
``count(*)``, the page comes from an index in sort order, and registration attempts are
aggregated only for the page's channels (a second query on their ids), never for the fleet.

Extending the listing is one entry in a table: a filter is a :data:`FILTER_COLUMNS` entry plus a
:class:`FleetQuery` field, a sort is a :data:`SORTS` entry. The indexes that keep the default
listing fast are declared in ``schema.py`` (``ix_channels_needs_action*``, ``ix_channels_summary``)
and built from :func:`needs_action_rank`, so the query and its index cannot drift apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Row, false, func, or_, select
from sqlalchemy.sql.elements import UnaryExpression

from whatsapp.domain.registration import REGISTER_WINDOW
from whatsapp.store.channels import PUBLIC_CHANNEL_COLUMNS, channel_from_row
from whatsapp.store.models import (
    ATTEMPT_SUCCESS,
    ChannelStatus,
    CheckError,
    FleetSummary,
    RegistrationSummary,
)
from whatsapp.store.schema import channels, fleet_summaries, needs_action_rank, registration_attempts

#: The word filters and counts use for a missing value (SQL NULL).
NONE = "none"
MAX_LIMIT = 500
#: SQL's OFFSET is a bigint; past the largest row id a page is empty anyway.
MAX_OFFSET = 2**63 - 1
#: Page ids per attempt-aggregate query when a caller lists without a limit (CLI, tests).
_ID_CHUNK = 1000

#: Filterable fields: ``FleetQuery`` field name -> channel column.
FILTER_COLUMNS: dict[str, Any] = {
    "provisioning": channels.c.provisioning,
    "registration_state": channels.c.registration_state,
    "reauthorization_reason": channels.c.reauthorization_reason,
    "quality_rating": channels.c.quality_rating,
    "name_status": channels.c.name_status,
    "status": channels.c.status,
}

#: The dimensions of the fleet summary, as (summary key, channel column); NULL counts as "none".
SUMMARY_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("provisioning", "provisioning"),
    ("registration_state", "registration_state"),
    ("reauthorization_reason", "reauthorization_reason"),
    ("quality_rating", "quality_rating"),
)

Order = Literal["asc", "desc"]


def _ordered(column: ColumnElement[Any], order: Order) -> UnaryExpression[Any]:
    """NULLs last ascending and first descending: PostgreSQL's B-tree order, so both scan directions
    use the index; spelled out so SQLite (NULLs first by default) sorts the same way."""
    return column.asc().nulls_last() if order == "asc" else column.desc().nulls_first()


def _by(*columns: ColumnElement[Any]) -> Callable[[Order], tuple[UnaryExpression[Any], ...]]:
    """A sort on ``columns`` in one direction; each sort ends in a unique key, so paging is stable."""
    return lambda order: tuple(_ordered(column, order) for column in columns)


#: The whitelisted sorts: API ``sort`` value -> ORDER BY builder. Each ends in a unique key
#: (account and inbox, or the id) matching an index, so a page is an index range, not a sort.
SORTS: dict[str, Callable[[Order], tuple[UnaryExpression[Any], ...]]] = {
    "needs_action": _by(needs_action_rank(channels.c), channels.c.account_id, channels.c.inbox_id),
    "account": _by(channels.c.account_id, channels.c.inbox_id),
    "checked_at": _by(channels.c.checked_at, channels.c.id),
    "next_attempt_at": _by(channels.c.next_attempt_at, channels.c.id),
    "display_phone_number": _by(channels.c.display_phone_number, channels.c.id),
}
DEFAULT_SORT = "needs_action"


@dataclass(frozen=True, slots=True)
class FleetQuery:
    """One request for a page of the fleet table.

    Each filter is the tuple of accepted values (empty: no filter); ``"none"`` matches a missing
    value. Filters combine with AND, values within one filter with OR.
    """

    provisioning: tuple[str, ...] = ()
    registration_state: tuple[str, ...] = ()
    reauthorization_reason: tuple[str, ...] = ()
    quality_rating: tuple[str, ...] = ()
    name_status: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    include_inactive: bool = False
    sort: str = DEFAULT_SORT
    order: Order = "asc"
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}; one of {', '.join(SORTS)}")
        if self.order not in ("asc", "desc"):
            raise ValueError(f"order must be 'asc' or 'desc', not {self.order!r}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValueError(f"offset must be within 0 … {MAX_OFFSET}")
        for name in FILTER_COLUMNS:
            if isinstance(getattr(self, name), str):
                raise TypeError(f"{name} is a tuple of values, not a string")

    def filters(self) -> dict[str, tuple[str, ...]]:
        """The active filters, by field name."""
        return {name: getattr(self, name) for name in FILTER_COLUMNS if getattr(self, name)}

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clause of the filtered set (what ``total`` counts)."""
        where = [] if self.include_inactive else [channels.c.active.is_(True)]
        for name, values in self.filters().items():
            where.append(_matches(FILTER_COLUMNS[name], values))
        return where

    def order_by(self) -> tuple[UnaryExpression[Any], ...]:
        return SORTS[self.sort](self.order)


def _matches(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    concrete = sorted({v for v in values if v != NONE})
    options = [column.in_(concrete)] if concrete else []
    if NONE in values:
        options.append(column.is_(None))
    return or_(*options) if options else false()


@dataclass(frozen=True, slots=True)
class FleetPage:
    """A page of the filtered fleet and how many channels the filter matches in total."""

    total: int
    rows: tuple[ChannelStatus, ...]


@dataclass(frozen=True, slots=True)
class FleetOverview:
    """Everything the fleet table shows: the page, the live counts and the last saved summary."""

    page: FleetPage
    counts: dict[str, Any]
    last_summary: FleetSummary | None


def fleet_overview(conn: Connection, query: FleetQuery, now: datetime) -> FleetOverview:
    """The fleet table's data on one connection (one pool checkout and ping per request, not three).

    When the counts already hold the filtered total (no filter, or values of one counted
    dimension, active channels only), it is taken from them instead of counting again.
    """
    counts = fleet_counts(conn)
    page = list_fleet(conn, query, now, total=_total_from_counts(query, counts))
    return FleetOverview(page, counts, latest_fleet_summary(conn))


def _total_from_counts(query: FleetQuery, counts: dict[str, Any]) -> int | None:
    if query.include_inactive:
        return None
    filters = query.filters()
    if not filters:
        return int(counts["channels"])
    if len(filters) == 1:
        ((name, values),) = filters.items()
        if name in counts:
            return sum(counts[name].get(value, 0) for value in set(values))
    return None


def list_fleet(conn: Connection, query: FleetQuery, now: datetime, *, total: int | None = None) -> FleetPage:
    """The page ``query`` asks for, its rows' registration summaries, and the filtered total.

    ``total`` is counted (one indexed ``count(*)``) unless the caller already knows it.
    """
    conditions = query.conditions()
    if total is None:
        total = conn.execute(select(func.count()).select_from(channels).where(*conditions)).scalar_one()
    rows = select_statuses(
        conn, conditions, query.order_by(), now=now, limit=query.limit, offset=query.offset
    )
    return FleetPage(total=total, rows=tuple(rows))


def select_statuses(
    conn: Connection,
    conditions: Iterable[ColumnElement[bool]],
    order_by: Sequence[UnaryExpression[Any]],
    *,
    now: datetime,
    limit: int | None = None,
    offset: int = 0,
) -> list[ChannelStatus]:
    """Channels matching ``conditions`` in ``order_by`` order, with their registration summaries.

    ``limit=None`` lists every match (the CLI's whole-fleet table); attempts are then aggregated
    in chunks of ids so no statement carries an unbounded ``IN`` list.
    """
    query = select(*PUBLIC_CHANNEL_COLUMNS).where(*conditions).order_by(*order_by)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    channel_rows = conn.execute(query).all()
    summaries: dict[int, Row[Any]] = {}
    for start in range(0, len(channel_rows), _ID_CHUNK):
        ids = [row.id for row in channel_rows[start : start + _ID_CHUNK]]
        summaries.update(_attempt_summaries(conn, ids, now))
    return [_status(row, summaries.get(row.id)) for row in channel_rows]


def _attempt_summaries(conn: Connection, channel_ids: list[int], now: datetime) -> dict[int, Row[Any]]:
    """For each channel that has attempts: how many fall in the 72 h window, and the last one."""
    attempts = registration_attempts.c
    per_channel = (
        select(
            attempts.channel_id,
            func.count().filter(attempts.attempted_at > now - REGISTER_WINDOW).label("attempts_72h"),
            func.max(attempts.id).label("last_id"),
        )
        .where(attempts.channel_id.in_(channel_ids))
        .group_by(attempts.channel_id)
        .subquery("per_channel")
    )
    last = registration_attempts.alias("last_attempt")
    query = select(
        per_channel.c.channel_id,
        per_channel.c.attempts_72h,
        last.c.attempted_at,
        last.c.outcome,
        last.c.code,
        last.c.subcode,
        last.c.message,
    ).join(last, last.c.id == per_channel.c.last_id)
    return {row.channel_id: row for row in conn.execute(query)}


def _status(row: Row[Any], attempts: Row[Any] | None) -> ChannelStatus:
    channel = channel_from_row(row)
    last_error = None
    if attempts is not None and attempts.outcome != ATTEMPT_SUCCESS:
        last_error = CheckError(attempts.outcome, attempts.code, attempts.subcode, attempts.message)
    return ChannelStatus(
        channel,
        RegistrationSummary(
            state=channel.registration_state,
            attempts_72h=0 if attempts is None else attempts.attempts_72h,
            last_attempt_at=None if attempts is None else attempts.attempted_at,
            last_error=last_error,
            next_attempt_at=channel.next_attempt_at,
        ),
    )


def fleet_counts(conn: Connection) -> dict[str, Any]:
    """Counts of active channels by provisioning, registration state, reauthorization reason, quality.

    One grouped query (an index-only scan of ``ix_channels_summary`` on PostgreSQL); the shape
    is what the summary task returns and the health page shows.
    """
    columns = [channels.c[column] for _, column in SUMMARY_DIMENSIONS]
    query = select(*columns, func.count()).where(channels.c.active.is_(True)).group_by(*columns)
    counters: dict[str, Counter[str]] = {key: Counter() for key, _ in SUMMARY_DIMENSIONS}
    total = 0
    for *values, count in conn.execute(query):
        total += count
        for (key, _), value in zip(SUMMARY_DIMENSIONS, values, strict=True):
            counters[key][value or NONE] += count
    return {"channels": total, **{key: dict(sorted(c.items())) for key, c in counters.items()}}


def latest_fleet_summary(conn: Connection) -> FleetSummary | None:
    """The summary the fleet DAG saved last, if any."""
    query = select(fleet_summaries).order_by(fleet_summaries.c.created_at.desc(), fleet_summaries.c.id.desc())
    row = conn.execute(query.limit(1)).one_or_none()
    return None if row is None else FleetSummary(created_at=row.created_at, counts=row.counts)
