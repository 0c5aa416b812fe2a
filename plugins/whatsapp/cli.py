"""``whatsapp-fleet``: migrate the channel store and look at the fleet from a shell.

Reads the store named by ``whatsapp_store_default`` (``AIRFLOW_CONN_...`` as in Airflow). Store
problems (bad connection, unreachable database, unmigrated schema) print one line to stderr and
exit with status 2, so scripts and health checks can tell them from a missing channel (1).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from whatsapp.defaults import DEFAULT_STORE_CONN_ID
from whatsapp.domain.business_app import SYNC_WINDOW
from whatsapp.domain.registration import (
    DEREGISTER_ALLOWANCE,
    NAME_CHANGE_ALLOWANCE,
    NAME_CHANGE_WINDOW,
    span_words,
)
from whatsapp.domain.registration_machine import DISPLAY_NAME_MAX_LENGTH, DISPLAY_NAME_MIN_LENGTH

EXIT_NOT_FOUND = 1
EXIT_STORE_ERROR = 2

_TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ACCOUNT", "account_id"),
    ("INBOX", "inbox_id"),
    ("PHONE", "display_phone_number"),
    ("NAME", "name_status"),
    ("QUALITY", "quality_rating"),
    ("PROVISIONING", "provisioning"),
    ("REGISTRATION", "registration.state"),
    ("NEXT ATTEMPT", "registration.next_attempt_at"),
    ("REAUTH", "reauthorization_reason"),
    # A WhatsApp Business app number's link to the app ("-" for other numbers).
    ("APP", "business_app.link"),
    ("CHECKED", "checked_at"),
)


#: ``show``'s reminder of the two flows after onboarding: name changes and offboarding.
LIFECYCLE_HELP = (
    "after onboarding:\n"
    "  rename: trigger whatsapp_change_display_name {account_id, inbox_id, new_display_name}\n"
    f"    ({DISPLAY_NAME_MIN_LENGTH}-{DISPLAY_NAME_MAX_LENGTH} characters, {NAME_CHANGE_ALLOWANCE}); "
    "once Meta approves, the fleet DAG registers the number\n"
    f"    again before the deadline (approval + {span_words(NAME_CHANGE_WINDOW)}), or the change lapses "
    "and must be requested again.\n"
    "  offboard: trigger whatsapp_offboard_channel {account_id, inbox_id}: deregisters the number\n"
    f"    (Meta: {DEREGISTER_ALLOWANCE}), deactivates the channel (kept with its history, skipped by "
    "audits) and\n"
    "    unsubscribes the app from the WABA when no other active channel uses it; onboarding the number\n"
    "    again reactivates it."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whatsapp-fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--conn-id", default=DEFAULT_STORE_CONN_ID, help="Airflow connection of the store")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the store's tables (idempotent)")
    status = commands.add_parser("status", help="the fleet table and summary counts")
    status.add_argument("--json", action="store_true", help='print {"channels": [...], "summary": {...}}')
    show = commands.add_parser("show", help="one channel with its registration attempts and health history")
    show.add_argument("account_id", type=int)
    show.add_argument("inbox_id", type=int)
    show.add_argument("--json", action="store_true")
    return parser


#: An API timestamp (``2026-11-24T08:00:00.123456Z``), shown to the second.
_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?Z")
#: The summary lines wrap here (a table row is as wide as its cells).
_SUMMARY_WIDTH = 100


def _text(value: Any) -> str:
    """One value as the text commands show it: ``-`` for none, times to the second (UTC)."""
    if value is None:
        return "-"
    return _TIMESTAMP.sub(r"\1 \2Z", value) if isinstance(value, str) else str(value)


def _cell(row: dict[str, Any], path: str) -> str:
    """A table cell: times to the minute, so a row of the fleet table fits 160 columns."""
    value: Any = row
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, str):
        return _TIMESTAMP.sub(lambda m: f"{m[1]} {m[2][:5]}Z", value)
    return _text(value)


def _fields(shape: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A nested API object as ``(dotted.key, text)`` lines, one value per line."""
    lines: list[tuple[str, str]] = []
    for key, value in shape.items():
        if isinstance(value, dict):
            lines += _fields(value, f"{prefix}{key}.")
        else:
            lines.append((f"{prefix}{key}", json.dumps(value) if isinstance(value, list) else _text(value)))
    return lines


