"""The fleet table in SQL: filter, sort, page and count channels without loading the fleet.

At 100,000 channels the health page and the API need one page of 50 rows, a total and the
counts, in well under 100 ms. Everything here is therefore a query over an explicit
``Connection`` (no store object, no hidden state): the filtered set is counted with one indexed
``count(*)``, the page comes from an index in sort order, and registration attempts are
aggregated only for the page's channels (a second query on their ids), never for the fleet.

Situations (docs/states-and-situations.md) are decided by the domain's rules: the counts group
the active fleet by the summary's dimensions and the situation facts (:data:`FACT_COLUMNS`),
which gives a few dozen combinations, and :func:`~whatsapp.domain.situations.situation_kind`
names each one's kind; the ``needs_action`` sort and the ``situation``/``needs_action`` filters
use :data:`SITUATION_RANK`, the same rules (``SITUATION_RULES``) compiled to one ``CASE`` that
gives each kind its own rank.

Extending the listing is one entry in a table: a filter is a :data:`FILTER_COLUMNS` entry plus a
:class:`FleetQuery` field, a sort is a :data:`SORTS` entry. The indexes that keep the default
listing fast are declared in ``schema.py`` (``ix_channels_needs_action*``, ``ix_channels_summary``)
and built from :func:`~whatsapp.store.schema.situation_rank` (the domain's situation rules as a
``CASE``), so the query and its index cannot drift apart, nor the sort from ``needs_action``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    false,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql.elements import UnaryExpression

from whatsapp.domain.business_app import AppLink, SyncState
from whatsapp.domain.registration import (
    REGISTER_WINDOW,
    Attention,
    NameChange,
    ReauthorizationReason,
    RegistrationState,
)
from whatsapp.domain.situations import (
    NEEDS_ACTION_KINDS,
    SORT_RANK,
    AccountEventSeen,
    SituationFacts,
    SituationKind,
    situation_kind,
)
from whatsapp.domain.webhooks import ACCOUNT_UPDATE
from whatsapp.store.channels import PUBLIC_CHANNEL_COLUMNS, channel_from_row
from whatsapp.store.models import (
    ATTEMPT_SUCCESS,
    ChannelStatus,
    CheckError,
    DueChannel,
    FleetSummary,
    RegistrationSummary,
)
from whatsapp.store.schema import (
    CHANNEL_REF_COLUMNS,
    channels,
    fact_columns,
    fleet_summaries,
    registration_attempts,
    situation_rank,
    webhook_events,
)

#: The word filters and counts use for a missing value (SQL NULL).
NONE = "none"
MAX_LIMIT = 500
#: The page sizes the health page offers (each within ``MAX_LIMIT``).
PAGE_SIZES = (25, 50, 100, 200)
#: SQL's OFFSET is a bigint; past the largest row id a page is empty anyway.
MAX_OFFSET = 2**63 - 1
#: Page ids per attempt-aggregate query when a caller lists without a limit (CLI, tests), and
#: rows per chunk of an export (:func:`export_rows`).
_ID_CHUNK = 1000

#: Filterable fields: ``FleetQuery`` field name -> channel column.
FILTER_COLUMNS: dict[str, Any] = {
    "provisioning": channels.c.provisioning,
    "registration_state": channels.c.registration_state,
    "reauthorization_reason": channels.c.reauthorization_reason,
    "quality_rating": channels.c.quality_rating,
    "name_status": channels.c.name_status,
    "status": channels.c.status,
    # Who owns the channel (exact ids): a tenant, a WhatsApp Business Account, a business portfolio.
    "account_id": channels.c.account_id,
    "waba_id": channels.c.waba_id,
    "business_id": channels.c.business_id,
}

#: The dimensions of the fleet summary, as (summary key, channel column); NULL counts as "none".
SUMMARY_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("provisioning", "provisioning"),
    ("registration_state", "registration_state"),
    ("reauthorization_reason", "reauthorization_reason"),
    ("quality_rating", "quality_rating"),
)

#: The facts that decide a channel's situation (``SituationFacts`` fields), as SQL over a channel
#: row: selected with every listed channel, and what the fleet is grouped by for the counts.
FACT_COLUMNS: dict[str, ColumnElement[Any]] = fact_columns(channels.c)
_FACT_LABELS = tuple(f"fact_{name}" for name in FACT_COLUMNS)
_LABELLED_FACTS = tuple(
    column.label(label) for column, label in zip(FACT_COLUMNS.values(), _FACT_LABELS, strict=True)
)


def facts_of(row: Row[Any]) -> SituationFacts:
    """The situation facts of a row that selected :data:`FACT_COLUMNS` (labelled ``fact_<name>``)."""
    return _facts(dict(zip(FACT_COLUMNS, (getattr(row, label) for label in _FACT_LABELS), strict=True)))


def _facts(values: dict[str, Any]) -> SituationFacts:
    return SituationFacts(
        state=RegistrationState(values["state"]),
        reason=_enum(ReauthorizationReason, values["reason"]),
        attention=_enum(Attention, values["attention"]),
        name_status=values["name_status"],
        name_change=_enum(NameChange, values["name_change"]),
        refused=bool(values["refused"]),
        check_failed=bool(values["check_failed"]),
        active=bool(values["active"]),
        business_app=_enum(AppLink, values["business_app"]),
        history_sync=_enum(SyncState, values["history_sync"]),
        quality_rating=values["quality_rating"],
        phone_status=values["phone_status"],
        limit_lowered=bool(values["limit_lowered"]),
    )


_E = TypeVar("_E")


def _enum(enum: Callable[[str], _E], value: str | None) -> _E | None:
    return None if value is None else enum(value)


Order = Literal["asc", "desc"]


def _ordered(column: ColumnElement[Any], order: Order) -> UnaryExpression[Any]:
    """A missing value (a channel never checked, with no next try, without a number) sorts last in
    both directions: descending is "newest first", and a page of blanks on top hides the values the
    person sorted for.

    A column that is never NULL keeps PostgreSQL's B-tree order (NULLs first descending), so a
    descending page is a backward scan of its index; a nullable one, descending, is sorted (at
    100,000 channels a top-N sort of the filtered rows). Spelled out for SQLite (NULLs first by
    default) to sort the same way.
    """
    if order == "asc":
        return column.asc().nulls_last()
    return column.desc().nulls_last() if _nullable(column) else column.desc().nulls_first()


def _nullable(column: ColumnElement[Any]) -> bool:
    """A table column declared nullable (expressions such as the situation rank are never NULL)."""
    return bool(getattr(column, "nullable", False))


def _by(*columns: ColumnElement[Any]) -> Callable[[Order], tuple[UnaryExpression[Any], ...]]:
    """A sort on ``columns`` in one direction; each sort ends in a unique key, so paging is stable."""
    return lambda order: tuple(_ordered(column, order) for column in columns)


#: A channel's situation kind as SQL: its place in the "needs action first" sort, which names
#: exactly one kind (``SORT_RANK`` is one rank per kind), compiled from the domain's rules.
SITUATION_RANK = situation_rank(channels.c)


#: The whitelisted sorts: API ``sort`` value -> ORDER BY builder. Each ends in a unique key
#: (account and inbox, or the id) matching an index, so a page is an index range, not a sort.
SORTS: dict[str, Callable[[Order], tuple[UnaryExpression[Any], ...]]] = {
    "needs_action": _by(SITUATION_RANK, channels.c.account_id, channels.c.inbox_id),
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
    account_id: tuple[int, ...] = ()
    waba_id: tuple[str, ...] = ()
    business_id: tuple[str, ...] = ()
    #: Situation kinds (any of them) and whether a person must act; decided per fact combination.
    situation: tuple[SituationKind, ...] = ()
    needs_action: bool | None = None
    #: Text search: part of the phone number or verified name, or an exact account / phone number id.
    q: str | None = None
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
        """The active column filters, by field name."""
        return {name: getattr(self, name) for name in FILTER_COLUMNS if getattr(self, name)}

    def kinds(self) -> frozenset[SituationKind] | None:
        """The situation kinds the ``situation`` and ``needs_action`` filters accept (``None``: all)."""
        if not self.situation and self.needs_action is None:
            return None
        kinds = frozenset(self.situation or SituationKind)
        if self.needs_action is not None:
            kinds = frozenset(k for k in kinds if (k in NEEDS_ACTION_KINDS) == self.needs_action)
        return kinds

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clause of the filtered set (what ``total`` counts)."""
        where = [] if self.include_inactive else [channels.c.active.is_(True)]
        for name, values in self.filters().items():
            where.append(_matches(FILTER_COLUMNS[name], values))
        kinds = self.kinds()
        if kinds is not None:
            where.append(_in_situations(kinds))
        if self.q:
            where.append(_search(self.q))
        return where

    def order_by(self) -> tuple[UnaryExpression[Any], ...]:
        return SORTS[self.sort](self.order)


