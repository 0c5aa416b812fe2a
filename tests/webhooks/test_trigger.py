"""The display-name trigger ends on a stored webhook decision without reading Graph again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.onboarding.test_display_name_trigger import first_event, review_over, saved_channel
from whatsapp.domain.webhooks import parse_notification
from whatsapp.store import ChannelStore
from whatsapp.triggers.display_name import DisplayNameTrigger

pytestmark = pytest.mark.postgres


def decision(store: ChannelStore, waba_id: str, display: str, value: str, at: datetime) -> None:
    change = {
        "field": "phone_number_name_update",
        "value": {"display_phone_number": display, "decision": value},
    }
    body = json.dumps({"entry": [{"id": waba_id, "time": int(at.timestamp()), "changes": [change]}]}).encode()
    [parsed] = parse_notification(body, at)
    store.webhooks.record(parsed, received_at=at)


@pytest.mark.parametrize(("value", "name_status"), [("APPROVED", "APPROVED"), ("REJECTED", "DECLINED")])
def test_a_stored_decision_ends_the_wait_with_no_graph_read_after_it(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl, value: str, name_status: str
) -> None:
    channel, _ = saved_channel(sim, pg_store_env, name_status="PENDING_REVIEW", review_seconds=10**6)
    number = sim.number(channel.phone_number_id)
    pg_store_env.channels.upsert(
        account_id=1,
        phone_number_id=channel.phone_number_id,
        waba_id=channel.waba_id,
        business_id=channel.business_id,
        access_token=sim.new_token(channel.waba_id),
        display_phone_number=number["display_phone_number"],
    )
    since = datetime.now(UTC)
    # a decision from before the wait began does not count
    decision(
        pg_store_env, channel.waba_id, number["display_phone_number"], "REJECTED", since - timedelta(hours=1)
    )
    trigger = DisplayNameTrigger(
        channel_id=channel.id,
        phone_number_id=channel.phone_number_id,
        deadline=(since + timedelta(hours=1)).isoformat(),
        poke_interval=600,
        whatsapp_graph_conn_id="whatsapp_graph_default",
        whatsapp_store_conn_id="whatsapp_store_default",
        waiting_since=since.isoformat(),
    )

    async def scenario() -> dict[str, object]:
        waiting = asyncio.create_task(first_event(trigger))
        await asyncio.sleep(1.0)
        assert not waiting.done()
        await asyncio.to_thread(
            decision, pg_store_env, channel.waba_id, number["display_phone_number"], value, datetime.now(UTC)
        )
        return await asyncio.wait_for(waiting, timeout=10)

    event = asyncio.run(scenario())
    assert event == review_over(name_status, "webhook")
    reads = [c for c in sim.calls(f"/{channel.phone_number_id}$") if c["method"] == "GET"]
    assert len(reads) == 1  # the first check when the wait began; none since the decision
