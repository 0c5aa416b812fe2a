"""How a fleet audit is split into mapped tasks (shards), and how they share Graph concurrency.

One audit process spends its CPU decoding Graph batches and building store rows in a single
interpreter (one core, whatever the machine has). At 100,000 channels that, not Meta's latency,
bounds the audit, so large fleets are split by ``id % shards`` into mapped tasks that run side by
side on the workers. Each shard costs a task start-up, so a small fleet stays in one.

The connection's ``max_concurrency`` bounds the *audit's* batches in flight towards Meta, not
each shard's: shards divide it, so adding shards adds CPU, never pressure on Meta's limits.

Pure: no Airflow, no HTTP.
"""

from __future__ import annotations

#: Active channels one audit shard takes when the shard count is automatic.
CHANNELS_PER_SHARD = 50_000
#: The most shards the automatic count picks (a larger value can still be asked for explicitly).
MAX_AUTO_SHARDS = 8
#: ``audit_shards`` value that lets the fleet size decide.
AUTO = 0


def shard_count(active_channels: int, requested: int = AUTO) -> int:
    """Shards for an audit of ``active_channels``: ``requested`` when set, else one per
    :data:`CHANNELS_PER_SHARD` (at least 1, at most :data:`MAX_AUTO_SHARDS`)."""
    if requested < 0 or active_channels < 0:
        raise ValueError(f"need requested >= 0 and active_channels >= 0, got {requested}, {active_channels}")
    if requested:
        return requested
    return min(MAX_AUTO_SHARDS, max(1, -(-active_channels // CHANNELS_PER_SHARD)))


def shard_concurrency(max_concurrency: int, shards: int) -> int:
    """One shard's share of the connection's ``max_concurrency`` (at least one batch in flight)."""
    if max_concurrency < 1 or shards < 1:
        raise ValueError(f"need max_concurrency >= 1 and shards >= 1, got {max_concurrency}, {shards}")
    return max(1, max_concurrency // shards)
