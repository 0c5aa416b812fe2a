"""Waits in the triggerer, not on a worker, while Meta reviews a display name.

The trigger serializes ids and connection ids only: it reads the channel's token from the
store itself, so no secret sits in the trigger table, and a restarted triggerer resumes
from the same absolute deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pendulum
from airflow.triggers.base import BaseTrigger, TriggerEvent

from whatsapp.domain.health import NAME_IN_REVIEW
from whatsapp.errors import GraphApiError
from whatsapp.hooks.graph import WhatsAppGraphHook

#: Transient Graph failures while waiting are retried at this pace (not the poke interval).
TRANSIENT_RETRY_SECONDS = 30.0


class DisplayNameTrigger(BaseTrigger):
    """Fires when ``name_status`` leaves ``PENDING_REVIEW``, on a permanent error, or at the deadline.

    Events: ``{"status": "ready" | "timeout" | "error", "name_status": ..., "error": {...}}``.
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
    ) -> None:
        super().__init__()
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
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline: datetime = pendulum.parse(self.deadline)  # type: ignore[assignment]
        token = await asyncio.to_thread(self._read_token)
        hook = WhatsAppGraphHook(self.whatsapp_graph_conn_id)
        try:
            while True:
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
                        yield TriggerEvent({"status": "ready", "name_status": health.name_status})
                        return
                    self.log.info("Display name of %s still %s", self.phone_number_id, health.name_status)
                remaining = (deadline - pendulum.now("UTC")).total_seconds()
                if remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "name_status": NAME_IN_REVIEW})
                    return
                await asyncio.sleep(min(wait, remaining))
        finally:
            await hook.aclose()

    def _read_token(self) -> str:
        from whatsapp.store import ChannelStore

        store = ChannelStore.from_conn_id(self.whatsapp_store_conn_id)
        try:
            return store.channels.credentials(self.channel_id).access_token
        finally:
            store.dispose()
