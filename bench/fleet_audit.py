"""Fleet audit benchmark: N channels through the code path the fleet DAG runs (``run_audit``).

Usage::

    .venv/bin/python bench/fleet_audit.py --channels 10000 --latency-ms 100
    .venv/bin/python bench/fleet_audit.py --channels 10000 --latency-ms 100 --naive --naive-sample 200
    .venv/bin/python bench/fleet_audit.py --channels 100000 --latency-ms 100 --http2

Starts the Graph API simulator (``--latency-ms`` on every request), seeds N numbers in the
mix of ``tests/fleet/fleet_mix.py`` (provisioned, pending, name in review, declined, expired
token, YELLOW/RED), loads them into a throw-away schema of ``WHATSAPP_TEST_DATABASE_URL``
(dropped at the end) and prints ONE JSON line on stdout.

The audit runs as the fleet DAG runs it: in ``--shards`` fresh processes side by side (by
default as many as the DAG picks for N channels: one per 50,000), each the code path of one
mapped audit task, started together once all have imported. ``wall_s`` runs from that start to
the last shard's end. ``peak_rss_mb`` is the largest shard's own high-water mark (interpreter and
imports included, seeding excluded), the memory one worker slot needs; ``total_rss_mb`` adds up
all shards. ``http_requests`` is what the simulator counted during the audit. ``--concurrency``
is the connection's ``max_concurrency`` (default: the connection's default), which the shards
share; ``peak_concurrency`` is the most batches in flight the adaptive pacing reached, summed
over shards. The machine is shared by the audit, the simulator and PostgreSQL, so the line also
gives ``audit_cpu_s`` (the shards' CPU time), ``simulator_cpu_s`` (the simulator process's,
during the audit) and ``load_1m`` (the load average when the audit ended): a wall time far
above ``audit_cpu_s`` with a high load means other processes had the CPUs.
``audit_cpu_per_sim_cpu`` (``audit_cpu_s / simulator_cpu_s``) is the audit's cost in units of
the simulator's work for the same requests: a slow or busy day slows both alike, so it reads the
same on a fast and a slow day where ``wall_s`` and the CPU seconds do not. ``floor_s`` is
``http_requests * latency / max_concurrency``: the wall time of a client that always kept the
most requests allowed in flight and spent no time of its own.

``--http2`` starts the simulator with ``--http2`` (Hypercorn) and sets the connection's
``http2_prior_knowledge`` extra, so the shards multiplex their batches over one HTTP/2 connection
each, as against Graph over TLS; without it they keep a pool of HTTP/1.1 connections (uvicorn),
whose upkeep is client CPU that Graph does not cause. ``http_version`` is what the simulator saw
the audit's requests come in as (``"HTTP/1.1"``, ``"HTTP/2"``, or both joined with ``+``), and
``http_connections`` the client connections they came over. Hypercorn costs more CPU per request
than uvicorn (about 2.4 times here: pure-Python HTTP/2 that Huffman-codes each batch answer's
7.75 kB usage header), so ``simulator_cpu_s`` and ``audit_cpu_per_sim_cpu`` compare only between
runs with the same flag: a lower ratio with ``--http2`` is the dearer simulator, not a cheaper audit.
``--naive`` also measures the one-GET-per-channel sequential baseline on the first
``--naive-sample`` channels of the same data and extrapolates it to N (labelled
``measured_*`` / ``extrapolated_*``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import psutil

# The checkout importable, then bench/_bootstrap.py: Airflow's settings in the environment
# before Airflow is first imported (it sorts before the other project imports).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import URL, make_url

from bench._bootstrap import DATABASE_URL
from include.graph_simulator.process import RunningSimulator, SimulatorProcess
from tests.fleet.fleet_mix import SeededNumber, seed_simulator
from tests.support.simulator_fixtures import GRAPH_CONN_ENV, graph_connection
from whatsapp.defaults import DEFAULT_MAX_CONCURRENCY
from whatsapp.domain.audit_plan import AUTO as AUTO_SHARDS
from whatsapp.domain.audit_plan import CHANNELS_PER_SHARD, shard_count
from whatsapp.store import ChannelStore, StoreTarget
from whatsapp.store.schema import channels

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LOAD_CHUNK = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--naive", action="store_true", help="also measure the sequential baseline")
    parser.add_argument("--naive-sample", type=int, default=200, help="channels the baseline really audits")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_MAX_CONCURRENCY,
        help=f"the Graph connection's max_concurrency (its default: {DEFAULT_MAX_CONCURRENCY})",
    )
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument(
        "--http2",
        action="store_true",
        help="simulator with --http2, connection with http2_prior_knowledge: one HTTP/2 connection a shard",
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=AUTO_SHARDS,
        help="audit processes side by side, as the fleet DAG's mapped audit tasks "
        f"(default {AUTO_SHARDS}: as the DAG picks, one per {CHANNELS_PER_SHARD:,} channels)",
    )
    return parser.parse_args()


def load_channels(store: ChannelStore, numbers: Iterable[SeededNumber]) -> int:
    """Insert one channel per number, ``LOAD_CHUNK`` rows per statement, tokens encrypted as the store does.

    Bench-only: ``upsert_channel`` (one transaction per signup) takes ~10 ms a row, too slow for
    100,000; the store has no bulk import. PIN and verify token are unused by the audit: one
    ciphertext serves every row.
    """
    pin_enc = store.secrets.encrypt("000000")
    verify_enc = store.secrets.encrypt("bench-verify-token")
    loaded = 0
    rows_iter = iter(numbers)
    while chunk := list(islice(rows_iter, LOAD_CHUNK)):
        rows = [
            {
                "account_id": number.index + 1,
                "inbox_id": 1,
                "phone_number_id": number.phone_number_id,
                "waba_id": number.waba_id,
                "business_id": number.business_id,
                "display_phone_number": number.display_phone_number,
                "access_token_enc": store.secrets.encrypt(number.access_token),
                "pin_enc": pin_enc,
                "verify_token_enc": verify_enc,
                "source": "bench",
                "active": True,
                "reauthorization_required": False,
                "registration_state": "unknown",
                "failures_in_a_row": 0,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for number in chunk
        ]
        with store.engine.begin() as conn:
            conn.execute(insert(channels), rows)
        loaded += len(rows)
    return loaded


@contextmanager
def throwaway_schema(raw_url: str) -> Iterator[StoreTarget]:
    """A fresh PostgreSQL schema for this run, dropped afterwards whatever happens."""
    url: URL = make_url(raw_url).set(drivername="postgresql+psycopg2")
    schema = f"wa_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield StoreTarget(url, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _child(mode: str, target: StoreTarget, options: dict[str, Any], pipe: Any, start: Any) -> None:
    """Runs in a fresh process: imports, then (when every shard is ready) one audit; sends back its
    end on the system-wide monotonic clock, CPU time, report and peak RSS."""
    os.dup2(2, 1)  # task logs go to stderr: stdout carries the one JSON line
    from bench.naive_audit import naive_audit
    from whatsapp.fleet_audit import run_audit
    from whatsapp.hooks.graph import WhatsAppGraphHook

    store = ChannelStore.from_target(target)
    pipe.send("ready")
    start.wait()
    cpu_started = time.process_time()
    if mode == "naive":
        report = naive_audit(WhatsAppGraphHook(), store, **options)
    else:
        report = run_audit(WhatsAppGraphHook(), store, **options)
    ended = time.monotonic()
    cpu_s = time.process_time() - cpu_started
    store.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pipe.send({"ended": ended, "cpu_s": cpu_s, "report": report.to_dict(), "peak_rss_mb": peak_mb})


def measure(
    mode: str, target: StoreTarget, sim: RunningSimulator, shards: int = 1, **options: Any
) -> dict[str, Any]:
    """One audit in ``shards`` spawned processes started together, as the fleet DAG's mapped audit
    tasks run; the simulator's request count and CPU for its duration added.

    ``wall_s`` runs from the common start to the last shard's end (imports excluded: a worker has
    them loaded before the task starts); ``cpu_s`` and the report's counts are summed over shards.
    """
    control = sim.control
    sim_process = psutil.Process(sim.pid)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    shard_options = [dict(options, shard=(k, shards)) if shards > 1 else options for k in range(shards)]
    children = []
    for shard_option in shard_options:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(mode, target, shard_option, sender, start))
        process.start()
        children.append((process, receiver))
    for process, receiver in children:
        if receiver.recv() != "ready":
            raise SystemExit(f"{mode} audit process {process.pid} did not start")
    sim_cpu_before = sum(sim_process.cpu_times()[:2])
    before = control.stats()
    started = time.monotonic()
    start.set()
    runs = [receiver.recv() for _, receiver in children]
    for process, _ in children:
        process.join()
        if process.exitcode:
            raise SystemExit(f"{mode} audit process failed with exit code {process.exitcode}")
    after = control.stats()
    versions = {
        version: count - before["http_versions"].get(version, 0)
        for version, count in after["http_versions"].items()
    }
    return {
        "shards": shards,
        "wall_s": max(run["ended"] for run in runs) - started,
        "cpu_s": sum(run["cpu_s"] for run in runs),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "total_rss_mb": sum(run["peak_rss_mb"] for run in runs),
        "report": _merged([run["report"] for run in runs]),
        "http_requests": after["http_requests"] - before["http_requests"],
        "http_version": "+".join(f"HTTP/{version}" for version, count in sorted(versions.items()) if count),
        "http_connections": after["connections"] - before["connections"],
        "simulator_cpu_s": sum(sim_process.cpu_times()[:2]) - sim_cpu_before,
        "load_1m": os.getloadavg()[0],
    }


def _merged(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The shards' reports as one: counts and peak concurrencies (all in flight at once) added."""
    keys = ("channels", "audited", "failed", "skipped_throttled", "applied", "peak_concurrency")
    return {key: sum(report[key] for report in reports) for key in keys}


