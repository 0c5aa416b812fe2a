"""CSV export benchmark: ``GET /whatsapp/api/v1/fleet/export.csv`` on a real ``airflow api-server``.

Usage::

    .venv/bin/python bench/fleet_export.py                   # 10,000 channels, 5 downloads each
    .venv/bin/python bench/fleet_export.py --channels 100000 --runs 3

Seeds N channels with ``bench/fleet_api.py``'s set-based seeder (its state mix, every 100th
channel inactive) into a throw-away schema of ``WHATSAPP_TEST_DATABASE_URL``, starts ``airflow
api-server`` with the plugin (one worker, Airflow's default), and downloads, as ``admin``, ``--runs``
times each:

- ``all``: ``include_inactive=true&sort=needs_action``: every seeded channel, through the
  filtered path (the headline figure: N filtered channels);
- ``filtered``: ``provisioning=pending&sort=account`` (active channels only: a subset).

For each: wall time from request to last byte (p50 and max), time to the first byte, rows and
bytes, and ``server_cpu_s``: the API server's CPU time (its process tree, user + system) per
download, which another job's load on the machine does not inflate as it does wall times (the
health probe below adds a few milliseconds to it). While the downloads run, one more client
polls Airflow's ``/api/v2/monitor/health`` every 50 ms: its p95 shows whether the export holds
the API server's event loop (it must not).

Prints ONE JSON line on stdout; stops the API server and drops the schema whatever happens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# The checkout importable, then bench/_bootstrap.py: Airflow's settings in the environment
# before Airflow is first imported (it sorts before the other project imports).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import httpx
import psutil

from bench._bootstrap import DATABASE_URL
from bench.fleet_api import HEALTH, percentile, seeded_api_server
from tests.api.airflow_auth import PASSWORDS

EXPORT = "/whatsapp/api/v1/fleet/export.csv"
QUERIES: dict[str, str] = {
    "all": "include_inactive=true&sort=needs_action",
    "filtered": "provisioning=pending&sort=account",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="downloads per query")
    return parser.parse_args()


def download(client: httpx.Client, query: str) -> dict[str, float]:
    """One export, streamed to the end: seconds to the first byte and to the last, rows, bytes."""
    started = time.perf_counter()
    first_byte: float | None = None
    size = lines = 0
    with client.stream("GET", f"{EXPORT}?{query}") as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\r\n")
    return {
        "s": time.perf_counter() - started,
        "ttfb_s": first_byte or 0.0,
        "rows": lines - 1,  # the header
        "bytes": size,
    }


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU of ``process`` and its children (the API server's workers)."""
    total = 0.0
    for each in (process, *process.children(recursive=True)):
        times = each.cpu_times()
        total += times.user + times.system
    return total


def poll_health(base_url: str, stop: threading.Event, samples: list[float]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(HEALTH).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
            stop.wait(0.05)


def main() -> None:
    args = parse_args()
    results: dict[str, Any] = {}
    health_ms: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="fleet-export-") as tmp,
        seeded_api_server(DATABASE_URL, args.channels, Path(tmp)) as api,
    ):
        base_url = api.servers.base_url
        server = psutil.Process(api.servers.pid("api-server"))
        with httpx.Client(base_url=base_url, timeout=120) as client:
            token = client.post(
                "/auth/token", json={"username": "admin", "password": PASSWORDS["admin"]}
            ).raise_for_status()
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            download(client, QUERIES["filtered"])  # warm: imports, first connection
            stop = threading.Event()
            poller = threading.Thread(target=poll_health, args=(base_url, stop, health_ms), daemon=True)
            poller.start()
            try:
                for name, query in QUERIES.items():
                    cpu_before = cpu_seconds(server)
                    runs = [download(client, query) for _ in range(args.runs)]
                    cpu_each = (cpu_seconds(server) - cpu_before) / args.runs
                    times = [run["s"] for run in runs]
                    results[name] = {
                        "query": query,
                        "rows": runs[-1]["rows"],
                        "bytes": runs[-1]["bytes"],
                        "p50_s": round(statistics.median(times), 3),
                        "max_s": round(max(times), 3),
                        "ttfb_p50_s": round(statistics.median(run["ttfb_s"] for run in runs), 3),
                        "server_cpu_s": round(cpu_each, 3),
                    }
            finally:
                stop.set()
                poller.join()
    line = {
        "channels": api.rows["channels"],
        "export_all_p50_s": results["all"]["p50_s"],
        "export_all_server_cpu_s": results["all"]["server_cpu_s"],
        **results,
        "runs": args.runs,
        "airflow_health_p95_ms_during_exports": round(percentile(health_ms, 95), 1),
        "airflow_health_samples": len(health_ms),
        "seed_s": round(api.seed_s, 1),
    }
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