def _business_app_lines(app: dict[str, Any]) -> list[str]:
    """A WhatsApp Business app number's ``business_app`` object (docs/http-api.md) as ``show``
    prints it: the label, the link, each sync in the API's words, the deadline and the echoes."""
    return [
        app["label"],
        f"  link: {app['link']}",
        *(f"  {sync['label']}: {sync['text']}" for sync in app["syncs"].values()),
        f"  sync deadline (onboarding + {span_words(SYNC_WINDOW)}): {_text(app['sync_deadline'])}",
        f"  messages sent from the app: {app['message_echoes']}",
    ]


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Left-aligned plain-text columns, wide enough for every cell; times to the second (UTC)."""
    cells = [[title for title, _ in columns]] + [[_cell(row, path) for _, path in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def _status(store: Any, as_json: bool) -> int:
    from whatsapp.store import channel_api_dict

    channels = [channel_api_dict(status) for status in store.fleet.statuses()]
    summary = store.fleet.counts()
    if as_json:
        print(json.dumps({"channels": channels, "summary": summary}, indent=2))
        return 0
    print(format_table(channels, _TABLE_COLUMNS))
    print()
    for key, counts in summary.items():
        # Counts of zero are left out here (``--json`` has them all).
        shown = (
            ", ".join(f"{k}={v}" for k, v in counts.items() if v) or "-"
            if isinstance(counts, dict)
            else str(counts)
        )
        print(textwrap.fill(f"{key}: {shown}", _SUMMARY_WIDTH, subsequent_indent="    "))
    return 0


def _show(store: Any, account_id: int, inbox_id: int, as_json: bool) -> int:
    from whatsapp.store import attempt_dict, channel_api_dict, health_check_dict

    status = store.fleet.channel_status(account_id, inbox_id)
    if status is None:
        print(f"whatsapp-fleet: no channel for account {account_id} inbox {inbox_id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    detail = {
        "channel": channel_api_dict(status),
        "attempts": [attempt_dict(a) for a in store.attempts.recent(status.channel.id)],
        "history": [health_check_dict(h) for h in store.health.history(status.channel.id)],
    }
    if as_json:
        print(json.dumps(detail, indent=2))
        return 0
    channel = dict(detail["channel"])
    app = channel.pop("business_app")
    for key, value in _fields(channel):
        print(f"{key}: {value}")
    if app is not None:
        print("\n".join(_business_app_lines(app)))
    for note in channel["notes"]:
        print(f"NOTE: {note}")
    print(f"\n{LIFECYCLE_HELP}")
    print("\nregistration attempts (newest first)")
    print(
        format_table(
            detail["attempts"],
            [(k.upper(), k) for k in ("attempted_at", "outcome", "code", "subcode", "message")],
        )
    )
    print("\nhealth history (newest first)")
    history_columns = ("checked_at", "provisioning", "name_status", "quality_rating", "status", "error.type")
    print(format_table(detail["history"], [(k.upper(), k) for k in history_columns]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Airflow's own log lines would break the one-line error contract of this command.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    from whatsapp.store import ChannelStore, StoreError

    store = None
    try:
        store = ChannelStore.from_conn_id(args.conn_id)
        if args.command == "migrate":
            applied = store.migrate()
            print(f"migrated to revision(s) {', '.join(applied)}" if applied else "already up to date")
            return 0
        if args.command == "status":
            return _status(store, args.json)
        return _show(store, args.account_id, args.inbox_id, args.json)
    except StoreError as exc:
        print(f"whatsapp-fleet: {exc}", file=sys.stderr)
        return EXIT_STORE_ERROR
    finally:
        if store is not None:
            store.dispose()


if __name__ == "__main__":
    sys.exit(main())
