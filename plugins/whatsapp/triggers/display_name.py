"""Waits in the triggerer, not on a worker, while Meta reviews a display name.

Two sources, one wait. Meta's ``phone_number_name_update`` webhook, stored by the receiver
route, is read from the store every :data:`STORE_WATCH_SECONDS` by one :class:`DecisionWatch`
for all the waits of a triggerer (one indexed query, no Graph call): an approval ends the wait
within a second. Graph is still read every ``poke_interval`` as the fallback for webhooks that
are late, lost or not configured.

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
import logging
import time
import weakref
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
#: How often the store is asked whether Meta's decision arrived by webhook: one indexed read
#: for all the waits of a triggerer, so half a second stays cheap however many numbers wait,
#: and a decision wakes its wait a quarter of a second after it is stored, on average.
STORE_WATCH_SECONDS = 0.5

log = logging.getLogger(__name__)


def review_over(name_status: str, source: str) -> dict[str, Any]:
    """The sensor's result once Meta's review is over (``source``: ``webhook`` or ``graph``)."""
    return {"name_status": name_status, "waited": True, "source": source}


@functools.lru_cache(maxsize=4)
def _store_for(target: StoreTarget) -> ChannelStore:
    """One store (one connection pool) per target and triggerer process, shared by every trigger."""
    from whatsapp.store import ChannelStore

    return ChannelStore.from_target(target)


class DecisionWatch:
    """The display-name waits of one event loop on one store, read together every tick.

    A wait gets a future that a tick completes with Meta's decision (``APPROVED``/``REJECTED``)
    once one received since the wait began is stored; the reads stop while nothing waits. A
    failed read is "not yet" for every wait: Graph stays their fallback.
    """

    def __init__(self, store_conn_id: str) -> None:
        self.store_conn_id = store_conn_id
        self._waits: dict[asyncio.Future[str], tuple[int, datetime]] = {}
        self._poller: asyncio.Task[None] | None = None

    def watch(self, channel_id: int, since: datetime) -> asyncio.Future[str]:
        decided: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waits[decided] = (channel_id, since)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        return decided

    def forget(self, decided: asyncio.Future[str]) -> None:
        self._waits.pop(decided, None)

    async def _poll(self) -> None:
        while self._waits:
            channel_ids = {channel_id for channel_id, _ in self._waits.values()}
            since = min(since for _, since in self._waits.values())
            found = await asyncio.to_thread(self._read, channel_ids, since)
            for decided, (channel_id, waiting_since) in list(self._waits.items()):
                if channel_id in found and found[channel_id][1] >= waiting_since and not decided.done():
                    decided.set_result(found[channel_id][0])
            await asyncio.sleep(STORE_WATCH_SECONDS)

    def _read(self, channel_ids: set[int], since: datetime) -> dict[int, tuple[str, datetime]]:
        from whatsapp.store import StoreError, resolve_target

        try:
            store = _store_for(resolve_target(self.store_conn_id))
            return store.webhooks.name_decisions(channel_ids, since=since)
        except StoreError as error:
            log.warning("Could not read webhook decisions (Graph stays the fallback): %s", error)
            return {}


#: One watch per event loop (the triggerer runs one) and store connection.
_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, DecisionWatch]] = (
    weakref.WeakKeyDictionary()
)


def _watch_for(store_conn_id: str) -> DecisionWatch:
    per_loop = _watches.setdefault(asyncio.get_running_loop(), {})
    if store_conn_id not in per_loop:
        per_loop[store_conn_id] = DecisionWatch(store_conn_id)
    return per_loop[store_conn_id]


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
        watch = _watch_for(self.whatsapp_store_conn_id)
        decided = watch.watch(self.channel_id, pendulum.parse(self.waiting_since))  # type: ignore[arg-type]
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
                if decided.done():
                    decision = decided.result()
                    yield self._ended(NAME_DECLINED if decision == REJECTED else decision, "webhook")
                    return
                remaining = (deadline - pendulum.now("UTC")).total_seconds()
                if remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "name_status": NAME_IN_REVIEW})
                    return
                until_graph = max(0.0, next_graph_read - time.monotonic())
                # woken by the watch as soon as the decision is stored, else for Graph or the deadline
                await asyncio.wait({decided}, timeout=min(until_graph, remaining))
        finally:
            watch.forget(decided)
            await hook.aclose()

    def _ended(self, name_status: str, source: str) -> TaskSuccessEvent:
        """End the sensor's task with its result: no worker resumes it just to return that."""
        self.log.info("Name review of %s over: %s (from %s)", self.phone_number_id, name_status, source)
        return TaskSuccessEvent(xcoms={BaseXCom.XCOM_RETURN_KEY: review_over(name_status, source)})

    def _read_token(self) -> str:
        from whatsapp.store import ChannelStore

        store = ChannelStore.from_conn_id(self.whatsapp_store_conn_id)
        try:
            return store.channels.credentials(self.channel_id).access_token
        finally:
            store.dispose()