def _in_situations(kinds: frozenset[SituationKind]) -> ColumnElement[bool]:
    """Channels in one of these situations: their sort rank is one of the kinds' ranks.

    A run of consecutive ranks (one kind, or "needs action" which ranks first) is a range of
    ``ix_channels_needs_action``, so the page of a badge is read in index order, 50 rows.
    """
    ranks = sorted(SORT_RANK[kind] for kind in kinds)
    if not ranks:
        return false()
    if ranks[-1] - ranks[0] + 1 == len(ranks):
        if len(ranks) == 1:
            return literal_column(str(ranks[0])) == SITUATION_RANK
        return SITUATION_RANK.between(literal_column(str(ranks[0])), literal_column(str(ranks[-1])))
    return SITUATION_RANK.in_([literal_column(str(rank)) for rank in ranks])


#: What separates the digits of a ``display_phone_number`` as Meta shows it (``+1 631-555-5555``,
#: https://developers.facebook.com/docs/whatsapp/business-management-api/manage-phone-numbers;
#: webhooks send the digits alone, ``15550783881``), and what people type around a number
#: (``+1 (631) 555.5555``).
PHONE_SEPARATORS = " -+().\u00a0"
_PHONE_TEXT = re.compile(f"[0-9{re.escape(PHONE_SEPARATORS)}]+")


