"""The receiver route in the plugin app: verification, signature, 1 MiB cap, duplicates, no login."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, func, select

from include.graph_simulator.process import RunningSimulator, SimulatorControl
from tests.simulator.test_business_app_numbers import exchange, sync
from tests.support.simulator_fixtures import GRAPH_CONN_ENV, graph_connection
from tests.support.webhook_receiver import Receiver
from whatsapp.api.routes import webhooks as route
from whatsapp.domain.business_app import AppLink, SyncState
from whatsapp.domain.webhooks import sign
from whatsapp.store import ChannelStore
from whatsapp.store.schema import channels, webhook_events

pytestmark = pytest.mark.postgres

URL = "/webhooks/meta"
VERIFY_TOKEN = "verify-me-please"
WABA = "102290129340398"


@pytest.fixture
def client(
    pg_store_env: ChannelStore,
    simulator_process: RunningSimulator,
    sim: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    monkeypatch.setenv(
        GRAPH_CONN_ENV, graph_connection(simulator_process.base_url, sim, webhook_verify_token=VERIFY_TOKEN)
    )
    route._cache.clear()
    from whatsapp.api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client
    route._cache.clear()


def body_for(decision: str = "APPROVED", time_: int = 1764057600) -> bytes:
    value = {"display_phone_number": "15550783881", "decision": decision, "requested_verified_name": "Shrub"}
    entry = {"id": WABA, "time": time_, "changes": [{"value": value, "field": "phone_number_name_update"}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def post(client: TestClient, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(URL, content=body, headers=headers).status_code


def test_verification_needs_our_token(client: TestClient) -> None:
    ok = client.get(
        URL, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    )
    assert (ok.status_code, ok.text) == (200, "42")
    wrong = client.get(
        URL, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"}
    )
    assert wrong.status_code == 403 and "42" not in wrong.text


def test_signed_change_is_stored_once_and_forged_or_huge_bodies_change_nothing(
    client: TestClient, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    channel = pg_store_env.channels.upsert(
        account_id=1,
        phone_number_id="301",
        waba_id=WABA,
        business_id="5",
        access_token="EAA",
        display_phone_number="+1 555-078-3881",
    )
    body = body_for("REJECTED")
    assert post(client, body, None) == 401
    assert post(client, body, sign(body, "not-the-secret")) == 401
    huge = b" " * (2 << 20)
    assert post(client, huge, sign(huge, sim.app_secret)) == 413
    assert pg_store_env.health.history(channel.id) == []
    started = time.perf_counter()
    response = client.post(URL, content=body, headers={"X-Hub-Signature-256": sign(body, sim.app_secret)})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and response.json() == {"received": 1, "duplicates": 0}
    print(f"signed webhook answered in {elapsed * 1000:.1f} ms")
    stored = pg_store_env.channels.by_id(channel.id)
    assert stored is not None and stored.registration_state.value == "needs_attention"
    replay = client.post(URL, content=body, headers={"X-Hub-Signature-256": sign(body, sim.app_secret)})
    assert replay.status_code == 200 and replay.json() == {"received": 1, "duplicates": 1}
    assert [h.event for h in pg_store_env.health.history(channel.id)] == [
        "phone_number_name_update: REJECTED"
    ]
    # no Graph call was made for any of it
    assert sim.calls() == []


def test_signed_garbage_is_400(client: TestClient, sim: SimulatorControl) -> None:
    assert post(client, b"[1]", sign(b"[1]", sim.app_secret)) == 400


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_a_signed_body_nested_too_deep_is_400_and_stores_nothing(
    client: TestClient, pg_store_env: ChannelStore, sim: SimulatorControl, depth: int
) -> None:
    deep = b"[" * depth + b"]" * depth
    body = (
        b'{"object": "whatsapp_business_account", "entry": [{"id": "' + WABA.encode() + b'", "time": 1, '
        b'"changes": [{"field": "phone_number_name_update", "value": {"x": ' + deep + b"}}]}]}"
    )
    response = client.post(URL, content=body, headers={"X-Hub-Signature-256": sign(body, sim.app_secret)})
    assert response.status_code == 400
    assert "nests deeper than" in response.json()["detail"]
    with pg_store_env.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_events)).scalar_one() == 0


@contextmanager
def store_commits() -> Iterator[list[str]]:
    """Every transaction committed on a PostgreSQL engine of this process meanwhile (the route's store)."""
    commits: list[str] = []

    def committed(conn: Connection) -> None:
        if conn.engine.dialect.name == "postgresql":
            commits.append(str(conn.engine.url))

    event.listen(Engine, "commit", committed)
    try:
        yield commits
    finally:
        event.remove(Engine, "commit", committed)


def test_a_large_body_is_one_transaction_and_each_change_is_stored_once(
    client: TestClient, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    ids = [
        pg_store_env.channels.upsert(
            account_id=1,
            phone_number_id=f"30{n:02d}",
            waba_id=WABA,
            business_id="5",
            access_token="EAA",
            display_phone_number=f"+1 555-078-{n:04d}",
        ).id
        for n in range(20)
    ]
    events = ("FLAGGED", "UNFLAGGED", "DOWNGRADE")
    changes = [
        {
            "field": "phone_number_quality_update",
            "value": {"display_phone_number": f"1555078{i % 20:04d}", "event": events[i // 20 % 3]},
        }
        for i in range(300)
    ]
    entries = [
        {"id": WABA, "time": 1764057600 + i // 10, "changes": changes[i : i + 10]} for i in range(0, 300, 10)
    ]
    entries.append(dict(entries[0]))  # the same change twice in one body: stored once
    body = json.dumps({"object": "whatsapp_business_account", "entry": entries}).encode()
    headers = {"X-Hub-Signature-256": sign(body, sim.app_secret)}
    with store_commits() as commits:
        response = client.post(URL, content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"received": 310, "duplicates": 10}
    assert len(commits) == 1
    with pg_store_env.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_events)).scalar_one() == 300
    for channel_id in ids:
        history = pg_store_env.health.history(channel_id)
        # 15 changes per number, applied in the body's order: the last one is the snapshot's.
        assert [h.event for h in reversed(history)] == [
            f"phone_number_quality_update: {events[k % 3]}" for k in range(15)
        ]
    # FLAGGED (red), UNFLAGGED (connected), DOWNGRADE (no limit named: nothing), five times each
    with pg_store_env.engine.connect() as conn:
        snapshots = conn.execute(
            select(channels.c.quality_rating, channels.c.status).where(channels.c.id.in_(ids))
        ).all()
    assert set(snapshots) == {("RED", "CONNECTED")}
    with store_commits() as commits:
        again = client.post(URL, content=body, headers=headers)
    assert again.json() == {"received": 310, "duplicates": 310}
    assert len(commits) == 1
    assert len(pg_store_env.health.history(ids[0])) == 15


def test_a_business_app_number_s_webhooks_from_the_simulator(
    client: TestClient, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    """The simulator's own signed payloads (contacts, history chunks, an echo, a device change, a
    disconnection) through the route: the syncs, the echo count and the link move, no message
    or contact is stored, and the receiver calls Graph for none of it."""
    receiver = Receiver()
    sim.configure(webhook_url=receiver.url)
    number = sim.add_number(is_on_biz_app=True, display_phone_number="+1 555-078-3881")
    pid = number["phone_number_id"]
    token = exchange(sim, number["code"])
    channel = pg_store_env.channels.upsert(
        account_id=1,
        phone_number_id=pid,
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token=token,
        display_phone_number=number["display_phone_number"],
        on_business_app=True,
    )
    seen = 0

    def deliver(count: int) -> list[dict[str, object]]:
        """Post the simulator's next ``count`` bodies, as signed, to the route (twice: a redelivery)."""
        nonlocal seen
        receiver.wait(seen + count)
        batch = receiver.bodies[seen : seen + count]
        assert len(batch) == count
        seen += count
        answers = []
        for body, signature in batch:
            headers = {"X-Hub-Signature-256": signature or ""}
            answers.append(client.post(URL, content=body, headers=headers).json())
            assert client.post(URL, content=body, headers=headers).json() == {"received": 1, "duplicates": 1}
        return answers

    try:
        assert sync(sim, number, token, "smb_app_state_sync").status_code == 200
        assert sync(sim, number, token, "history").status_code == 200
        sim.echo(pid, to="16505551234", text="See you at 5")
        sim.clear_calls()  # from here on, only the receiver could call Graph
        assert deliver(4) == [{"received": 1, "duplicates": 0}] * 4
        stored = pg_store_env.channels.by_id(channel.id)
        assert stored is not None
        assert (stored.contacts_sync, stored.history_sync, stored.history_sync_progress) == (
            SyncState.FINISHED,
            SyncState.FINISHED,
            100,
        )
        assert stored.message_echoes == 1
        sim.app_device_change(pid, "offboarded")
        deliver(1)
        moving = pg_store_env.channels.by_id(channel.id)
        assert moving is not None and moving.business_app is AppLink.RECONNECTING
        assert moving.registration_state.value != "needs_attention"
        sim.app_device_change(pid, "reconnected")
        deliver(1)
        back = pg_store_env.channels.by_id(channel.id)
        assert back is not None and back.business_app is AppLink.CONNECTED
        sim.app_disconnect(pid, reason="ACCOUNT_DISCONNECTED", initiated_by="USER")
        deliver(1)
    finally:
        receiver.server.shutdown()
    gone = pg_store_env.channels.by_id(channel.id)
    assert gone is not None
    assert (gone.active, gone.business_app, gone.offboard_reason, gone.offboarded_by) == (
        False,
        AppLink.DISCONNECTED,
        "ACCOUNT_DISCONNECTED",
        "USER",
    )
    assert gone.reauthorization_reason is None
    assert sim.calls() == []
    with pg_store_env.engine.connect() as conn:
        rows = conn.execute(
            select(webhook_events.c.field, webhook_events.c.value, webhook_events.c.detail)
        ).all()
    assert len(rows) == 7
    stored_text = json.dumps([list(row) for row in rows])
    for secret in ("See you at 5", "Hello from", "Thanks, we will", "Pablo", "Sheena", "1650555", "wamid."):
        assert secret not in stored_text
    assert "account_update: PARTNER_REMOVED (USER: ACCOUNT_DISCONNECTED)" in stored_text
