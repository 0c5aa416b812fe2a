"""The display-name trigger ends on a stored webhook decision without reading Graph again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.onboarding.test_display_name_trigger import first_event, review_over, saved_channel
from whatsapp.domain.webhooks import parse_notification
from whatsapp.store import Channel, ChannelStore
from whatsapp.triggers.display_name import DecisionWatch, DisplayNameTrigger

pytestmark = pytest.mark.postgres


def decision(store: ChannelStore, waba_id: str, display: str, value: str, at: datetime) -> None:
    change = {
        "field": "phone_number_name_update",
        "value": {"display_phone_number": display, "decision": value},
    }
    body = json.dumps({"entry": [{"id": waba_id, "time": int(at.timestamp()), "changes": [change]}]}).encode()
    [parsed] = parse_notification(body, at)
    store.webhooks.record(parsed, received_at=at)


def waiting_channel(sim: SimulatorControl, store: ChannelStore) -> Channel:
    """A saved channel in review whose display number the store knows (webhooks name it by that)."""
    channel, _ = saved_channel(sim, store, name_status="PENDING_REVIEW", review_seconds=10**6)
    number = sim.number(channel.phone_number_id)
    return store.channels.upsert(
        account_id=1,
        phone_number_id=channel.phone_number_id,
        waba_id=channel.waba_id,
        business_id=channel.business_id,
        access_token=sim.new_token(channel.waba_id),
        display_phone_number=number["display_phone_number"],
    )


@pytest.mark.parametrize(("value", "name_status"), [("APPROVED", "APPROVED"), ("REJECTED", "DECLINED")])
def test_a_stored_decision_ends_the_wait_with_no_graph_read_after_it(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl, value: str, name_status: str
) -> None:
    channel = waiting_channel(sim, pg_store_env)
    number = sim.number(channel.phone_number_id)
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


def test_one_store_read_a_tick_serves_every_wait_and_reads_stop_when_none_waits(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("whatsapp.triggers.display_name.STORE_WATCH_SECONDS", 0.05)
    first, second = (waiting_channel(sim, pg_store_env) for _ in range(2))
    reads: list[set[int]] = []
    original = DecisionWatch._read

    def counted(self: DecisionWatch, channel_ids: set[int], since: datetime) -> Any:
        reads.append(set(channel_ids))
        return original(self, channel_ids, since)

    monkeypatch.setattr(DecisionWatch, "_read", counted)
    now = datetime.now(UTC)

    async def scenario() -> None:
        watch = DecisionWatch("whatsapp_store_default")
        decided = watch.watch(first.id, now)
        # the second wait began later: a decision stored before that is not its decision
        later = watch.watch(second.id, now + timedelta(hours=1))
        for channel in (first, second):
            number = sim.number(channel.phone_number_id)
            await asyncio.to_thread(
                decision, pg_store_env, channel.waba_id, number["display_phone_number"], "APPROVED", now
            )
        assert await asyncio.wait_for(decided, timeout=10) == "APPROVED"
        ticks = len(reads)
        while len(reads) < ticks + 2:
            await asyncio.sleep(0.05)
        assert not later.done()
        watch.forget(decided)
        watch.forget(later)
        assert watch._poller is not None
        await asyncio.wait_for(watch._poller, timeout=10)  # nothing waits: the reads stop

    asyncio.run(scenario())
    assert reads and all(ids == {first.id, second.id} for ids in reads)  # one read for both waits
