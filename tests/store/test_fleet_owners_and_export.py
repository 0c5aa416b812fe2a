"""Filters by owner (account, WABA, business), the offboarded count, and the export's chunked read.

A few channels under two accounts, three WABAs and two businesses, one of them offboarded, on
PostgreSQL and SQLite.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from tests.store.helpers import NOW
from whatsapp.domain.situations import situation_kind
from whatsapp.store import ChannelStore
from whatsapp.store.fleet_listing import (
    EXPORT_COLUMNS,
    MAX_LIMIT,
    FleetQuery,
    export_rows,
    facts_of,
    fleet_overview,
)
from whatsapp.store.schema import channels

#: (account_id, waba_id, business_id, active) of each seeded channel, in inbox order per account.
OWNERS: tuple[tuple[int, str, str, bool], ...] = (
    (7, "100000000000001", "900000000000001", True),
    (7, "100000000000001", "900000000000001", True),
    (7, "100000000000002", "900000000000001", True),
    (8, "100000000000002", "900000000000002", True),
    (8, "100000000000003", "900000000000002", True),
    (8, "100000000000003", "900000000000002", False),
)


@pytest.fixture
def owned(store: ChannelStore) -> dict[int, tuple[int, str, str, bool]]:
    """Channel id -> its owners, as :data:`OWNERS` says."""
    seeded = {}
    for n, (account_id, waba_id, business_id, active) in enumerate(OWNERS):
        channel = store.channels.upsert(
            account_id=account_id,
            phone_number_id=f"2065403522{n:05d}",
            waba_id=waba_id,
            business_id=business_id,
            access_token=f"EAAG-token-{n}",
            display_phone_number=f"+1 555-020-{n:04d}",
        )
        if not active:
            with store.engine.begin() as conn:
                conn.execute(update(channels).where(channels.c.id == channel.id).values(active=False))
        seeded[channel.id] = (account_id, waba_id, business_id, active)
    return seeded


def _ids(store: ChannelStore, **kwargs: Any) -> set[int]:
    page = store.fleet.page(FleetQuery(**kwargs, limit=MAX_LIMIT), now=NOW)
    assert page.total == len(page.rows)
    return {status.channel.id for status in page.rows}


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"account_id": (7,)}, lambda a, w, b: a == 7),
        ({"account_id": (7, 8)}, lambda a, w, b: True),
        ({"account_id": (9,)}, lambda a, w, b: False),
        ({"waba_id": ("100000000000002",)}, lambda a, w, b: w == "100000000000002"),
        ({"waba_id": ("100000000000001", "100000000000003")}, lambda a, w, b: w != "100000000000002"),
        ({"business_id": ("900000000000002",)}, lambda a, w, b: b == "900000000000002"),
        (
            {"account_id": (7,), "waba_id": ("100000000000002",), "business_id": ("900000000000001",)},
            lambda a, w, b: (a, w, b) == (7, "100000000000002", "900000000000001"),
        ),
        ({"account_id": (8,), "business_id": ("900000000000001",)}, lambda a, w, b: False),
    ],
)
@pytest.mark.parametrize("include_inactive", [False, True])
def test_owner_filters_match_exactly_and_any_of_their_values(
    store: ChannelStore,
    owned: dict[int, tuple[int, str, str, bool]],
    filters: dict[str, Any],
    keep: Any,
    include_inactive: bool,
) -> None:
    expected = {
        channel_id
        for channel_id, (a, w, b, active) in owned.items()
        if keep(a, w, b) and (active or include_inactive)
    }
    assert _ids(store, **filters, include_inactive=include_inactive) == expected
    with store.engine.connect() as conn:  # the overview's total agrees
        overview = fleet_overview(conn, FleetQuery(**filters, include_inactive=include_inactive), NOW)
    assert overview.page.total == len(expected)


def test_a_waba_id_is_not_matched_by_a_part_of_it(
    store: ChannelStore, owned: dict[int, tuple[int, str, str, bool]]
) -> None:
    assert _ids(store, waba_id=("10000000000000",)) == set()
    assert _ids(store, business_id=("0000000000001",)) == set()


def test_the_overview_counts_the_offboarded_channels_apart(
    store: ChannelStore, owned: dict[int, tuple[int, str, str, bool]]
) -> None:
    with store.engine.connect() as conn:
        counts = fleet_overview(conn, FleetQuery(), NOW).counts
    inactive = sum(1 for *_, active in owned.values() if not active)
    assert inactive == 1
    assert counts["offboarded"] == inactive
    assert counts["channels"] == len(owned) - inactive


@pytest.mark.parametrize("chunk", [1, 2, 1000])
@pytest.mark.parametrize(
    "query",
    [
        FleetQuery(sort="account"),
        FleetQuery(sort="display_phone_number", order="desc", include_inactive=True),
        FleetQuery(account_id=(8,), include_inactive=True),
        FleetQuery(q="555-020", limit=1, offset=3),  # an export ignores the page
    ],
)
def test_an_export_reads_every_match_in_order_a_chunk_at_a_time(
    store: ChannelStore, owned: dict[int, tuple[int, str, str, bool]], query: FleetQuery, chunk: int
) -> None:
    listed = store.fleet.page(FleetQuery(**{**_fields(query), "limit": MAX_LIMIT, "offset": 0}), now=NOW)
    with store.engine.connect() as conn:
        chunks = list(export_rows(conn, query, chunk=chunk))
    assert all(0 < len(c) <= chunk for c in chunks)
    exported = [row for c in chunks for row in c]
    assert [(row.account_id, row.inbox_id) for row in exported] == [
        (status.channel.account_id, status.channel.inbox_id) for status in listed.rows
    ]
    # What a row says is what the listing says, its situation kind included.
    for row, status in zip(exported, listed.rows, strict=True):
        channel = status.channel
        assert (row.phone_number_id, row.waba_id, row.business_id, row.active) == (
            channel.phone_number_id,
            channel.waba_id,
            channel.business_id,
            channel.active,
        )
        assert facts_of(row) == status.facts
        assert situation_kind(facts_of(row)) is situation_kind(status.facts)


def test_an_export_selects_no_secret() -> None:
    names = {column.name for column in EXPORT_COLUMNS}
    assert not {name for name in names if name.endswith("_enc")}, names
    assert "snapshot" not in names


def test_an_export_of_nothing_yields_no_chunk(store: ChannelStore) -> None:
    with store.engine.connect() as conn:
        assert list(export_rows(conn, FleetQuery())) == []


def test_closing_an_export_early_gives_its_connection_back(
    store: ChannelStore, owned: dict[int, tuple[int, str, str, bool]]
) -> None:
    before = store.engine.pool.checkedout()
    export = store.fleet.export(FleetQuery(include_inactive=True))
    assert len(next(export)) == len(owned)
    assert store.engine.pool.checkedout() == before + 1
    export.close()
    assert store.engine.pool.checkedout() == before


def _fields(query: FleetQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in FleetQuery.__slots__}
