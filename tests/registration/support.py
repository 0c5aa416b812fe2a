"""Shared set-up of the registration tests: a due channel on the simulator, direct Graph calls, counts."""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from include.graph_simulator.process import SimulatorControl
from tests.store.helpers import set_registration
from tests.support.simulator_fixtures import GRAPH_CONN_ENV
from whatsapp.domain.registration import RegistrationState
from whatsapp.hooks.graph import WhatsAppGraphHook, appsecret_proof
from whatsapp.register_channel import attempt_registration
from whatsapp.store import ChannelStore
from whatsapp.store.models import Channel
from whatsapp.store.schema import registration_attempts


@dataclass(frozen=True)
class Seeded:
    channel: Channel
    number: dict[str, Any]
    token: str


def stored_number(
    sim: SimulatorControl, store: ChannelStore, *, on_business_app: bool = False, **number_state: Any
) -> Seeded:
    """A simulator number with a token of its own, saved as a channel of account 1."""
    number = sim.add_number(**number_state)
    token = sim.new_token(number["waba_id"])
    channel = store.channels.upsert(
        account_id=1,
        phone_number_id=number["phone_number_id"],
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token=token,
        on_business_app=on_business_app,
    )
    return Seeded(channel, number, token)


def due_channel(sim: SimulatorControl, store: ChannelStore, **number_state: Any) -> Seeded:
    """A simulator number and its stored channel, ``scheduled`` and due now (as the fleet finds it)."""
    seeded = stored_number(sim, store, **number_state)
    set_registration(
        store,
        seeded.channel.id,
        RegistrationState.SCHEDULED,
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    return replace(seeded, channel=store.channels.by_id(seeded.channel.id))


def direct_call(base_url: str, seeded: Seeded, action: str, pin: str = "000000") -> dict[str, Any]:
    """``POST /{id}/register`` or ``/deregister`` straight at the simulator (a person in WhatsApp Manager).

    Signed with the app secret of the test connection, as the simulator may require it.
    """
    app_secret = json.loads(os.environ[GRAPH_CONN_ENV])["password"]
    response = httpx.post(
        f"{base_url}/v24.0/{seeded.number['phone_number_id']}/{action}",
        params={"appsecret_proof": appsecret_proof(app_secret, seeded.token)},
        json={"messaging_product": "whatsapp", "pin": pin},
        headers={"Authorization": f"Bearer {seeded.token}"},
        timeout=10,
    )
    return response.json()


def register_calls(sim: SimulatorControl) -> collections.Counter[str]:
    """Register requests the simulator received, by phone number id."""
    return collections.Counter(call["path"].split("/")[-2] for call in sim.calls("/register$"))


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def outcomes(store: ChannelStore, seeded: Seeded) -> list[str]:
    """The channel's attempt outcomes, newest first."""
    return [a.outcome for a in store.attempts.recent(seeded.channel.id)]


def _register_in_a_worker(channel_id: int) -> None:
    """What a register task does, in its own process (killed from outside mid-call)."""
    store = ChannelStore.from_conn_id("whatsapp_store_default")
    attempt_registration(WhatsAppGraphHook(), store, channel_id, respect_backoff=True, run_id="killed")


def kill_mid_register(store: ChannelStore, seeded: Seeded) -> None:
    """``kill -9`` of a register task once its call is out (slow it down at the simulator first).

    The intent stays ``sent``; Meta (the simulator) still processes the call, as Graph does.
    """
    kill_mid_call(
        _register_in_a_worker,
        seeded.channel.id,
        lambda: outcomes(store, seeded) == ["sent"],
        what="the write-ahead intent",
    )


def kill_mid_call(
    target: Callable[[int], None], channel_id: int, committed: Callable[[], bool], *, what: str
) -> None:
    """Run ``target(channel_id)`` in its own process and ``kill -9`` it once ``committed()``: its
    write-ahead intent is in the store and the slowed-down request is out."""
    worker = multiprocessing.get_context("spawn").Process(target=target, args=(channel_id,))
    worker.start()
    try:
        wait_for(committed, timeout=120, what=what)
        time.sleep(0.5)
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=10)
        assert worker.exitcode == -signal.SIGKILL
    finally:
        if worker.is_alive():
            worker.kill()


def backdate_attempts(store: ChannelStore, channel_id: int, age: timedelta) -> None:
    """Make the channel's register calls ``age`` old, as if that much time had gone by since."""
    with store.db.transaction() as conn:
        conn.execute(
            update(registration_attempts)
            .where(registration_attempts.c.channel_id == channel_id)
            .values(attempted_at=datetime.now(UTC) - age)
        )
