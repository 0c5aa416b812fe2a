"""The display-name trigger: serializes ids only and resumes from its absolute deadline."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.triggers.base import BaseTaskEndEvent, TriggerEvent

from include.graph_simulator.process import SimulatorControl
from tests.registration.support import stored_number
from whatsapp.store import ChannelStore
from whatsapp.triggers.display_name import DisplayNameTrigger

pytestmark = pytest.mark.postgres


def saved_channel(sim: SimulatorControl, store: ChannelStore, **state: Any) -> tuple[Any, str]:
    seeded = stored_number(sim, store, **state)
    return seeded.channel, seeded.token


def trigger_for(channel: Any, deadline: datetime, poke_interval: float = 0.2) -> DisplayNameTrigger:
    return DisplayNameTrigger(
        channel_id=channel.id,
        phone_number_id=channel.phone_number_id,
        deadline=deadline.isoformat(),
        poke_interval=poke_interval,
        whatsapp_graph_conn_id="whatsapp_graph_default",
        whatsapp_store_conn_id="whatsapp_store_default",
    )


def described(event: TriggerEvent) -> dict[str, Any]:
    """An event resuming the sensor as its payload; one ending the task as its state and XComs."""
    if isinstance(event, BaseTaskEndEvent):
        return {"ends_task": str(event.task_instance_state), "xcoms": event.xcoms}
    return dict(event.payload)


async def first_event(trigger: DisplayNameTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return described(event)
    raise AssertionError("the trigger ended without an event")


def review_over(name_status: str, source: str) -> dict[str, Any]:
    """What the trigger fires when the review is over: the task ends with the sensor's result."""
    result = {"name_status": name_status, "waited": True, "source": source}
    return {"ends_task": "success", "xcoms": {"return_value": result}}


def test_serializes_ids_only_and_a_restart_resumes_the_same_wait(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    channel, token = saved_channel(sim, pg_store_env, name_status="PENDING_REVIEW", review_seconds=10**6)
    original = trigger_for(channel, datetime.now(UTC) + timedelta(hours=48))
    classpath, kwargs = original.serialize()
    assert classpath == "whatsapp.triggers.display_name.DisplayNameTrigger"
    assert token not in json.dumps(kwargs)
    assert set(kwargs) == {
        "channel_id",
        "phone_number_id",
        "deadline",
        "poke_interval",
        "whatsapp_graph_conn_id",
        "whatsapp_store_conn_id",
        "waiting_since",
    }
    # A triggerer restart rebuilds the trigger from the same kwargs: same absolute deadline.
    restarted = DisplayNameTrigger(**kwargs)
    assert restarted.serialize() == (classpath, kwargs)


def test_ends_the_task_with_its_result_when_the_review_ends(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    channel, _ = saved_channel(sim, pg_store_env, name_status="PENDING_REVIEW", review_seconds=600)
    sim.advance(601)
    event = asyncio.run(first_event(trigger_for(channel, datetime.now(UTC) + timedelta(minutes=5))))
    # no worker resumes the sensor just to return this: the triggerer ends the task with it
    assert event == review_over("APPROVED", "graph")


def test_fires_timeout_once_the_deadline_has_passed(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    channel, _ = saved_channel(sim, pg_store_env, name_status="PENDING_REVIEW", review_seconds=10**6)
    event = asyncio.run(first_event(trigger_for(channel, datetime.now(UTC) - timedelta(seconds=1))))
    assert event == {"status": "timeout", "name_status": "PENDING_REVIEW"}


def test_keeps_polling_through_transient_errors_and_stops_on_a_dead_token(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    channel, _ = saved_channel(sim, pg_store_env, name_status="PENDING_REVIEW", review_seconds=10**6)
    sim.add_fault(kind="http_500", phone_number_id=channel.phone_number_id, count=1)
    sim.update_number(channel.phone_number_id, token_state="expired")
    trigger = trigger_for(channel, datetime.now(UTC) + timedelta(minutes=5))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("whatsapp.triggers.display_name.TRANSIENT_RETRY_SECONDS", 0.1)
        event = asyncio.run(first_event(trigger))
    assert event["status"] == "error"
    assert event["error"]["type"] == "token_invalid" and event["error"]["code"] == 190
    polls = [c for c in sim.calls(f"/{channel.phone_number_id}$") if c["method"] == "GET"]
    assert [c["status"] for c in polls] == [500, 401]  # retried after the 500, stopped at the 190
