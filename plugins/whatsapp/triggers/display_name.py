"""Waits in the triggerer, not on a worker, while Meta reviews a display name.

Two sources, one wait. Meta's ``phone_number_name_update`` webhook, stored by the receiver
route, is read from the store every :data:`STORE_WATCH_SECONDS` (one indexed query, no Graph
call): an approval ends the wait within seconds. Graph is still read every ``poke_interval``
as the fallback for webhooks that are late, lost or not configured.

An ended review ends the sensor's task here, in the triggerer (:class:`TaskSuccessEvent` with
the sensor's result as its XCom): resuming it on a worker only to return that result would
cost a task start-up between Meta's decision and the register task. A timeout or a permanent
error still resumes the sensor, which writes the hand-over or the failure to the store.

The trigger serializes ids, times and connection ids only: it reads the channel's token from
the store itself, so no secret sits in the trigger table, and a restarted triggerer resumes
from the same absolute deadline and still sees decisions stored since the wait began.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import BaseXCom
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from whatsapp.domain.health import NAME_DECLINED, NAME_IN_REVIEW
from whatsapp.domain.webhooks import REJECTED
from whatsapp.errors import GraphApiError
from whatsapp.hooks.graph import WhatsAppGraphHook

if TYPE_CHECKING:
    from whatsapp.store import ChannelStore, StoreTarget

#: Transient Graph failures while waiting are retried at this pace (not the poke interval).
TRANSIENT_RETRY_SECONDS = 30.0
#: How often the store is asked whether Meta's decision arrived by webhook: one indexed
#: primary-key read per waiting number, so a second is cheap for hundreds of waiting numbers
#: and keeps approval → register within a few seconds.
STORE_WATCH_SECONDS = 1.0


def review_over(name_status: str, source: str) -> dict[str, Any]:
    """The sensor's result once Meta's review is over (``source``: ``webhook`` or ``graph``)."""
    return {"name_status": name_status, "waited": True, "source": source}


@functools.lru_cache(maxsize=4)
def _store_for(target: StoreTarget) -> ChannelStore:
    """One store (one connection pool) per target and triggerer process, shared by every trigger."""
    from whatsapp.store import ChannelStore

    return ChannelStore.from_target(target)


class DisplayNameTrigger(BaseTrigger):
    """Fires when ``name_status`` leaves ``PENDING_REVIEW``, on a permanent error, or at the deadline.

    The review over: a :class:`TaskSuccessEvent` whose ``return_value`` XCom is
    :func:`review_over`. Otherwise a :class:`TriggerEvent` for the sensor's ``execute_complete``:
    ``{"status": "timeout" | "error", "name_status": ..., "error": {...}}``.
    ``waiting_since``: decisions stored from then on count (default: when the trigger starts).
    """

    def __init__(
        self,
        *,
        channel_id: int,
        phone_number_id: str,
        deadline: str,
        poke_interval: float,
        whatsapp_graph_conn_id: str,
        whatsapp_store_conn_id: str,
        waiting_since: str | None = None,
    ) -> None:
        super().__init__()
        self.waiting_since = waiting_since or pendulum.now("UTC").isoformat()
        self.channel_id = channel_id
        self.phone_number_id = phone_number_id
        self.deadline = deadline
        self.poke_interval = poke_interval
        self.whatsapp_graph_conn_id = whatsapp_graph_conn_id
        self.whatsapp_store_conn_id = whatsapp_store_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "channel_id": self.channel_id,
                "phone_number_id": self.phone_number_id,
                "deadline": self.deadline,
                "poke_interval": self.poke_interval,
                "whatsapp_graph_conn_id": self.whatsapp_graph_conn_id,
                "whatsapp_store_conn_id": self.whatsapp_store_conn_id,
                "waiting_since": self.waiting_since,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline: datetime = pendulum.parse(self.deadline)  # type: ignore[assignment]
        token = await asyncio.to_thread(self._read_token)
        hook = WhatsAppGraphHook(self.whatsapp_graph_conn_id)
        next_graph_read = time.monotonic()
        try:
            while True:
                if time.monotonic() >= next_graph_read:
                    wait = self.poke_interval
                    try:
                        health = await hook.aget_phone_health(self.phone_number_id, token)
                    except GraphApiError as error:
                        if not error.retryable:
                            yield TriggerEvent({"status": "error", "error": error.to_dict()})
                            return
                        self.log.warning("Display-name check failed, retrying: %s", error)
                        wait = min(self.poke_interval, TRANSIENT_RETRY_SECONDS)
                    else:
                        if health.name_status != NAME_IN_REVIEW:
                            yield self._ended(health.name_status, "graph")
                            return
                        self.log.info("Display name of %s still %s", self.phone_number_id, health.name_status)
                    next_graph_read = time.monotonic() + wait
                decision = await asyncio.to_thread(self._stored_decision)
                if decision is not None:
                    yield self._ended(NAME_DECLINED if decision == REJECTED else decision, "webhook")
                    return
                remaining = (deadline - pendulum.now("UTC")).total_seconds()
                if remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "name_status": NAME_IN_REVIEW})
                    return
                until_graph = max(0.0, next_graph_read - time.monotonic())
                await asyncio.sleep(min(STORE_WATCH_SECONDS, until_graph, remaining))
        finally:
            await hook.aclose()

    def _ended(self, name_status: str, source: str) -> TaskSuccessEvent:
        """End the sensor's task with its result: no worker resumes it just to return that."""
        self.log.info("Name review of %s over: %s (from %s)", self.phone_number_id, name_status, source)
        return TaskSuccessEvent(xcoms={BaseXCom.XCOM_RETURN_KEY: review_over(name_status, source)})

    def _stored_decision(self) -> str | None:
        """Meta's decision received by webhook since the wait began; a store hiccup is "not yet"."""
        from whatsapp.store import StoreError, resolve_target

        try:
            store = _store_for(resolve_target(self.whatsapp_store_conn_id))
            return store.webhooks.name_decision(
                self.channel_id,
                since=pendulum.parse(self.waiting_since),  # type: ignore[arg-type]
            )
        except StoreError as error:
            self.log.warning("Could not read webhook decisions (Graph stays the fallback): %s", error)
            return None

    def _read_token(self) -> str:
        from whatsapp.store import ChannelStore

        store = ChannelStore.from_conn_id(self.whatsapp_store_conn_id)
        try:
            return store.channels.credentials(self.channel_id).access_token
        finally:
            store.dispose()
