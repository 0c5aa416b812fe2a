"""Bulk health-snapshot write of N channels on PostgreSQL (the fleet audit's store step).

Usage: ``.venv/bin/python bench/store_bulk_write.py [--channels 10000] [--url postgresql://...]``.
Runs in a throw-away schema of ``WHATSAPP_TEST_DATABASE_URL`` and prints one JSON line:
``first_write_s`` (every channel's first snapshot), ``update_write_s`` (a newer snapshot for every
channel), ``stale_write_s`` (an older batch, all refused by the guard). Target: < 1 s each at 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The checkout importable, then bench/_bootstrap.py: Airflow's settings in the environment
# before Airflow is first imported (it sorts before the other project imports).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from bench._bootstrap import DATABASE_URL
from whatsapp.domain.health import PhoneHealth
from whatsapp.store import ChannelStore, HealthResult, StoreTarget
from whatsapp.store.schema import channels, health_checks


def insert_channels(
    store: ChannelStore, count: int, now: datetime, **columns: Callable[[int], Any]
) -> list[int]:
    """Insert ``count`` channels in one statement and return their ids (benches measure what comes
    after onboarding, not onboarding). ``columns`` set a column per number ``n`` (0 to count - 1)."""
    token = store.secrets.encrypt("EAAG-bench-token")
    rows = [
        {
            "account_id": 1 + n // 1000,
            "inbox_id": 1 + n % 1000,
            "phone_number_id": f"1{n:014d}",
            "waba_id": f"2{n // 50:014d}",
            "business_id": "506914307656634",
            "access_token_enc": token,
            "pin_enc": token,
            "verify_token_enc": token,
            "source": "bench",
            "active": True,
            "reauthorization_required": False,
            "registration_state": "unknown",
            "failures_in_a_row": 0,
            "created_at": now,
            "updated_at": now,
            **{name: value_of(n) for name, value_of in columns.items()},
        }
        for n in range(count)
    ]
    with store.engine.begin() as conn:
        conn.execute(insert(channels), rows)
        return list(conn.execute(select(channels.c.id).order_by(channels.c.id)).scalars())


def _results(ids: list[int], checked_at: datetime) -> list[HealthResult]:
    mix = ("GREEN", "GREEN", "GREEN", "YELLOW", "RED")
    results = []
    for i, channel_id in enumerate(ids):
        pending = i % 10 == 0
        node = {
            "id": f"1{i:014d}",
            "display_phone_number": f"+1555{i:07d}",
            "verified_name": "Bench",
            "name_status": "APPROVED",
            "code_verification_status": "VERIFIED",
            "platform_type": "NOT_APPLICABLE" if pending else "CLOUD_API",
            "throughput": {"level": "NOT_APPLICABLE" if pending else "STANDARD"},
            "messaging_limit_tier": "TIER_1K",
            "quality_rating": mix[i % len(mix)],
            "status": "CONNECTED",
            "account_mode": "LIVE",
        }
        results.append(HealthResult(channel_id, checked_at, health=PhoneHealth.from_graph(node)))
    return results


def _timed(store: ChannelStore, results: list[HealthResult]) -> tuple[float, int]:
    started = time.perf_counter()
    written = store.health.record(results)
    return round(time.perf_counter() - started, 3), written.applied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument(
        "--url",
        default=DATABASE_URL,
    )
    args = parser.parse_args()
    url = make_url(args.url).set(drivername="postgresql+psycopg2")
    schema = f"wa_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    store = ChannelStore.from_target(StoreTarget(url, schema))
    try:
        store.migrate()
        now = datetime.now(UTC)
        ids = insert_channels(store, args.channels, now)
        first = _results(ids, now)
        first_s, first_applied = _timed(store, first)
        update_s, update_applied = _timed(store, _results(ids, now + timedelta(hours=1)))
        stale_s, stale_applied = _timed(store, first)
        with store.engine.connect() as conn:
            history_rows = conn.execute(select(func.count()).select_from(health_checks)).scalar_one()
        figures = {
            "bench": "store_bulk_write",
            "dialect": "postgresql",
            "channels": args.channels,
            "first_write_s": first_s,
            "update_write_s": update_s,
            "stale_write_s": stale_s,
            "applied": [first_applied, update_applied, stale_applied],
            "history_rows": history_rows,
            "target_s": 1.0,
            "ok": max(first_s, update_s, stale_s) < 1.0,
        }
        print(json.dumps(figures))
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