def main() -> None:
    args = parse_args()
    with (
        SimulatorProcess("--latency-ms", str(args.latency_ms), http2=args.http2) as sim,
        throwaway_schema(DATABASE_URL) as target,
    ):
        prior_knowledge = {"http2_prior_knowledge": True} if args.http2 else {}
        os.environ[GRAPH_CONN_ENV] = graph_connection(
            sim.base_url, sim.control, max_concurrency=args.concurrency, **prior_knowledge
        )
        store = ChannelStore.from_target(target)
        store.migrate()
        seeding = time.perf_counter()
        loaded = load_channels(store, seed_simulator(sim.control, args.channels))
        seed_s = time.perf_counter() - seeding
        store.dispose()
        shards = shard_count(loaded, args.shards)
        batched = measure("batched", target, sim, shards, now=NOW, page_size=args.page_size)
        line = figures(args, loaded, batched, seed_s)
        if args.naive:
            naive = measure(
                "naive",
                target,
                sim,
                now=NOW + timedelta(hours=1),
                limit=args.naive_sample,
            )
            line = naive_figures(args, loaded, naive, batched)
    print(json.dumps(line), flush=True)


def figures(args: argparse.Namespace, channels: int, run: dict[str, Any], seed_s: float) -> dict[str, Any]:
    report = run["report"]
    return {
        "mode": "batched",
        "channels": channels,
        "latency_ms": args.latency_ms,
        "max_concurrency": args.concurrency,
        "shards": run["shards"],
        "wall_s": round(run["wall_s"], 3),
        "http_requests": run["http_requests"],
        "http_version": run["http_version"],
        "http_connections": run["http_connections"],
        "floor_s": round(run["http_requests"] * args.latency_ms / 1000 / args.concurrency, 3),
        "channels_per_s": round(channels / run["wall_s"], 1),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "rss_scope": "the largest audit process (imports included, seeding excluded)",
        "total_rss_mb": round(run["total_rss_mb"], 1),
        "peak_concurrency": report["peak_concurrency"],
        "audit_cpu_s": round(run["cpu_s"], 1),
        "simulator_cpu_s": round(run["simulator_cpu_s"], 1),
        "audit_cpu_per_sim_cpu": round(run["cpu_s"] / run["simulator_cpu_s"], 2),
        "load_1m": round(run["load_1m"], 1),
        "audited": report["audited"],
        "failed": report["failed"],
        "skipped_throttled": report["skipped_throttled"],
        "applied": report["applied"],
        "seed_s": round(seed_s, 1),
    }


def naive_figures(
    args: argparse.Namespace, channels: int, naive: dict[str, Any], batched: dict[str, Any]
) -> dict[str, Any]:
    measured = naive["report"]["channels"]
    extrapolated = naive["wall_s"] / measured * channels
    return {
        "mode": "naive",
        "channels": channels,
        "latency_ms": args.latency_ms,
        "measured_channels": measured,
        "measured_wall_s": round(naive["wall_s"], 3),
        "measured_http_requests": naive["http_requests"],
        "extrapolated_wall_s": round(extrapolated, 1),
        "wall_s": round(extrapolated, 1),
        "http_requests": channels,
        "extrapolated": ["wall_s", "http_requests"],
        "channels_per_s": round(measured / naive["wall_s"], 1),
        "peak_rss_mb": round(naive["peak_rss_mb"], 1),
        "batched_wall_s": round(batched["wall_s"], 3),
        "batched_http_requests": batched["http_requests"],
        "slowdown_vs_batched": round(extrapolated / batched["wall_s"], 1),
    }


if __name__ == "__main__":
    main()
