"""The fleet listing in SQL: filters, "none", sorts, stable paging, totals, attempts of the page only.

One small fleet with every state the listing distinguishes is written straight into the
``channels`` table (the listing reads states; how they are reached is the registration and audit
tests' business), on PostgreSQL and SQLite.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.dialects import postgresql

from tests.store.helpers import NOW, add_channel
from whatsapp.domain.situations import SORT_RANK, SituationKind
from whatsapp.store import ChannelStore, StoreTarget
from whatsapp.store.channels import PUBLIC_CHANNEL_COLUMNS
from whatsapp.store.fleet_listing import (
    MAX_LIMIT,
    SORTS,
    FleetQuery,
    fleet_overview,
)
from whatsapp.store.schema import channels, registration_attempts

K = SituationKind
MIGRATION = (
    Path(__file__).resolve().parents[2]
    / "plugins/whatsapp/store/alembic/versions/0003_fleet_listing_indexes.py"
)
#: Revision 0009 rebuilt 0003's needs-action indexes on the situation rank.
RANK_MIGRATION = MIGRATION.with_name("0009_situation_rank_and_search.py")
RANK_INDEXES = ("ix_channels_needs_action", "ix_channels_state_needs_action")
LISTING_INDEXES = (
    "ix_channels_needs_action",
    "ix_channels_state_needs_action",
    "ix_channels_display_phone_number",
)
#: Revision 0012 rebuilt the needs-action indexes and widened the counting index with the facts
#: of WhatsApp Business app numbers (0008 had widened 0003's with the other facts).
BUSINESS_APP_MIGRATION = MIGRATION.with_name("0012_business_app_numbers.py")
#: Revision 0013 rebuilt them again with the quality facts (and ``status`` in the counting index).
QUALITY_MIGRATION = MIGRATION.with_name("0013_quality_situations.py")
#: Revision 0014 rebuilt them again with the lowered messaging limit (and it in the counting index).
LIMIT_MIGRATION = MIGRATION.with_name("0014_messaging_limit_lowered.py")
SUMMARY_INDEX = "ix_channels_summary"


@dataclass(frozen=True)
class Spec:
    """What one seeded channel holds; ``None`` = NULL. ``kind`` is its expected situation, whose
    ``SORT_RANK`` is its place in the needs-action order."""

    state: str
    kind: SituationKind
    reason: str | None = None
    provisioning: str | None = "provisioned"
    quality: str | None = "GREEN"
    name_status: str | None = "APPROVED"
    status: str | None = "CONNECTED"
    checked: bool = True
    next_in_min: int | None = None
    active: bool = True

    @property
    def rank(self) -> int:
        return SORT_RANK[self.kind]


INCOMPLETE = "registration_incomplete"
#: Inbox n+1 holds SPECS[n]; the order is deliberately not the needs-action order.
SPECS: tuple[Spec, ...] = (
    Spec("registered", K.HEALTHY),
    Spec("scheduled", K.NAME_IN_REVIEW, INCOMPLETE, "pending", name_status="PENDING_REVIEW", next_in_min=30),
    Spec("needs_attention", K.NAME_DECLINED, INCOMPLETE, "pending", name_status="DECLINED", status="PENDING"),
    Spec("registered", K.QUALITY_MEDIUM, quality="YELLOW"),
    Spec("reauthorization_required", K.TOKEN_INVALID, "token_invalid", quality=None, checked=False),
    Spec("blocked", K.BLOCKED, INCOMPLETE, "pending", next_in_min=600),
    Spec("registered", K.PERMISSION_REVOKED, "permission_revoked", quality="RED", status="FLAGGED"),
    Spec("awaiting_display_name", K.NAME_IN_REVIEW, INCOMPLETE, "pending", next_in_min=5),
    Spec("scheduled", K.REGISTRATION_PENDING, INCOMPLETE, "pending", next_in_min=10),
    Spec(
        "unknown",
        K.NOT_CHECKED,
        provisioning=None,
        quality=None,
        name_status=None,
        status=None,
        checked=False,
    ),
    Spec("registered", K.OFFBOARDED, active=False),
    Spec("scheduled", K.REGISTRATION_PENDING, INCOMPLETE, "pending", next_in_min=10),
)


@dataclass(frozen=True)
class Seeded:
    ids: tuple[int, ...]  # channel id of SPECS[n]

    def spec_of(self, channel_id: int) -> Spec:
        return SPECS[self.ids.index(channel_id)]


def _values(spec: Spec, n: int) -> dict[str, Any]:
    return {
        "registration_state": spec.state,
        "reauthorization_reason": spec.reason,
        "reauthorization_required": spec.reason is not None,
        "provisioning": spec.provisioning,
        "quality_rating": spec.quality,
        "name_status": spec.name_status,
        "status": spec.status,
        # Checked channels: newest first by inbox, so time order differs from inbox order.
        "checked_at": NOW - timedelta(minutes=n) if spec.checked else None,
        "next_attempt_at": None if spec.next_in_min is None else NOW + timedelta(minutes=spec.next_in_min),
        "active": spec.active,
        # Phone numbers in reverse inbox order, one missing.
        "display_phone_number": None if n == 3 else f"+1555{99 - n:04d}",
    }


@pytest.fixture
def seeded(store: ChannelStore) -> Seeded:
    ids = []
    for n, spec in enumerate(SPECS):
        channel = add_channel(store, n)
        with store.engine.begin() as conn:
            conn.execute(update(channels).where(channels.c.id == channel.id).values(**_values(spec, n)))
        ids.append(channel.id)
    return Seeded(tuple(ids))


def _page(store: ChannelStore, **kwargs: Any) -> tuple[int, list[int]]:
    page = store.fleet.page(FleetQuery(**kwargs), now=NOW)
    return page.total, [status.channel.id for status in page.rows]


def _expected(seeded: Seeded, keep: Any, *, include_inactive: bool = False) -> set[int]:
    return {
        channel_id
        for channel_id, spec in zip(seeded.ids, SPECS, strict=True)
        if (spec.active or include_inactive) and keep(spec)
    }


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"provisioning": ("pending",)}, lambda s: s.provisioning == "pending"),
        ({"registration_state": ("scheduled", "blocked")}, lambda s: s.state in ("scheduled", "blocked")),
        ({"reauthorization_reason": ("token_invalid",)}, lambda s: s.reason == "token_invalid"),
        ({"quality_rating": ("RED", "YELLOW")}, lambda s: s.quality in ("RED", "YELLOW")),
        ({"name_status": ("DECLINED",)}, lambda s: s.name_status == "DECLINED"),
        ({"status": ("FLAGGED",)}, lambda s: s.status == "FLAGGED"),
        ({"reauthorization_reason": ("none",)}, lambda s: s.reason is None),
        ({"quality_rating": ("none", "RED")}, lambda s: s.quality in (None, "RED")),
        ({"provisioning": ("none",)}, lambda s: s.provisioning is None),
        (
            {"provisioning": ("pending",), "registration_state": ("scheduled",)},
            lambda s: s.provisioning == "pending" and s.state == "scheduled",
        ),
        ({"status": ("no-such-status",)}, lambda s: False),
    ],
)
def test_each_filter_and_none_matches_null(
    store: ChannelStore, seeded: Seeded, filters: dict[str, tuple[str, ...]], keep: Any
) -> None:
    total, ids = _page(store, **filters, sort="account", limit=MAX_LIMIT)
    expected = _expected(seeded, keep)
    assert set(ids) == expected
    assert total == len(expected)
    with store.engine.connect() as conn:  # the total the overview takes from the counts agrees
        overview = fleet_overview(conn, FleetQuery(**filters), NOW)
    assert overview.page.total == len(expected)


def test_inactive_channels_only_on_request(store: ChannelStore, seeded: Seeded) -> None:
    inactive = seeded.ids[SPECS.index(next(s for s in SPECS if not s.active))]
    total, ids = _page(store, limit=MAX_LIMIT)
    assert inactive not in ids and total == len(SPECS) - 1
    total, ids = _page(store, include_inactive=True, limit=MAX_LIMIT)
    assert inactive in ids and total == len(SPECS)
    with store.engine.connect() as conn:
        overview = fleet_overview(conn, FleetQuery(include_inactive=True, status=("CONNECTED",)), NOW)
    assert overview.page.total == len(
        _expected(seeded, lambda s: s.status == "CONNECTED", include_inactive=True)
    )


def test_needs_action_first_is_the_default_order(store: ChannelStore, seeded: Seeded) -> None:
    _, ids = _page(store, limit=MAX_LIMIT)
    ranks = [seeded.spec_of(i).rank for i in ids]
    assert ranks == sorted(ranks)
    assert ranks[0] == SORT_RANK[K.TOKEN_INVALID] == 0 and ranks[-1] == SORT_RANK[K.HEALTHY]
    # Within one rank: by account and inbox (inbox n+1 holds SPECS[n], so by position in SPECS).
    for rank in set(ranks):
        same = [i for i in ids if seeded.spec_of(i).rank == rank]
        assert same == sorted(same, key=seeded.ids.index)
    _, descending = _page(store, order="desc", limit=MAX_LIMIT)
    assert descending == ids[::-1]


def _nulls_last(value: Any) -> tuple[bool, Any]:
    return (value is None, "" if value is None else value)


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("account", lambda v: (False, v["inbox"])),
        ("checked_at", lambda v: (v["checked_at"] is None, v["checked_at"] or NOW)),
        ("next_attempt_at", lambda v: (v["next_attempt_at"] is None, v["next_attempt_at"] or NOW)),
        (
            "display_phone_number",
            lambda v: (v["display_phone_number"] is None, v["display_phone_number"] or ""),
        ),
    ],
)
def test_sorts_put_missing_values_last_both_ways(
    store: ChannelStore, seeded: Seeded, sort: str, key: Any
) -> None:
    """Descending is the reverse of ascending, except that channels without the value stay last:
    "checked most recently first" starts with a checked channel, not with the never-checked."""
    _, ids = _page(store, sort=sort, limit=MAX_LIMIT)
    values = {
        channel_id: {**_values(spec, n), "inbox": n}
        for n, (channel_id, spec) in enumerate(zip(seeded.ids, SPECS, strict=True))
    }
    # Ties (equal values) are broken by id or inbox, both follow SPECS order here.
    assert ids == sorted(ids, key=lambda i: (key(values[i]), seeded.ids.index(i)))
    missing = [i for i in ids if key(values[i])[0]]  # keys are (is missing, value)
    present = [i for i in ids if i not in missing]
    assert sort == "account" or missing, f"the seed has no channel without {sort}"
    _, descending = _page(store, sort=sort, order="desc", limit=MAX_LIMIT)
    assert descending == present[::-1] + missing[::-1]


@pytest.mark.parametrize("sort", sorted(SORTS))
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_paging_is_stable(store: ChannelStore, seeded: Seeded, sort: str, order: str) -> None:
    total, everything = _page(store, sort=sort, order=order, limit=MAX_LIMIT)
    pages = []
    for offset in range(0, total + 3, 3):
        page_total, ids = _page(store, sort=sort, order=order, limit=3, offset=offset)
        assert page_total == total
        pages.extend(ids)
    assert pages == everything  # no channel twice, none missing, same order
    assert len(set(pages)) == total == len(SPECS) - 1


def test_attempts_are_summarized_for_the_page_only(store: ChannelStore, seeded: Seeded) -> None:
    target = seeded.ids[1]
    rows = [
        (NOW - timedelta(hours=80), "display_name_not_ready", 100, 2388001),  # outside 72 h
        (NOW - timedelta(hours=5), "display_name_not_ready", 100, 2388001),
        (NOW - timedelta(hours=1), "pin_problem", 100, 2388002),
    ]
    with store.engine.begin() as conn:
        for channel_id in seeded.ids:
            for at, outcome, code, subcode in rows:
                conn.execute(
                    insert(registration_attempts).values(
                        channel_id=channel_id,
                        attempted_at=at,
                        outcome=outcome,
                        resulting_state="scheduled",
                        code=code,
                        subcode=subcode,
                        message="m",
                    )
                )
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        page = store.fleet.page(
            FleetQuery(registration_state=("scheduled",), sort="account", limit=1), now=NOW
        )
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    (status,) = page.rows
    assert status.channel.id == target and page.total == 3
    registration = status.registration
    assert registration.attempts_72h == 2
    assert registration.last_attempt_at == NOW - timedelta(hours=1)
    assert registration.last_error is not None and registration.last_error.subcode == 2388002
    attempt_queries = [(s, p) for s, p in statements if "registration_attempts" in s]
    assert len(attempt_queries) == 1
    statement, parameters = attempt_queries[0]
    bound_ids = [v for v in _flatten(parameters) if v in seeded.ids]
    assert bound_ids == [target], f"attempts aggregated beyond the page: {statement} {parameters}"


def _flatten(parameters: Any) -> Iterator[Any]:
    values = parameters.values() if isinstance(parameters, dict) else parameters
    for value in values:
        if isinstance(value, list | tuple):
            yield from value
        else:
            yield value


def test_fleet_status_and_channel_status_keep_their_shape(store: ChannelStore, seeded: Seeded) -> None:
    every = store.fleet.statuses(now=NOW)
    assert [s.channel.id for s in every] == list(seeded.ids), "every channel, inactive too, by inbox"
    one = store.fleet.channel_status(1, every[3].channel.inbox_id, now=NOW)
    assert one == every[3]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"sort": "phone_number_id"}, ValueError),
        ({"order": "up"}, ValueError),
        ({"limit": 0}, ValueError),
        ({"limit": MAX_LIMIT + 1}, ValueError),
        ({"offset": -1}, ValueError),
        ({"status": "FLAGGED"}, TypeError),
    ],
)
def test_fleet_query_refuses_what_it_cannot_run(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        FleetQuery(**kwargs)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("query", "index"),
    [
        (FleetQuery(), "ix_channels_needs_action"),
        (FleetQuery(registration_state=("scheduled",)), "ix_channels_state_needs_action"),
        (FleetQuery(registration_state=("scheduled",), order="desc"), "ix_channels_state_needs_action"),
        (FleetQuery(sort="display_phone_number"), "ix_channels_display_phone_number"),
        # A badge's page is a range of the needs-action index (one kind, or all that need action).
        (FleetQuery(situation=(SituationKind.NAME_IN_REVIEW,)), "ix_channels_needs_action"),
        (FleetQuery(needs_action=True), "ix_channels_needs_action"),
        (FleetQuery(needs_action=False, order="desc"), "ix_channels_needs_action"),
    ],
)
def test_the_page_query_can_use_its_index(pg_store: ChannelStore, query: FleetQuery, index: str) -> None:
    """The ORDER BY expression is the index's expression (a mismatch would need a sort).

    A dozen rows never make PostgreSQL choose an index on its own; with sequential scans and
    sorts disabled, a plan through the index proves the planner matches it. The 100,000-row
    plans are in ``bench/fleet_api.py``'s commit message.
    """
    statement = (
        select(*PUBLIC_CHANNEL_COLUMNS).where(*query.conditions()).order_by(*query.order_by()).limit(50)
    )
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with pg_store.engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_sort = off"))
        conn.execute(text("SET LOCAL enable_incremental_sort = off"))
        plan = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN {sql}")))
    assert f"Index Scan {'Backward ' if query.order == 'desc' else ''}using {index}" in plan, plan
    assert "Sort" not in plan, plan


@pytest.mark.postgres
def test_a_text_search_can_use_the_trigram_indexes(pg_store: ChannelStore) -> None:
    """Migration 0009 builds the search's trigram indexes (pg_trgm is available on the test server).

    For a name or any text with a letter; a search by a number also compares the digits of every
    row's number (``_search``), which no index of the schema holds.
    """
    query = FleetQuery(q="Acme 0012345", include_inactive=True)  # no partial index on active instead
    statement = select(channels.c.id).where(*query.conditions())
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with pg_store.engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_channels_search_phone" in plan and "ix_channels_search_name" in plan, plan


def _index_definitions(conn: Any, names: tuple[str, ...] = LISTING_INDEXES) -> dict[str, str]:
    rows = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND indexname = ANY(:names)"
        ),
        {"names": list(names)},
    )
    return dict(rows.all())


def _load_migration(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration


@pytest.mark.postgres
def test_migration_0014_builds_the_counting_index_schema_py_declares(pg_store: ChannelStore) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    migration = _load_migration(LIMIT_MIGRATION)
    assert (migration.revision, migration.down_revision) == ("0014", "0013")
    with pg_store.engine.begin() as conn:
        declared = _index_definitions(conn, (SUMMARY_INDEX,))
        assert set(declared) == {SUMMARY_INDEX}
        with Operations.context(MigrationContext.configure(conn)):
            migration.downgrade()
            assert _index_definitions(conn, (SUMMARY_INDEX,)) != declared
            migration.upgrade()
        assert _index_definitions(conn, (SUMMARY_INDEX,)) == declared


@pytest.mark.postgres
def test_migrations_0003_0009_and_0012_build_the_indexes_schema_py_declares(pg_target: StoreTarget) -> None:
    """0012's and 0009's downgrades give 0003's state-rank indexes back; 0003, 0009 and 0012 rebuild
    what the store has.

    The store is migrated here, not copied from the session's template: PostgreSQL prints a
    copied index expression in another (equivalent) form, and this test compares the text.
    """
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    pg_store = ChannelStore.from_target(pg_target)
    pg_store.migrate()
    migration = _load_migration(MIGRATION)
    assert (migration.revision, migration.down_revision) == ("0003", "0002")
    rank_migration = _load_migration(RANK_MIGRATION)
    assert (rank_migration.revision, rank_migration.down_revision) == ("0009", "0008")
    app_migration = _load_migration(BUSINESS_APP_MIGRATION)
    quality_migration = _load_migration(QUALITY_MIGRATION)
    limit_migration = _load_migration(LIMIT_MIGRATION)

    with pg_store.engine.begin() as conn:
        declared = _index_definitions(conn)  # the store's migration up to head
        assert set(declared) == set(LISTING_INDEXES)
        with Operations.context(MigrationContext.configure(conn)):
            limit_migration.downgrade()
            quality_ranked = _index_definitions(conn)
            assert all(quality_ranked[name] != declared[name] for name in RANK_INDEXES)
            quality_migration.downgrade()
            app_ranked = _index_definitions(conn)
            assert all(app_ranked[name] != declared[name] for name in RANK_INDEXES)
            app_migration.downgrade()
            situation_ranked = _index_definitions(conn)
            assert all(situation_ranked[name] != declared[name] for name in RANK_INDEXES)
            rank_migration.downgrade()
            state_ranked = _index_definitions(conn)
            assert all(state_ranked[name] != declared[name] for name in RANK_INDEXES)
            migration.downgrade()
            assert _index_definitions(conn) == {}
            migration.upgrade()
            assert _index_definitions(conn) == state_ranked
            rank_migration.upgrade()
            assert _index_definitions(conn) == situation_ranked
            app_migration.upgrade()
            assert _index_definitions(conn) == app_ranked
            quality_migration.upgrade()
            assert _index_definitions(conn) == quality_ranked
            limit_migration.upgrade()
        assert _index_definitions(conn) == declared
    pg_store.dispose()


def test_the_sql_rank_names_the_kind_situation_kind_decides_for_every_fact_combination() -> None:
    """``situation_rank`` is ``SITUATION_RULES`` compiled: on every combination of the facts'
    values (name statuses: the two the rules name and another), SQL and Python agree."""
    import itertools

    from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine

    from whatsapp.domain.business_app import AppLink, SyncState
    from whatsapp.domain.registration import Attention, NameChange, ReauthorizationReason, RegistrationState
    from whatsapp.domain.situations import SituationFacts
    from whatsapp.store.schema import situation_rank

    facts = Table(
        "channels",
        MetaData(),
        *(Column(name, String) for name in ("registration_state", "reauthorization_reason", "attention")),
        *(Column(name, String) for name in ("name_status", "name_change", "last_check_failed_at")),
        Column("failures_in_a_row", Integer),
        Column("active", Boolean),
        *(Column(name, String) for name in ("business_app", "history_sync", "quality_rating", "status")),
        Column("limit_lowered", Boolean),
        Column("expected", Integer),
    )
    rows = []
    for state, reason, attention, name, change, refused, failed, active in itertools.product(
        RegistrationState,
        (None, *ReauthorizationReason),
        (None, *Attention),
        (None, "DECLINED", "PENDING_REVIEW", "APPROVED"),
        (None, *NameChange),
        (False, True),
        (False, True),
        (False, True),
    ):
        rows.append(
            _fact_row(SituationFacts(state, reason, attention, name, change, refused, failed, active))
        )
    # The WhatsApp Business app facts, against every state, name change, failed read and activity.
    for state, change, failed, active, link, history in itertools.product(
        RegistrationState,
        (None, *NameChange),
        (False, True),
        (False, True),
        (None, *AppLink),
        (None, *SyncState),
    ):
        facts_ = SituationFacts(
            state,
            name_change=change,
            check_failed=failed,
            active=active,
            business_app=link,
            history_sync=history,
        )
        rows.append(_fact_row(facts_))
    # Meta's quality and limit facts, against every state, name change, failed read, activity and link.
    for state, change, failed, active, link, quality, status, lowered in itertools.product(
        RegistrationState,
        (None, *NameChange),
        (False, True),
        (False, True),
        (None, *AppLink),
        (None, "GREEN", "YELLOW", "RED"),
        (None, "CONNECTED", "FLAGGED"),
        (False, True),
    ):
        facts_ = SituationFacts(
            state,
            name_change=change,
            check_failed=failed,
            active=active,
            business_app=link,
            quality_rating=quality,
            phone_status=status,
            limit_lowered=lowered,
        )
        rows.append(_fact_row(facts_))
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        facts.create(conn)
        conn.execute(insert(facts), rows)
        wrong = conn.execute(select(facts).where(situation_rank(facts.c) != facts.c.expected)).all()
    engine.dispose()
    assert len(rows) > 50_000 and wrong == [], wrong[:5]


def _fact_row(facts: Any) -> dict[str, Any]:
    """A ``channels`` row holding ``facts``, with the sort rank the domain gives its kind."""
    from whatsapp.domain.situations import SORT_RANK, situation_kind

    return {
        "registration_state": facts.state,
        "reauthorization_reason": facts.reason,
        "attention": facts.attention,
        "name_status": facts.name_status,
        "name_change": facts.name_change,
        "last_check_failed_at": "2026-11-25" if facts.check_failed else None,
        "failures_in_a_row": int(facts.refused),
        "active": facts.active,
        "business_app": facts.business_app,
        "history_sync": facts.history_sync,
        "quality_rating": facts.quality_rating,
        "status": facts.phone_status,
        "limit_lowered": facts.limit_lowered,
        "expected": SORT_RANK[situation_kind(facts)],
    }


def test_channels_that_need_action_sort_first_in_the_declared_precedence(store: ChannelStore) -> None:
    """One channel per kind: every ``needs_action`` row before every other, each in ``SORT_RANK`` order."""
    from tests.api.situation_seed import seed_situations
    from whatsapp.domain.situations import SITUATIONS, SORT_RANK
    from whatsapp.store.views import channel_situation

    seeded = seed_situations(store)
    page = store.fleet.page(FleetQuery(sort="needs_action", include_inactive=True, limit=MAX_LIMIT))
    kinds = [channel_situation(status).kind for status in page.rows]
    assert sorted(kinds) == sorted(seeded)  # one row per kind
    flags = [SITUATIONS[kind].needs_action for kind in kinds]
    assert flags == sorted(flags, reverse=True) and any(flags) and not all(flags)
    assert kinds == sorted(kinds, key=SORT_RANK.__getitem__), kinds
    descending = store.fleet.page(FleetQuery(sort="needs_action", order="desc", include_inactive=True))
    assert [channel_situation(status).kind for status in descending.rows] == kinds[::-1][:50]


def test_situation_filters_and_counts_agree_with_the_domain(store: ChannelStore) -> None:
    """Each kind's filter finds exactly its channel, on both dialects, and the counts say so too."""
    from tests.api.situation_seed import seed_situations
    from whatsapp.domain.situations import NEEDS_ACTION_KINDS, SituationKind
    from whatsapp.store.views import channel_situation

    seeded = seed_situations(store)
    counts = store.fleet.counts()
    assert counts["needs_action"] == len(NEEDS_ACTION_KINDS)
    for kind, channel in seeded.items():
        page = store.fleet.page(FleetQuery(situation=(kind,), include_inactive=True, limit=500))
        assert [status.channel.id for status in page.rows] == [channel.id], kind
        assert page.total == 1 and channel_situation(page.rows[0]).kind is kind
        inactive = kind in (SituationKind.OFFBOARDED, SituationKind.APP_DISCONNECTED)
        assert counts["situation"][kind.value] == int(not inactive)
    wanted = FleetQuery(needs_action=True, limit=500)
    assert {channel_situation(s).kind for s in store.fleet.page(wanted).rows} == NEEDS_ACTION_KINDS


