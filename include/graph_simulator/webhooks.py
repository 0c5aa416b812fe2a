"""Signed webhooks, as Meta sends them, for name decisions, quality changes and account events.

With a ``webhook_url`` (``--webhook-url`` or ``POST /_sim/config``) a watcher looks at every
number each :data:`TICK_S` seconds (wall time) and notices what changed since it last looked:
a display-name review that ended (by the clock or through ``/_sim``) sends
``phone_number_name_update``, a quality rating reaching or leaving ``RED`` sends
``phone_number_quality_update`` ``FLAGGED``/``UNFLAGGED``, a messaging limit change
``UPGRADE``/``DOWNGRADE``. ``POST /_sim/webhooks/account_update`` sends an ``account_update``.
What a call decided (the WhatsApp Business app syncs and events of ``business_app.py``) waits in
``SimState.outbox`` until :meth:`WebhookSender.flush` sends it, right after that call's answer.
Payload shapes are Meta's reference pages' (see ``whatsapp.domain.webhooks``); bodies are
signed ``X-Hub-Signature-256: sha256=HMAC-SHA256(app secret, raw body)``.

Delivery can be delayed (``webhook_delay_ms``), duplicated (``webhook_copies``: sends of the
same body) or dropped (``webhook_drop``: share 0..1, seeded). ``GET /_sim/webhooks`` lists every
notification with when it was decided and delivered (wall time), and how.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from typing import TYPE_CHECKING, Any

import httpx

from include.graph_simulator.business_app import digits

if TYPE_CHECKING:
    from include.graph_simulator.app import Simulator
    from include.graph_simulator.state import Number

#: How often (wall seconds) the watcher looks for decided reviews and quality changes.
TICK_S = 0.1
_LIMIT_ORDER = ("TIER_50", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")


def signature(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """What the simulator has told the receiver, and the watcher that decides what to tell."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.log: list[dict[str, Any]] = []
        self._seen: dict[str, tuple[str, str, str]] = {}
        self._rng = random.Random(0)
        self._client: httpx.AsyncClient | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def ensure_watching(self) -> None:
        """Start the watcher (in the running loop) once a webhook URL is configured."""
        if self.sim.state.config.webhook_url and (self._watcher is None or self._watcher.done()):
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while self.sim.webhooks is self and self.sim.state.config.webhook_url:
            self.tick()
            await asyncio.sleep(TICK_S)

    def tick(self) -> None:
        """Compare every number with what was last seen; send what Meta would."""
        state = self.sim.state
        now = state.clock.now()
        for number in list(state.numbers.values()):
            number.refresh(now)
            current = (number.name_status, number.quality_rating, number.messaging_limit_tier)
            before = self._seen.get(number.phone_number_id)
            self._seen[number.phone_number_id] = current
            if before is not None and before != current:
                self._changed(number, before, current)

    def _changed(self, number: Number, before: tuple[str, str, str], after: tuple[str, str, str]) -> None:
        display = digits(number.display_phone_number)
        if before[0] == "PENDING_REVIEW" and after[0] in ("APPROVED", "DECLINED"):
            value: dict[str, Any] = {
                "display_phone_number": display,
                "decision": "APPROVED" if after[0] == "APPROVED" else "REJECTED",
                "requested_verified_name": number.verified_name,
            }
            if after[0] == "DECLINED":
                value["rejection_reason"] = "NAME_NOT_MEETING_GUIDELINES"
            self.emit("phone_number_name_update", number.waba_id, value, number.phone_number_id)
        if (before[1] == "RED") != (after[1] == "RED"):
            event = "FLAGGED" if after[1] == "RED" else "UNFLAGGED"
            value = {"display_phone_number": display, "event": event, "current_limit": after[2]}
            self.emit("phone_number_quality_update", number.waba_id, value, number.phone_number_id)
        if before[2] != after[2]:
            up = _rank(after[2]) > _rank(before[2])
            value = {
                "display_phone_number": display,
                "event": "UPGRADE" if up else "DOWNGRADE",
                "old_limit": before[2],
                "current_limit": after[2],
            }
            self.emit("phone_number_quality_update", number.waba_id, value, number.phone_number_id)

    def flush(self) -> list[dict[str, Any]]:
        """Send what the calls so far decided (``SimState.outbox``), in order; their log entries."""
        outbox = self.sim.state.outbox
        records = [
            self.emit(field, waba_id, value, phone_number_id)
            for field, waba_id, value, phone_number_id in outbox
        ]
        outbox.clear()
        return records

    def emit(
        self, field: str, waba_id: str, value: dict[str, Any], phone_number_id: str | None = None
    ) -> dict[str, Any]:
        """Build, sign and (unless dropped) send one notification; returns its log entry."""
        config = self.sim.state.config
        entry = {"id": waba_id, "time": int(time.time()), "changes": [{"value": value, "field": field}]}
        body = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
        dropped = self._rng.random() < config.webhook_drop
        record: dict[str, Any] = {
            "seq": len(self.log) + 1,
            "field": field,
            "waba_id": waba_id,
            "phone_number_id": phone_number_id,
            "value": value,
            "decided_wall_time": time.time(),
            "dropped": dropped,
            "deliveries": [],
        }
        self.log.append(record)
        if not dropped and config.webhook_url:
            task = asyncio.get_running_loop().create_task(self._deliver(record, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return record

    async def _deliver(self, record: dict[str, Any], body: bytes) -> None:
        config = self.sim.state.config
        if config.webhook_delay_ms:
            await asyncio.sleep(config.webhook_delay_ms / 1000.0)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(body, config.app_secret),
        }
        for _ in range(max(1, config.webhook_copies)):
            try:
                response = await self._client.post(str(config.webhook_url), content=body, headers=headers)
                outcome: Any = response.status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            record["deliveries"].append({"wall_time": time.time(), "status": outcome})


def _rank(limit: str) -> int:
    return _LIMIT_ORDER.index(limit) if limit in _LIMIT_ORDER else -1
