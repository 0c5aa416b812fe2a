"""How many shards an audit runs in, and each shard's share of the connection's concurrency."""

from __future__ import annotations

import pytest

from whatsapp.domain.audit_plan import (
    AUTO,
    CHANNELS_PER_SHARD,
    MAX_AUTO_SHARDS,
    shard_concurrency,
    shard_count,
)


@pytest.mark.parametrize(
    ("active", "requested", "expected"),
    [
        (0, AUTO, 1),  # an empty fleet still gets its (empty) audit task
        (1, AUTO, 1),
        (10_000, AUTO, 1),
        (CHANNELS_PER_SHARD, AUTO, 1),
        (CHANNELS_PER_SHARD + 1, AUTO, 2),
        (100_000, AUTO, 2),
        (100_001, AUTO, 3),
        (10_000_000, AUTO, MAX_AUTO_SHARDS),  # automatic never goes past the cap
        (100_000, 1, 1),  # asked for: as asked, whatever the size
        (10, 4, 4),
        (0, 64, 64),
    ],
)
def test_shard_count(active: int, requested: int, expected: int) -> None:
    assert shard_count(active, requested) == expected


@pytest.mark.parametrize(
    ("max_concurrency", "shards", "expected"),
    [(32, 1, 32), (32, 2, 16), (32, 3, 10), (32, 64, 1), (1, 8, 1)],
)
def test_shards_share_the_connections_concurrency(max_concurrency: int, shards: int, expected: int) -> None:
    share = shard_concurrency(max_concurrency, shards)
    assert share == expected
    assert share * shards <= max(max_concurrency, shards)  # never more in flight than the connection allows


@pytest.mark.parametrize(("active", "requested"), [(-1, AUTO), (10, -1)])
def test_shard_count_refuses_negative_input(active: int, requested: int) -> None:
    with pytest.raises(ValueError, match="need requested >= 0"):
        shard_count(active, requested)


@pytest.mark.parametrize(("max_concurrency", "shards"), [(0, 1), (8, 0)])
def test_shard_concurrency_refuses_zero(max_concurrency: int, shards: int) -> None:
    with pytest.raises(ValueError, match="need max_concurrency >= 1"):
        shard_concurrency(max_concurrency, shards)