def test_a_search_counts_its_matches_beyond_the_page(store: ChannelStore) -> None:
    from tests.api.situation_seed import seed_situations
    from whatsapp.domain.situations import SituationKind

    seed_situations(store)
    first = store.fleet.page(FleetQuery(q="situation", limit=2))
    active = len(SituationKind) - 2  # the two offboarded ones are inactive
    assert first.total == active and len(first.rows) == 2
    past_the_end = store.fleet.page(FleetQuery(q="situation", limit=2, offset=100))
    assert past_the_end.total == active and past_the_end.rows == ()
    assert store.fleet.page(FleetQuery(q="no such name")).total == 0


@pytest.mark.parametrize(
    "typed",
    [
        "555-000-0120",  # as the page shows it
        "+15550000120",  # E.164
        "15550000120",  # its digits
        "5550000120",  # without the country code
        "+1 (555) 000.0120",  # as people write it
        "0000120",  # the end of it
    ],
)
def test_a_number_is_found_however_it_is_typed(store: ChannelStore, typed: str) -> None:
    wanted = _numbered(store, 1, "+1 555-000-0120")
    _numbered(store, 2, "+1 555-000-0121")
    from_webhook = _numbered(store, 3, "15550000120")  # digits only, as webhooks send it
    page = store.fleet.page(FleetQuery(q=typed, sort="account"), now=NOW)
    assert [status.channel.id for status in page.rows] == [wanted.id, from_webhook.id], typed
    assert page.total == 2


@pytest.mark.parametrize("typed", ["555-000-0199", "+1 555 000 0199", "1-800-FLOWERS"])
def test_a_digits_search_finds_no_other_number(store: ChannelStore, typed: str) -> None:
    _numbered(store, 1, "+1 555-000-0120")
    assert store.fleet.page(FleetQuery(q=typed), now=NOW).total == 0


def _numbered(store: ChannelStore, n: int, shown: str) -> Any:
    """Channel ``n`` whose ``display_phone_number`` is ``shown`` (as Meta's health read stores it)."""
    channel = add_channel(store, n)
    with store.engine.begin() as conn:
        conn.execute(update(channels).where(channels.c.id == channel.id).values(display_phone_number=shown))
    return channel