def _search(text: str) -> ColumnElement[bool]:
    """Part of the phone number (as shown, or its digits) or verified name; an exact id.

    A number is found however it is typed: ``555-000-0120`` as shown, or by its digits
    (``+15550000120``, ``15550000120``, ``5550000120``), which match the digits of the shown
    number. That comparison strips the separators in SQL on every candidate row (no index holds
    the digits), so it is added only when the text is a phone number's characters.
    """
    text = text.strip()
    options = [
        channels.c.display_phone_number.icontains(text, autoescape=True),
        channels.c.verified_name.icontains(text, autoescape=True),
        channels.c.phone_number_id == text,
    ]
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits and _PHONE_TEXT.fullmatch(text):
        options.append(_digits_of(channels.c.display_phone_number).contains(digits))
    if text.isdigit() and len(text) <= 18:
        options.append(channels.c.account_id == int(text))
    return or_(*options)


def _digits_of(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` without :data:`PHONE_SEPARATORS`: nested ``replace()``, the same SQL on both dialects."""
    for separator in PHONE_SEPARATORS:
        column = func.replace(column, separator, "")
    return column


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
    dimension, or only situation filters; active channels only), it is taken from them instead
    of counting again.
    """
    groups = fleet_groups(conn)
    counts = live_counts(conn, groups)
    total = _total_from_counts(query, counts, groups)
    page = list_fleet(conn, query, now, total=total)
    return FleetOverview(page, counts, latest_fleet_summary(conn))


def _total_from_counts(query: FleetQuery, counts: dict[str, Any], groups: Sequence[FactGroup]) -> int | None:
    if query.include_inactive or query.q:
        return None
    filters = query.filters()
    kinds = query.kinds()
    if kinds is not None:
        if filters:
            return None
        return sum(group.count for group in groups if group.kind in kinds)
    if not filters:
        return int(counts["channels"])
    if len(filters) == 1:
        ((name, values),) = filters.items()
        if name in counts:
            return sum(counts[name].get(value, 0) for value in set(values))
    return None


def list_fleet(conn: Connection, query: FleetQuery, now: datetime, *, total: int | None = None) -> FleetPage:
    """The page ``query`` asks for, its rows' registration summaries, and the filtered total.

    ``total`` is counted (one indexed ``count(*)``, or with the page for a text search) unless
    the caller already knows it.
    """
    conditions = query.conditions()
    # A text search scans every candidate row anyway: it counts them in the same scan.
    search = total is None and bool(query.q)
    if total is None and not search:
        total = _count(conn, conditions)
    counted: list[int] = []
    rows = select_statuses(
        conn,
        conditions,
        query.order_by(),
        now=now,
        limit=query.limit,
        offset=query.offset,
        count_into=counted if search else None,
    )
    if total is None:  # a search: counted with the page, or counted now if the page is empty
        total = counted[0] if counted else _count(conn, conditions)
    return FleetPage(total=total, rows=tuple(rows))


def count_matching(conn: Connection, query: FleetQuery) -> int:
    """How many channels ``query``'s filters match (its sort and page play no part)."""
    return _count(conn, query.conditions())


def select_refs(conn: Connection, query: FleetQuery, *, limit: int) -> list[DueChannel]:
    """The channels ``query``'s filters match, in its sort order, at most ``limit`` (ids only):
    what a person's "all that match this filter" selection acts on. ``query``'s page is ignored."""
    statement = select(*CHANNEL_REF_COLUMNS).where(*query.conditions()).order_by(*query.order_by())
    return [DueChannel(*row) for row in conn.execute(statement.limit(limit))]


def refs_of(conn: Connection, pairs: Sequence[tuple[int, int]]) -> list[DueChannel]:
    """The channels named by ``(account_id, inbox_id)``, in the order named; unknown ones left out."""
    found: dict[tuple[int, int], DueChannel] = {}
    for start in range(0, len(pairs), _ID_CHUNK):
        chunk = pairs[start : start + _ID_CHUNK]
        key = tuple_(channels.c.account_id, channels.c.inbox_id)
        for row in conn.execute(select(*CHANNEL_REF_COLUMNS).where(key.in_(chunk))):
            found[(row.account_id, row.inbox_id)] = DueChannel(*row)
    return [found[pair] for pair in dict.fromkeys(pairs) if pair in found]


def _count(conn: Connection, conditions: Sequence[ColumnElement[bool]]) -> int:
    return int(conn.execute(select(func.count()).select_from(channels).where(*conditions)).scalar_one())


def select_statuses(
    conn: Connection,
    conditions: Iterable[ColumnElement[bool]],
    order_by: Sequence[UnaryExpression[Any]],
    *,
    now: datetime,
    limit: int | None = None,
    offset: int = 0,
    count_into: list[int] | None = None,
) -> list[ChannelStatus]:
    """Channels matching ``conditions`` in ``order_by`` order, with their registration summaries.

    ``limit=None`` lists every match (the CLI's whole-fleet table); attempts are then aggregated
    in chunks of ids so no statement carries an unbounded ``IN`` list. ``count_into`` receives
    how many rows match in all (a window count, for queries that scan every match anyway;
    nothing is appended when the page is empty).
    """
    columns = [*PUBLIC_CHANNEL_COLUMNS, *_LABELLED_FACTS]
    if count_into is not None:
        columns.append(func.count().over().label("matching"))
    query = select(*columns).where(*conditions).order_by(*order_by)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    channel_rows = conn.execute(query).all()
    if count_into is not None and channel_rows:
        count_into.append(int(channel_rows[0].matching))
    summaries: dict[int, Row[Any]] = {}
    for start in range(0, len(channel_rows), _ID_CHUNK):
        ids = [row.id for row in channel_rows[start : start + _ID_CHUNK]]
        summaries.update(_attempt_summaries(conn, ids, now))
    facts = {row.id: facts_of(row) for row in channel_rows}
    events = _account_events(
        conn, {row.waba_id for row in channel_rows if _names_account_event(facts[row.id])}
    )
    return [
        _status(row, summaries.get(row.id), facts[row.id], events.get(row.waba_id)) for row in channel_rows
    ]


#: What an export reads of each channel: ids, number and name, registration, the health columns
#: a person compares across the fleet, times, and the situation facts (``fact_<name>``). No
#: secret and no stored Graph node: a row costs a tuple, not a :class:`ChannelStatus`.
EXPORT_COLUMNS = (
    *(
        channels.c[name]
        for name in (
            "account_id",
            "inbox_id",
            "display_phone_number",
            "phone_number_id",
            "waba_id",
            "business_id",
            "verified_name",
            "registration_state",
            "reauthorization_reason",
            "quality_rating",
            "status",
            "messaging_limit_tier",
            "checked_at",
            "next_attempt_at",
            "active",
        )
    ),
    *_LABELLED_FACTS,
)


def export_rows(
    conn: Connection, query: FleetQuery, *, chunk: int = _ID_CHUNK
) -> Iterator[Sequence[Row[Any]]]:
    """Every channel ``query`` matches, in its order, as :data:`EXPORT_COLUMNS` rows, ``chunk`` at
    a time (``limit``/``offset`` unused).

    The rows come from a server-side cursor (``stream_results``; on PostgreSQL a named cursor in
    the connection's transaction), so exporting 100,000 channels holds one chunk in memory, not
    the fleet. Nothing else is read: a row's situation kind is decided by its facts
    (:func:`facts_of`), and its title, whether it needs action and its next try follow from the
    kind and ``next_attempt_at`` alone.
    """
    rows_query = select(*EXPORT_COLUMNS).where(*query.conditions()).order_by(*query.order_by())
    result = conn.execution_options(stream_results=True, yield_per=chunk).execute(rows_query)
    try:
        yield from result.partitions(chunk)
    finally:
        result.close()


def _names_account_event(facts: SituationFacts) -> bool:
    return situation_kind(facts) is SituationKind.ACCOUNT_EVENT


def _account_events(conn: Connection, waba_ids: set[str]) -> dict[str, AccountEventSeen]:
    """The newest ``account_update`` of each WABA (only asked for channels in that situation)."""
    if not waba_ids:
        return {}
    events = webhook_events.c
    newest = (
        select(events.waba_id, func.max(events.received_at).label("received_at"))
        .where(events.waba_id.in_(sorted(waba_ids)), events.field == ACCOUNT_UPDATE)
        .group_by(events.waba_id)
        .subquery("newest")
    )
    query = (
        select(events.waba_id, events.event, events.detail, events.occurred_at)
        .join(newest, and_(events.waba_id == newest.c.waba_id, events.received_at == newest.c.received_at))
        .where(events.field == ACCOUNT_UPDATE)
        .order_by(events.id)
    )
    return {
        row.waba_id: AccountEventSeen(
            event=row.event or ACCOUNT_UPDATE, at=row.occurred_at, detail=row.detail
        )
        for row in conn.execute(query)
    }


def _attempt_summaries(conn: Connection, channel_ids: list[int], now: datetime) -> dict[int, Row[Any]]:
    """For each channel that has attempts: how many fall in ``REGISTER_WINDOW``, and the last one."""
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


def _status(
    row: Row[Any], attempts: Row[Any] | None, facts: SituationFacts, account_event: AccountEventSeen | None
) -> ChannelStatus:
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
        facts=facts,
        account_event=account_event,
    )


@dataclass(frozen=True, slots=True)
class FactGroup:
    """Active channels sharing the summary's dimensions and the situation facts, and their kind."""

    dimensions: tuple[str | None, ...]
    facts: SituationFacts
    kind: SituationKind
    count: int


#: What the counts group by, in ``ix_channels_summary``'s column order (so PostgreSQL streams the
#: groups from an index-only scan, no sort): the summary's dimensions, then the situation facts,
#: ``failures_in_a_row`` as stored (a handful of values). Whether the last read failed is a count
#: per group (``count(last_check_failed_at)``), not a grouping, as its column is a time.
_GROUPED = (
    *(column for _, column in SUMMARY_DIMENSIONS),
    "attention",
    "name_status",
    "name_change",
    "failures_in_a_row",
    "business_app",
    "history_sync",
    "status",
    "limit_lowered",
)


def fleet_groups(conn: Connection) -> list[FactGroup]:
    """The active fleet grouped by the summary's dimensions and the situation facts.

    One grouped query (on PostgreSQL an index-only scan of ``ix_channels_summary`` in its order)
    gives a few dozen combinations at most; :func:`situation_kind` decides each one's kind.
    """
    grouped = [channels.c[name] for name in _GROUPED]
    query = (
        select(*grouped, func.count().label("n"), func.count(channels.c.last_check_failed_at).label("failed"))
        .where(channels.c.active.is_(True))
        .group_by(*grouped)
    )
    groups = []
    for row in conn.execute(query):
        values = dict(zip(_GROUPED, row, strict=False))
        for failed, count in ((False, row.n - row.failed), (True, row.failed)):
            if not count:
                continue
            facts = _facts(
                {
                    "state": values["registration_state"],
                    "reason": values["reauthorization_reason"],
                    "attention": values["attention"],
                    "name_status": values["name_status"],
                    "name_change": values["name_change"],
                    "refused": values["failures_in_a_row"] > 0,
                    "check_failed": failed,
                    "active": True,
                    "business_app": values["business_app"],
                    "history_sync": values["history_sync"],
                    "quality_rating": values["quality_rating"],
                    "phone_status": values["status"],
                    "limit_lowered": values["limit_lowered"],
                }
            )
            dimensions = tuple(values[column] for _, column in SUMMARY_DIMENSIONS)
            groups.append(FactGroup(dimensions, facts, situation_kind(facts), int(count)))
    return groups


def counts_of(groups: Sequence[FactGroup]) -> dict[str, Any]:
    """Counts by provisioning, registration state, reauthorization reason, quality and situation.

    ``situation`` lists every kind (zero included, so each badge exists); ``needs_action`` is
    how many channels a person must act on. Inactive (offboarded) channels are not counted.
    """
    counters: dict[str, Counter[str]] = {key: Counter() for key, _ in SUMMARY_DIMENSIONS}
    situations: Counter[str] = Counter()
    for group in groups:
        for (key, _), value in zip(SUMMARY_DIMENSIONS, group.dimensions, strict=True):
            counters[key][value or NONE] += group.count
        situations[group.kind.value] += group.count
    return {
        "channels": sum(group.count for group in groups),
        **{key: dict(sorted(c.items())) for key, c in counters.items()},
        "situation": {kind.value: situations[kind.value] for kind in SituationKind},
        "needs_action": sum(situations[kind.value] for kind in NEEDS_ACTION_KINDS),
    }


def live_counts(conn: Connection, groups: Sequence[FactGroup]) -> dict[str, Any]:
    """:func:`counts_of` the groups, and ``offboarded``: how many inactive channels the listing
    hides unless asked to include them (every channel, an index-only count, less the active ones).
    What the page shows; the saved summary keeps :func:`fleet_counts`."""
    counts = counts_of(groups)
    counts["offboarded"] = max(0, _count(conn, ()) - counts["channels"])
    return counts


def fleet_counts(conn: Connection) -> dict[str, Any]:
    """Counts of active channels by state and situation (:func:`counts_of` of :func:`fleet_groups`).

    The shape is what the summary task returns and the health page shows.
    """
    return counts_of(fleet_groups(conn))


def latest_fleet_summary(conn: Connection) -> FleetSummary | None:
    """The summary the fleet DAG saved last, if any."""
    query = select(fleet_summaries).order_by(fleet_summaries.c.created_at.desc(), fleet_summaries.c.id.desc())
    row = conn.execute(query.limit(1)).one_or_none()
    return None if row is None else FleetSummary(created_at=row.created_at, counts=row.counts)
