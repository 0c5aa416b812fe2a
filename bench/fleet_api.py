"""Fleet API benchmark: ``GET /whatsapp/api/v1/fleet`` on a real ``airflow api-server`` at N channels.

Usage::

    .venv/bin/python bench/fleet_api.py                      # 100,000 channels
    .venv/bin/python bench/fleet_api.py --channels 20000 --requests 100

Seeds N channels into a throw-away schema of ``WHATSAPP_TEST_DATABASE_URL`` in a few
``INSERT ... SELECT generate_series`` statements (the state mix of ``tests/fleet/fleet_mix.py``:
per 20 channels 12 healthy, 2 pending, 2 names in review, 1 declined, 1 expired token, 1
YELLOW, 1 RED/FLAGGED; every 100th inactive; 1-3 register attempts for each channel that is
not registered), then ``VACUUM ANALYZE`` as autovacuum would after a bulk load. Starts
``airflow api-server`` (its own AIRFLOW_HOME with SQLite metadata, SimpleAuthManager users of
``tests/api/airflow_auth.py``, Airflow's default of one worker) with the plugin, gets a JWT, and
measures:

- ``--requests`` sequential requests of the main query
  (``registration_state=scheduled&limit=50``) and of a few other filters/sorts (``queries``);
- ``--concurrency`` clients sending the main query in a loop for ``--load-seconds`` while one
  more client polls Airflow's ``/api/v2/monitor/health`` (``airflow_health_p95_ms``; the same
  probe without load is ``airflow_health_idle_p95_ms``).

Prints ONE JSON line on stdout; stops the API server and drops the schema whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The checkout importable, then bench/_bootstrap.py: Airflow's settings in the environment
# before Airflow is first imported (it sorts before the other project imports).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import httpx
from sqlalchemy import text

from bench._bootstrap import DATABASE_URL
from bench.fleet_audit import throwaway_schema
from include.airflow_processes import AirflowServers, run_airflow
from include.graph_simulator.process import free_port
from tests.api.airflow_auth import PASSWORDS, server_env
from tests.fleet.fleet_mix import CYCLE, Kind
from tests.support.store_fixtures import connection_env_value
from whatsapp.store import ChannelStore, StoreTarget

FLEET = "/whatsapp/api/v1/fleet"
HEALTH = "/api/v2/monitor/health"
MAIN_QUERY = "registration_state=scheduled&limit=50"
#: Other filters and sorts measured sequentially (name -> query string).
OTHER_QUERIES: dict[str, str] = {
    "needs_action_first_page": "sort=needs_action&limit=50",
    "red_by_last_check": "quality_rating=RED&sort=checked_at&order=desc&limit=50",
    "pending_by_next_try": "provisioning=pending&sort=next_attempt_at&limit=50",
    "scheduled_page_100": "registration_state=scheduled&sort=needs_action&limit=50&offset=5000",
    "everything_by_account": "limit=50",
    "by_phone_number_desc": "sort=display_phone_number&order=desc&limit=50",
    # The page's summary badges (situation kinds decided per fact combination) and search.
    "needs_action_badge": "needs_action=true&sort=needs_action&limit=50",
    "situation_in_review": "situation=name_in_review&sort=needs_action&limit=50",
    "situation_none_match": "situation=pin_mismatch&limit=50",
    "search_phone_digits": "q=0012345&limit=50",
}

#: Per kind of ``fleet_mix``: (provisioning, registration_state, reauthorization_reason,
#: name_status, quality_rating, status) as the audit and the registration flow leave them.
_STATE_BY_KIND: dict[Kind, tuple[str, str, str | None, str, str, str]] = {
    Kind.PROVISIONED: ("provisioned", "registered", None, "APPROVED", "GREEN", "CONNECTED"),
    Kind.PENDING: ("pending", "scheduled", "registration_incomplete", "APPROVED", "GREEN", "PENDING"),
    Kind.NAME_IN_REVIEW: (
        "pending",
        "scheduled",
        "registration_incomplete",
        "PENDING_REVIEW",
        "GREEN",
        "PENDING",
    ),
    Kind.NAME_DECLINED: (
        "pending",
        "needs_attention",
        "registration_incomplete",
        "DECLINED",
        "GREEN",
        "PENDING",
    ),
    Kind.EXPIRED_TOKEN: ("provisioned", "registered", "token_invalid", "APPROVED", "GREEN", "CONNECTED"),
    Kind.YELLOW: ("provisioned", "registered", None, "APPROVED", "YELLOW", "CONNECTED"),
    Kind.RED_FLAGGED: ("provisioned", "registered", None, "APPROVED", "RED", "FLAGGED"),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per query")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent fleet clients")
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument("--health-interval-ms", type=float, default=50.0)
    return parser.parse_args()


def _kind_case(index: str) -> Callable[[int], str]:
    """A SQL ``CASE`` over ``index % 20`` picking field ``n`` of each kind's stored state."""

    def field(n: int) -> str:
        whens = " ".join(
            f"WHEN {i} THEN {_sql_literal(_STATE_BY_KIND[kind][n])}" for i, kind in enumerate(CYCLE)
        )
        return f"(CASE ({index}) % {len(CYCLE)} {whens} END)"

    return field


