"""Fleet operators: audit health in batches, pick due registrations, summarise.

The registration retries themselves reuse :class:`WhatsAppRegisterOperator`, mapped one
task per channel, so the fleet and onboarding share one registration path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum

from whatsapp.errors import GraphApiError
from whatsapp.operators.base import MANAGER_LINK, WhatsAppBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


def _positive_int(operator: WhatsAppBaseOperator, name: str, value: Any, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        operator.fail(f"bad {name}", f"{name} must be an integer, got {value!r}")
    if number < minimum:
        operator.fail(f"bad {name}", f"{name} must be >= {minimum}, got {number}")
    return number


class WhatsAppFleetAuditOperator(WhatsAppBaseOperator):
    """Fetch every active channel's health with Graph batch requests and store the snapshots.

    :param shard: / :param shards: audit only channels with ``id % shards == shard`` (map over shards).
    :param stale_after_minutes: only channels not checked within this window (0 = all).
    """

    template_fields = ("shard", "shards", "stale_after_minutes")

    def __init__(
        self,
        *,
        shard: int | str = 0,
        shards: int | str = 1,
        stale_after_minutes: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shard = shard
        self.shards = shards
        self.stale_after_minutes = stale_after_minutes

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.fleet_audit import run_audit

        shards = _positive_int(self, "shards", self.shards, minimum=1)
        shard = _positive_int(self, "shard", self.shard)
        stale_minutes = _positive_int(self, "stale_after_minutes", self.stale_after_minutes)
        now = pendulum.now("UTC")
        stale_before = now - timedelta(minutes=stale_minutes) if stale_minutes else None
        with self.open_store() as store:
            try:
                report = run_audit(
                    self.hook, store, now=now, stale_before=stale_before, shard=(shard, shards), log=self.log
                )
            except GraphApiError as error:
                self.graph_failure("fleet audit", error)
        return report.to_dict()


class WhatsAppDueRegistrationsOperator(WhatsAppBaseOperator):
    """List channels whose registration retry is due and within budget, as channel refs to map over."""

    template_fields = ("limit",)

    def __init__(self, *, limit: int | str = 100, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = limit

    def execute(self, context: Context) -> list[dict[str, Any]]:
        limit = _positive_int(self, "limit", self.limit, minimum=0)
        with self.open_store() as store:
            due = store.attempts.due(limit=limit)
        self.log.info("%d channel(s) due for a registration retry (cap %d)", len(due), limit)
        return [
            {
                "channel_id": channel.id,
                "account_id": channel.account_id,
                "inbox_id": channel.inbox_id,
                "phone_number_id": channel.phone_number_id,
                "display_phone_number": channel.display_phone_number or channel.phone_number_id,
            }
            for channel in due
        ]


class WhatsAppResolveChannelOperator(WhatsAppBaseOperator):
    """Turn ``account_id``/``inbox_id`` into a channel ref, failing clearly when there is none."""

    operator_extra_links = MANAGER_LINK

    template_fields = ("account_id", "inbox_id")

    def __init__(self, *, account_id: int | str, inbox_id: int | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.account_id = account_id
        self.inbox_id = inbox_id

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.operators.base import channel_ref

        account_id = _positive_int(self, "account_id", self.account_id, minimum=1)
        inbox_id = _positive_int(self, "inbox_id", self.inbox_id, minimum=1)
        with self.open_store() as store:
            channel = store.channels.get(account_id, inbox_id)
        if channel is None:
            self.fail("unknown channel", f"no channel for account {account_id} inbox {inbox_id}")
        self.publish_link(context, channel.business_id, channel.waba_id)
        return {**channel_ref(channel), "display_phone_number": channel.display_phone_number}


class WhatsAppFleetSummaryOperator(WhatsAppBaseOperator):
    """Counts by provisioning, registration state, reauthorization reason and quality; stored for the page."""

    def execute(self, context: Context) -> dict[str, Any]:
        with self.open_store() as store:
            counts = store.fleet.counts()
            store.fleet.save_summary(counts)
        self.log.info("Fleet summary: %s", counts)
        return counts
