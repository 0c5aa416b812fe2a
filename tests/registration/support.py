"""Shared set-up of the registration tests: a due channel on the simulator, direct Graph calls, counts."""

from __future__ import annotations

import collections
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from include.graph_simulator.process import SimulatorControl
from tests.store.helpers import set_registration
from tests.support.simulator_fixtures import GRAPH_CONN_ENV
from whatsapp.domain.registration import RegistrationState
from whatsapp.hooks.graph import appsecret_proof
from whatsapp.store import ChannelStore
from whatsapp.store.models import Channel


@dataclass(frozen=True)
class Seeded:
    channel: Channel
    number: dict[str, Any]
    token: str


def due_channel(sim: SimulatorControl, store: ChannelStore, **number_state: Any) -> Seeded:
    """A simulator number and its stored channel, ``scheduled`` and due now (as the fleet finds it)."""
    number = sim.add_number(**number_state)
    token = sim.new_token(number["waba_id"])
    channel = store.channels.upsert(
        account_id=1,
        phone_number_id=number["phone_number_id"],
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token=token,
    )
    set_registration(
        store,
        channel.id,
        RegistrationState.SCHEDULED,
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    return Seeded(store.channels.by_id(channel.id), number, token)


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