def _sql_literal(value: str | None) -> str:
    return "NULL" if value is None else f"'{value}'"


def seed(store: ChannelStore, count: int) -> dict[str, int]:
    """``count`` channels and their register attempts, in set-based statements; returns row counts.

    One ciphertext serves every row's token, PIN and verify token: the listing never reads them,
    but they make the rows as wide as real ones.
    """
    token_enc = store.secrets.encrypt("EAAG" + "x" * 200)
    pin_enc = store.secrets.encrypt("123456")
    verify_enc = store.secrets.encrypt("bench-verify-token-0123456789")
    state = _kind_case("n")
    snapshot = (
        "jsonb_build_object('id', p.pid, 'display_phone_number', p.phone, 'verified_name', "
        f"'Bench customer ' || n, 'name_status', {state(3)}, 'code_verification_status', 'VERIFIED', "
        "'platform_type', 'CLOUD_API', 'throughput', jsonb_build_object('level', 'STANDARD'), "
        f"'messaging_limit_tier', 'TIER_1K', 'quality_rating', {state(4)}, 'status', {state(5)}, "
        "'account_mode', 'LIVE', 'is_official_business_account', false)"
    )
    channels_sql = f"""
        INSERT INTO channels (
            account_id, inbox_id, phone_number_id, waba_id, business_id, display_phone_number,
            verified_name, access_token_enc, pin_enc, verify_token_enc, source, active,
            name_status, code_verification_status, platform_type, throughput_level,
            messaging_limit_tier, quality_rating, status, account_mode, snapshot, checked_at,
            provisioning, last_check_error_kind, last_check_error_code, last_check_failed_at,
            reauthorization_required, reauthorization_reason, registration_state, next_attempt_at,
            failures_in_a_row, created_at, updated_at)
        SELECT 1 + n / 50, 1 + n % 50, p.pid, 'w' || p.pid, 'b' || (n / 50), p.phone,
            'Bench customer ' || n, :token, :pin, :verify, 'bench', n % 100 <> 99,
            {state(3)}, 'VERIFIED',
            CASE WHEN {state(0)} = 'pending' THEN 'NOT_APPLICABLE' ELSE 'CLOUD_API' END,
            CASE WHEN {state(0)} = 'pending' THEN 'NOT_APPLICABLE' ELSE 'STANDARD' END,
            'TIER_1K', {state(4)}, {state(5)}, 'LIVE', {snapshot},
            now() - make_interval(secs => n % 3600),
            {state(0)},
            CASE WHEN {state(2)} = 'token_invalid' THEN 'token_invalid' END,
            CASE WHEN {state(2)} = 'token_invalid' THEN 190 END,
            CASE WHEN {state(2)} = 'token_invalid' THEN now() - interval '1 hour' END,
            {state(2)} IS NOT NULL, {state(2)}, {state(1)},
            CASE WHEN {state(1)} = 'scheduled' THEN now() + make_interval(secs => n % 43200) END,
            CASE WHEN {state(1)} = 'registered' THEN 0 ELSE 1 + n % 3 END,
            now() - interval '30 days', now()
        FROM generate_series(0, :count - 1) AS n,
            LATERAL (SELECT (100000000000000 + n)::text AS pid,
                            '+1 555 ' || lpad(n::text, 7, '0') AS phone) AS p
    """
    attempts_sql = """
        INSERT INTO registration_attempts
            (channel_id, attempted_at, outcome, resulting_state, code, subcode, message, run_id)
        SELECT c.id, now() - make_interval(hours => a * 20), 'display_name_not_ready', 'scheduled',
            100, 2388001, 'Cannot Create Certificate', 'bench_' || c.id || '_' || a
        FROM channels AS c, generate_series(1, 1 + c.id::int % 3) AS a
        WHERE c.registration_state <> 'registered'
    """
    with store.engine.begin() as conn:
        conn.execute(
            text(channels_sql),
            {"token": token_enc, "pin": pin_enc, "verify": verify_enc, "count": count},
        )
        conn.execute(text(attempts_sql))
        rows = {
            name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in ("channels", "registration_attempts")
        }
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE channels"))
        conn.execute(text("VACUUM ANALYZE registration_attempts"))
    return rows


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float | int]:
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 95), 1),
        "max_ms": round(max(samples), 1),
    }


def timed_get(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} -> {response.status_code}: {response.text[:500]}")
    return elapsed


