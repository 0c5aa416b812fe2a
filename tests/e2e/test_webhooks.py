"""Meta webhooks on a running Airflow (tests/e2e/shared.py): the simulator signs, the plugin receives.

* A signed approval makes a deferred onboarding register within 10 s although
  ``name_poke_interval`` is 600 s (the trigger watches the store).
* A forged signature (401), a wrong verify token (403), a 2 MiB body (413) and a replayed
  duplicate (200) change nothing.
* Quality and account events appear in the channel's history and health within a second; a
  RED transition is reported once.
* With delivery dropped, the number still registers through the fallback Graph poll.

Another webhook story is another test here: ``def test_...(e2e: SharedStack, receiver:
httpx.Client)`` gets the shared stack reset for it (empty store, fresh simulator, every DAG
paused) with the simulator delivering to the plugin's receiver; it unpauses the DAGs it needs
and compares run ids with :meth:`~tests.e2e.rest.AirflowApi.run_ids` taken before it acts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from tests.e2e.rest import AirflowApi
from tests.e2e.shared import TASKS_TIMEOUT, SharedStack, store_of
from tests.e2e.stack import WEBHOOK_VERIFY_TOKEN, wait_for
from whatsapp.domain.webhooks import sign
from whatsapp.store import ChannelStore
from whatsapp.store.schema import webhook_events

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ONBOARDING = "whatsapp_onboarding"
REGISTER = "whatsapp_register_channel"
RECEIVER = "/whatsapp/webhooks/meta"


def notification(waba_id: str, field: str, **value: str) -> bytes:
    """A body shaped like Meta's, with a fixed entry time (so posting it twice is a redelivery)."""
    entry = {"id": waba_id, "time": 1764057600, "changes": [{"field": field, "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def register_calls(sim: SimulatorControl, phone_number_id: str) -> list[dict[str, Any]]:
    return [c for c in sim.calls(f"/{phone_number_id}/register$") if c["method"] == "POST"]


def onboard_in_review(
    api: AirflowApi, sim: SimulatorControl, poke: int, account_id: int
) -> tuple[dict[str, Any], str]:
    number = sim.add_number(name_status="PENDING_REVIEW", review_seconds=10**7)
    signup = onboarding_conf(number, account_id=account_id, name_poke_interval=poke)
    run = api.post_signup(signup)["dag_run_id"]
    api.wait_for_task_state(ONBOARDING, run, "wait_for_display_name", "deferred", TASKS_TIMEOUT)
    return number, run


def channel_state(store: ChannelStore, phone_number_id: str) -> tuple[str, int]:
    channel = store.channels.by_phone_number(phone_number_id)
    assert channel is not None
    return channel.registration_state.value, len(store.health.history(channel.id, limit=500))


@pytest.fixture
def receiver(e2e: SharedStack) -> Iterator[httpx.Client]:
    """The simulator delivers its webhooks to the plugin's receiver; a client of that receiver
    without Airflow credentials, as Meta calls it."""
    e2e.sim.configure(webhook_url=f"{e2e.stack.api_url}{RECEIVER}")
    with httpx.Client(base_url=e2e.stack.api_url, timeout=10.0) as client:
        yield client


def test_webhooks_on_a_running_airflow(e2e: SharedStack, receiver: httpx.Client) -> None:
    api, sim = e2e.api, e2e.sim
    for dag_id in (ONBOARDING, REGISTER):
        api.unpause(dag_id)
    store = store_of(e2e.stack)
    try:
        run_scenario(api, sim, store, receiver)
    finally:
        store.dispose()


def run_scenario(api: AirflowApi, sim: SimulatorControl, store: ChannelStore, receiver: httpx.Client) -> None:
    # Meta's subscription check
    check = {"hub.mode": "subscribe", "hub.challenge": "8675309"}
    ok = receiver.get(RECEIVER, params={**check, "hub.verify_token": WEBHOOK_VERIFY_TOKEN})
    assert (ok.status_code, ok.text) == (200, "8675309")
    assert receiver.get(RECEIVER, params={**check, "hub.verify_token": "wrong"}).status_code == 403

    # 1. a deferred onboarding, name_poke_interval 600: the approval webhook registers it within 10 s
    number, run = onboard_in_review(api, sim, 600, account_id=1)
    phone = number["phone_number_id"]
    display = "".join(c for c in number["display_phone_number"] if c.isdigit())
    before = channel_state(store, phone)
    assert before[0] == "awaiting_display_name"

    forged_body = notification(
        number["waba_id"], "phone_number_name_update", display_phone_number=display, decision="APPROVED"
    )
    forged = receiver.post(
        RECEIVER, content=forged_body, headers={"X-Hub-Signature-256": sign(forged_body, "x")}
    )
    assert forged.status_code == 401
    huge = b"{" + b" " * (2 << 20) + b"}"
    assert (
        receiver.post(
            RECEIVER, content=huge, headers={"X-Hub-Signature-256": sign(huge, sim.app_secret)}
        ).status_code
        == 413
    )
    time.sleep(4)  # longer than the trigger's store watch
    assert channel_state(store, phone) == before
    assert register_calls(sim, phone) == []
    assert api.task_state(ONBOARDING, run, "wait_for_display_name") == "deferred"

    sim.update_number(phone, name_status="APPROVED")
    approved_at = time.monotonic()
    wait_for(
        "the register call after the approval webhook",
        lambda: register_calls(sim, phone),
        timeout=10,
        interval=0.2,
    )
    print(f"approval -> register call: {time.monotonic() - approved_at:.1f}s")
    assert api.wait_for_runs(ONBOARDING, [run], TASKS_TIMEOUT)[run] == "success"
    delivered = [w for w in sim.webhooks() if w["phone_number_id"] == phone]
    assert [w["value"]["decision"] for w in delivered] == ["APPROVED"]
    assert [d["status"] for d in delivered[0]["deliveries"]] == [200]

    # 2. quality: RED reported once, in history and the health API within a second; a replay changes nothing
    channel = store.channels.by_phone_number(phone)
    assert channel is not None
    health_url = f"/whatsapp/api/v1/accounts/{channel.account_id}/inboxes/{channel.inbox_id}"
    sim.update_number(phone, quality_rating="RED")
    pushed = time.monotonic()
    wait_for(
        "quality RED in the health API",
        lambda: api.ok("GET", f"{health_url}/health")["quality_rating"] == "RED",
        timeout=5,
        interval=0.1,
    )
    history = api.ok("GET", f"{health_url}/history")["history"]
    assert history[0]["event"].startswith("phone_number_quality_update: FLAGGED")
    print(f"quality webhook -> health API: {time.monotonic() - pushed:.2f}s")
    replay_body = notification(
        number["waba_id"], "phone_number_quality_update", display_phone_number=display, event="FLAGGED"
    )
    signed = {"X-Hub-Signature-256": sign(replay_body, sim.app_secret), "Content-Type": "application/json"}
    first = receiver.post(RECEIVER, content=replay_body, headers=signed)
    again = receiver.post(RECEIVER, content=replay_body, headers=signed)
    assert (first.status_code, first.json()["duplicates"]) == (200, 0)
    assert (again.status_code, again.json()["duplicates"]) == (200, 1)
    events = [h["event"] for h in api.ok("GET", f"{health_url}/history")["history"] if h["event"]]
    assert len(events) == 3  # name approval, FLAGGED (simulator), FLAGGED (the first of the two posts)
    with store.engine.connect() as conn:
        reported = [r for (r,) in conn.execute(select(webhook_events.c.reported)) if r]
    assert reported == [["quality_rating GREEN -> RED", "status CONNECTED -> FLAGGED"]]

    # 3. an account event flags the WABA's channels within a second
    sim.account_update(number["waba_id"], "ACCOUNT_VIOLATION", violation_type="SCAM")
    wait_for(
        "the account event in the health API",
        lambda: api.ok("GET", f"{health_url}/health")["registration"]["state"] == "needs_attention",
        timeout=5,
        interval=0.1,
    )
    assert (
        api.ok("GET", f"{health_url}/history")["history"][0]["event"]
        == "account_update: ACCOUNT_VIOLATION (SCAM)"
    )

    # 4. delivery dropped: the fallback poll (name_poke_interval 20 s) still registers the number
    sim.configure(webhook_drop=1.0)
    lost, lost_run = onboard_in_review(api, sim, 20, account_id=2)
    sim.update_number(lost["phone_number_id"], name_status="APPROVED")
    wait_for(
        "the fallback register call",
        lambda: register_calls(sim, lost["phone_number_id"]),
        timeout=90,
        interval=0.5,
    )
    assert api.wait_for_runs(ONBOARDING, [lost_run], TASKS_TIMEOUT)[lost_run] == "success"
    assert all(w["dropped"] for w in sim.webhooks() if w["phone_number_id"] == lost["phone_number_id"])
