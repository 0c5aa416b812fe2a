"""One large signed Meta webhook body on a real ``airflow api-server``: how long until the 200.

Usage::

    .venv/bin/python bench/webhook_large_body.py                  # 5,000 changes, 5,000 numbers
    .venv/bin/python bench/webhook_large_body.py --changes 2000 --channels 500

Seeds ``--channels`` channels (50 numbers per WABA, registered, so no change starts a register
run) into a throw-away schema of ``WHATSAPP_TEST_DATABASE_URL``, starts ``airflow api-server``
with the plugin and a Graph connection that holds only the app secret (the receiver makes no
Graph call), then POSTs to ``/whatsapp/webhooks/meta``: one small body to warm the server up,
one body of ``--changes`` changes (one entry each, as Meta batches them: quality updates with
their limits, and name decisions, each naming a seeded number), and the same body again (Meta's
redelivery: every change a duplicate). Meta expects its 200 quickly and redelivers otherwise
(https://developers.facebook.com/docs/graph-api/webhooks/getting-started); the target here is
an answer within 2 s.

Prints ONE JSON line on stdout; stops the server and drops the schema whatever happens.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The checkout importable, then bench/_bootstrap.py: Airflow's settings in the environment
# before Airflow is first imported (it sorts before the other project imports).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import httpx
from sqlalchemy import func, select

from bench._bootstrap import DATABASE_URL
from bench.fleet_api import airflow_env
from bench.fleet_audit import throwaway_schema
from bench.store_bulk_write import insert_channels
from include.airflow_processes import AirflowServers, run_airflow
from include.graph_simulator.process import free_port
from whatsapp.domain.webhooks import sign
from whatsapp.store import ChannelStore
from whatsapp.store.schema import health_checks, webhook_events

WEBHOOK = "/whatsapp/webhooks/meta"
APP_SECRET = "bench-app-secret"
NUMBERS_PER_WABA = 50
#: Changes per entry: Meta groups a WABA's changes of a moment in one entry (divides the above).
CHANGES_PER_ENTRY = 10
#: Entry times count from here, one second apart (each change distinct, none a redelivery).
FIRST_TIME = 1_764_057_600
TARGET_S = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=5_000)
    parser.add_argument("--channels", type=int, default=5_000)
    return parser.parse_args()


def waba(n: int) -> str:
    return f"2{n // NUMBERS_PER_WABA:014d}"


def phone(n: int) -> str:
    """The number's digits as Meta names it in a webhook (the store keeps the display form)."""
    return f"1555{n:07d}"


def seed(store: ChannelStore, count: int) -> None:
    """``count`` registered channels in one statement (the bench measures the receiver)."""
    insert_channels(
        store,
        count,
        datetime.now(UTC),
        waba_id=waba,
        display_phone_number=lambda n: f"+1 555-{n // 10_000:03d}-{n % 10_000:04d}",
        name_status=lambda n: "APPROVED",
        registration_state=lambda n: "registered",
    )


def change(i: int, channels_count: int) -> dict[str, Any]:
    """The ``i``-th change: a quality update or a name decision for number ``i % channels_count``."""
    n = i % channels_count
    if i % 4 == 3:
        return {
            "value": {
                "display_phone_number": phone(n),
                "decision": "APPROVED",
                "requested_verified_name": "Bench",
            },
            "field": "phone_number_name_update",
        }
    return {
        "value": {
            "display_phone_number": phone(n),
            "event": ("FLAGGED", "UNFLAGGED", "DOWNGRADE")[i % 4],
            "current_limit": "TIER_1K",
        },
        "field": "phone_number_quality_update",
    }


def entries(first: int, count: int, channels_count: int) -> list[dict[str, Any]]:
    """``count`` changes from the ``first``-th, :data:`CHANGES_PER_ENTRY` to an entry (one WABA, one time)."""
    return [
        {
            "id": waba(start % channels_count),
            "time": FIRST_TIME + start // CHANGES_PER_ENTRY,
            "changes": [
                change(i, channels_count) for i in range(start, min(start + CHANGES_PER_ENTRY, first + count))
            ],
        }
        for start in range(first, first + count, CHANGES_PER_ENTRY)
    ]


def body_of(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": entries}, separators=(",", ":")
    ).encode()


def timed_post(client: httpx.Client, body: bytes) -> tuple[float, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)}
    started = time.perf_counter()
    response = client.post(WEBHOOK, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"POST {WEBHOOK} -> {response.status_code}: {response.text[:500]}")
    return elapsed, response.json()


def main() -> None:
    args = parse_args()
    body = body_of(entries(0, args.changes, args.channels))
    with tempfile.TemporaryDirectory(prefix="webhook-body-") as tmp, throwaway_schema(DATABASE_URL) as target:
        store = ChannelStore.from_target(target)
        store.migrate()
        seed(store, args.channels)
        port = free_port()
        env = airflow_env(Path(tmp) / "airflow-home", port, target)
        env["AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT"] = json.dumps(
            {"conn_type": "whatsapp_graph", "login": "1234567890", "password": APP_SECRET}
        )
        run_airflow(env, "db", "migrate")
        servers = AirflowServers(env, Path(tmp), port)
        try:
            servers.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port))
            servers.wait_for_api()
            with httpx.Client(base_url=servers.base_url, timeout=300) as client:
                timed_post(client, body_of(entries(args.changes, 1, args.channels)))  # warm-up
                answer_s, first = timed_post(client, body)
                redelivery_s, again = timed_post(client, body)
        except BaseException:
            print(f"--- api-server log (tail) ---\n{servers.log_tail('api-server')}", file=sys.stderr)
            raise
        finally:
            servers.stop()
        with store.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(webhook_events)).scalar_one()
            history = conn.execute(select(func.count()).select_from(health_checks)).scalar_one()
        store.dispose()
    print(
        json.dumps(
            {
                "bench": "webhook_large_body",
                "changes": args.changes,
                "channels": args.channels,
                "body_bytes": len(body),
                "answer_s": round(answer_s, 3),
                "redelivery_s": round(redelivery_s, 3),
                "received": first["received"],
                "duplicates_first": first["duplicates"],
                "duplicates_redelivery": again["duplicates"],
                "webhook_events_rows": stored,
                "history_rows": history,
                "target_s": TARGET_S,
                "ok": answer_s <= TARGET_S,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
