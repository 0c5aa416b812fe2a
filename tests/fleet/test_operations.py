"""Fleet operations with ``dag.test()``: notifications once per new flag, and history retention.

The notifiers are the real ones: a Slack-style webhook posted to a local HTTP server and
Airflow's SmtpNotifier sending to a local SMTP server (aiosmtpd), both on loopback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from include.graph_simulator.process import SimulatorControl, free_port
from tests.fleet.fleet_mix import Kind, seed
from tests.support.airflow_fixtures import fresh_dag
from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.signup import Signup
from whatsapp.store import ChannelStore, HealthResult

pytestmark = pytest.mark.postgres


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret"
    monkeypatch.setenv("AIRFLOW_CONN_WHATSAPP_NOTIFY_WEBHOOK", json.dumps({"conn_type": "http", "host": url}))
    try:
        yield server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Inbox]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": controller.port,
        "extra": {
            "to": "ops@example.test, oncall@example.test",
            "from_email": "airflow@example.test",
            "disable_ssl": True,
            "disable_tls": True,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_WHATSAPP_NOTIFY_EMAIL", json.dumps(conn))
    try:
        yield inbox
    finally:
        controller.stop()


def test_new_flags_are_announced_once_by_webhook_and_email(
    dagbag: Any,
    graph_conn_env: str,
    pg_store_env: ChannelStore,
    sim: SimulatorControl,
    webhook: list[dict[str, Any]],
    mailbox: _Inbox,
) -> None:
    numbers = seed(sim, pg_store_env, 40)  # 2 declined names, 2 expired tokens
    flagged = {
        n.display_phone_number for n in numbers.values() if n.kind in (Kind.NAME_DECLINED, Kind.EXPIRED_TOKEN)
    }
    assert len(flagged) == 4

    fresh_dag("whatsapp_fleet_health").test()
    (posted,) = webhook
    lines = posted["text"].splitlines()
    assert len(lines) == 1 + len(flagged)
    assert {next(n for n in flagged if n in line) for line in lines[1:]} == flagged
    assert "4 WhatsApp channel(s) newly need a person" in posted["text"]
    (mail,) = mailbox.messages
    recipients, message = mail
    assert sorted(recipients) == ["oncall@example.test", "ops@example.test"]
    body = (
        message.get_payload(0).get_payload(decode=True).decode()
        if message.is_multipart()
        else message.get_payload()
    )
    assert all(number in body for number in flagged)

    fresh_dag("whatsapp_fleet_health").test()  # the same flags: nothing more is sent
    assert len(webhook) == 1 and len(mailbox.messages) == 1


def test_history_older_than_the_retention_is_pruned(
    pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    numbers = seed(sim, pg_store_env, 1)
    (channel_id,) = numbers
    health = pg_store_env.health.history(channel_id)
    now = datetime.now(UTC)
    snapshot = PhoneHealth.from_graph({"id": numbers[channel_id].phone_number_id, "quality_rating": "GREEN"})
    pg_store_env.health.record(
        [
            HealthResult(channel_id=channel_id, checked_at=now - timedelta(days=100), health=snapshot),
            HealthResult(channel_id=channel_id, checked_at=now - timedelta(days=1), health=snapshot),
        ]
    )
    pg_store_env.fleet.save_summary({"channels": 1}, now=now - timedelta(days=100))
    number = numbers[channel_id]
    signup = Signup.from_mapping(
        {
            "account_id": 1,
            "code": "signup-code",
            "business_id": number.business_id,
            "waba_id": number.waba_id,
            "phone_number_id": number.phone_number_id,
        }
    )
    old_signup = pg_store_env.signups.receive(signup, now=now - timedelta(days=100)).signup_id
    new_signup = pg_store_env.signups.receive(signup, now=now).signup_id
    pruned = pg_store_env.operations.prune_history(now - timedelta(days=90))
    # The only summary stays; the old signup's intake row goes, the new one's stays.
    assert pruned == {"health_checks": 1, "fleet_summaries": 0, "signup_intake": 1}
    assert pg_store_env.signups.pending(old_signup) is None
    assert pg_store_env.signups.pending(new_signup) is not None
    kept = pg_store_env.health.history(channel_id)
    assert len(kept) == len(health) + 1
    assert pg_store_env.fleet.latest_summary() is not None