def sequential(client: httpx.Client, url: str, count: int) -> list[float]:
    for _ in range(5):  # warm up: connection pool, plan cache, first imports
        timed_get(client, url)
    return [timed_get(client, url) for _ in range(count)]


def probe_health(base_url: str, stop: threading.Event, interval_s: float, out: list[float]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            out.append(timed_get(client, HEALTH))
            stop.wait(interval_s)


def under_load(base_url: str, headers: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """``--concurrency`` fleet clients in a loop while the health probe runs; both latencies."""
    stop = threading.Event()
    fleet: list[float] = []
    health: list[float] = []
    errors: list[BaseException] = []

    def client_loop() -> None:
        try:
            with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
                while not stop.is_set():
                    fleet.append(timed_get(client, f"{FLEET}?{MAIN_QUERY}"))
        except BaseException as exc:  # reported after the run
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=client_loop) for _ in range(args.concurrency)]
    probe = threading.Thread(
        target=probe_health, args=(base_url, stop, args.health_interval_ms / 1000, health)
    )
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every client in flight before the health probe starts
    probe.start()
    time.sleep(args.load_seconds)
    stop.set()
    for thread in [*threads, probe]:
        thread.join()
    if errors:
        raise RuntimeError(f"a load client failed: {errors[0]!r}")
    return {"fleet": summary(fleet), "health": summary(health), "fleet_rps": len(fleet) / args.load_seconds}


def airflow_env(home: Path, port: int, target: StoreTarget) -> dict[str, str]:
    """The API server's environment: this process's, plus auth, its own home and the store."""
    (home / "plugins").mkdir(parents=True)
    return {
        **os.environ,
        **server_env(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # The plugin comes from the installed entry point; the plugins folder stays empty.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT": connection_env_value(target),
    }


@dataclass(frozen=True)
class SeededApi:
    """An ``airflow api-server`` on a store seeded by :func:`seed`."""

    servers: AirflowServers
    rows: dict[str, int]
    seed_s: float


@contextmanager
def seeded_api_server(raw_url: str, channels: int, workdir: Path) -> Iterator[SeededApi]:
    """``channels`` seeded into a throw-away schema of ``raw_url`` and an ``airflow api-server`` with
    the plugin on it (Airflow's home and logs in ``workdir``); the server stopped and the schema
    dropped afterwards, the server's log tail on stderr if the body fails."""
    with throwaway_schema(raw_url) as target:
        store = ChannelStore.from_target(target)
        store.migrate()
        seeding = time.perf_counter()
        rows = seed(store, channels)
        seed_s = time.perf_counter() - seeding
        store.dispose()

        port = free_port()
        env = airflow_env(workdir / "airflow-home", port, target)
        run_airflow(env, "db", "migrate")
        servers = AirflowServers(env, workdir, port)
        try:
            servers.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port))
            servers.wait_for_api()
            yield SeededApi(servers, rows, seed_s)
        except BaseException:
            print(f"--- api-server log (tail) ---\n{servers.log_tail('api-server')}", file=sys.stderr)
            raise
        finally:
            servers.stop()


def main() -> None:
    args = parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="fleet-api-") as tmp,
        seeded_api_server(DATABASE_URL, args.channels, Path(tmp)) as api,
    ):
        base_url = api.servers.base_url
        with httpx.Client(base_url=base_url, timeout=60) as client:
            token = client.post(
                "/auth/token", json={"username": "admin", "password": PASSWORDS["admin"]}
            ).raise_for_status()
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            main_ms = sequential(client, f"{FLEET}?{MAIN_QUERY}", args.requests)
            queries = {
                name: summary(sequential(client, f"{FLEET}?{query}", args.requests))
                for name, query in OTHER_QUERIES.items()
            }
            idle_health = sequential(client, HEALTH, args.requests)
            headers = dict(client.headers)
        load = under_load(base_url, {"Authorization": headers["authorization"]}, args)
    rows, seed_s = api.rows, api.seed_s

    main_summary = summary(main_ms)
    line = {
        "channels": rows["channels"],
        "p50_ms": main_summary["p50_ms"],
        "p95_ms": main_summary["p95_ms"],
        "airflow_health_p95_ms": load["health"]["p95_ms"],
        "airflow_health_p50_ms": load["health"]["p50_ms"],
        "airflow_health_idle_p95_ms": summary(idle_health)["p95_ms"],
        "main_query": MAIN_QUERY,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "load_seconds": args.load_seconds,
        "under_load_fleet": load["fleet"],
        "under_load_fleet_rps": round(load["fleet_rps"], 1),
        "health_probes": load["health"]["n"],
        "queries": queries,
        "registration_attempts": rows["registration_attempts"],
        "seed_s": round(seed_s, 1),
    }
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
