"""Fleet operators: audit health in batches, pick due registrations, retry them, summarise.

The registration retries go through ``attempt_registration``, the one path onboarding and the
register DAG use too. A backlog is split into at most ``max_tasks`` mapped tasks: one channel
per task (named by its number) while the backlog fits, chunks of consecutive channels beyond
that, so 5,000 due numbers drain in one run without 5,000 task start-ups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk.exceptions import AirflowException

from whatsapp import metrics
from whatsapp.assets import FLEET_SUMMARY
from whatsapp.defaults import REGISTER_THREADS
from whatsapp.domain.audit_plan import AUTO as AUTO_SHARDS
from whatsapp.domain.audit_plan import shard_count
from whatsapp.errors import GraphApiError
from whatsapp.operators.base import WhatsAppBaseOperator, positive_int

if TYPE_CHECKING:
    from airflow.sdk import Context

    from whatsapp.store import ChannelStore, DueChannel

#: Rendered as each audit task's name in the grid.
AUDIT_MAP_INDEX_TEMPLATE = "shard {{ task.shard | int + 1 }} of {{ task.shards }}"
#: Rendered as the name in the grid of each task mapped over channels (a registration retry, a
#: chunk of a bulk action): its number, or the first and last of a chunk.
RETRY_MAP_INDEX_TEMPLATE = (
    "{% set c = task.channels %}{{ c[0]['display_phone_number'] }}"
    "{% if c | length > 1 %} .. {{ c[-1]['display_phone_number'] }} ({{ c | length }}){% endif %}"
)


def chunk_evenly(items: list[Any], max_chunks: int) -> list[list[Any]]:
    """Split ``items`` in order into at most ``max_chunks`` lists whose sizes differ by at most one."""
    if not items:
        return []
    count = min(len(items), max_chunks)
    size, extra = divmod(len(items), count)
    chunks, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        chunks.append(items[start:end])
        start = end
    return chunks


def mapped_refs(channels: Sequence[DueChannel]) -> list[dict[str, Any]]:
    """Channels as mapped tasks receive them (ids and the number their name shows; no secret)."""
    return [
        {
            "channel_id": channel.id,
            "account_id": channel.account_id,
            "inbox_id": channel.inbox_id,
            "phone_number_id": channel.phone_number_id,
            "display_phone_number": channel.display_phone_number or channel.phone_number_id,
        }
        for channel in channels
    ]


class WhatsAppAuditShardsOperator(WhatsAppBaseOperator):
    """The audit's mapped tasks: ``shards`` of them, or with 0 as many as the fleet's size needs.

    Returns one ``{"shard": k, "shards": n}`` per shard, to ``expand_kwargs`` the audit over.
    """

    template_fields = ("shards",)

    def __init__(self, *, shards: int | str = AUTO_SHARDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shards = shards

    def execute(self, context: Context) -> list[dict[str, int]]:
        count = positive_int(self, "shards", self.shards)
        if count == AUTO_SHARDS:
            with self.open_store() as store:
                active = store.health.active_channels()
            count = shard_count(active)
            self.log.info("Auditing %d active channel(s) in %d shard(s)", active, count)
        return [{"shard": index, "shards": count} for index in range(count)]


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

        shards = positive_int(self, "shards", self.shards, minimum=1)
        shard = positive_int(self, "shard", self.shard)
        stale_minutes = positive_int(self, "stale_after_minutes", self.stale_after_minutes)
        now = pendulum.now("UTC")
        stale_before = now - timedelta(minutes=stale_minutes) if stale_minutes else None
        with self.open_store() as store:
            try:
                report = run_audit(
                    self.hook,
                    store,
                    now=now,
                    stale_before=stale_before,
                    shard=(shard, shards),
                    run_id=context["run_id"],
                    log=self.log,
                )
            except GraphApiError as error:
                metrics.graph_errors(error.kind)
                self.graph_failure("fleet audit", error)
        metrics.audit_finished(report.wall_s, report.errors_by_kind)
        return report.to_dict()


class WhatsAppDueRegistrationsOperator(WhatsAppBaseOperator):
    """Channels whose registration retry is due and within budget, in at most ``max_tasks`` chunks.

    Returns a list of chunks (lists of channel refs) to map :class:`WhatsAppRegisterChannelsOperator`
    over: one channel per chunk while ``limit`` due channels fit in ``max_tasks`` tasks.
    """

    template_fields = ("limit", "max_tasks")

    def __init__(self, *, limit: int | str = 100, max_tasks: int | str = 200, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = limit
        self.max_tasks = max_tasks

    def execute(self, context: Context) -> list[list[dict[str, Any]]]:
        limit = positive_int(self, "limit", self.limit, minimum=0)
        max_tasks = positive_int(self, "max_tasks", self.max_tasks, minimum=1)
        with self.open_store() as store:
            due = store.attempts.due(limit=limit)
        chunks = chunk_evenly(mapped_refs(due), max_tasks)
        self.log.info(
            "%d channel(s) due for a registration retry (cap %d), in %d task(s) of up to %d",
            len(due),
            limit,
            len(chunks),
            math.ceil(len(due) / len(chunks)) if chunks else 0,
        )
        return chunks


class WhatsAppRegisterChannelsOperator(WhatsAppBaseOperator):
    """Registration retries for a chunk of due channels, each through ``attempt_registration``.

    Per channel exactly as a single registration task: the first try respects the backoff,
    channels waiting on a person are left alone, nothing exceeds the register budget. After every
    channel of the chunk had its turn, a transient failure (or an unanswered earlier call) makes
    the task retry, which re-claims only channels still in a retryable state; otherwise a channel
    that needs a person fails the task without retry. Each channel's outcome is in the log and
    the returned reports.
    """

    template_fields = ("channels",)

    def __init__(
        self, *, channels: list[dict[str, Any]] | Any, threads: int = REGISTER_THREADS, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.channels = channels
        self.threads = threads

    def execute(self, context: Context) -> list[dict[str, Any]]:
        refs = self.channels if isinstance(self.channels, list) else [self.channels]
        if not refs or not all(isinstance(ref, dict) and "channel_id" in ref for ref in refs):
            self.fail("bad channel references", f"expected a list of channel refs, got {self.channels!r}")
        first_try = context["ti"].try_number <= 1
        with self.open_store() as store, ThreadPoolExecutor(min(self.threads, len(refs))) as pool:
            results = list(
                pool.map(lambda ref: self._register(store, ref, first_try, context["run_id"]), refs)
            )
        retry = [ref["display_phone_number"] for ref, kind, _ in results if kind == "retry"]
        person = [f"{ref['display_phone_number']}: {text}" for ref, kind, text in results if kind == "person"]
        if retry:
            raise AirflowException(f"registration of {', '.join(retry)} will be retried")
        if person:
            self.fail("registration needs a person", "; ".join(person))
        return [report for _, kind, report in results if kind == "done"]

    def _register(
        self, store: ChannelStore, ref: dict[str, Any], first_try: bool, run_id: str
    ) -> tuple[dict[str, Any], str, Any]:
        """One channel: ``(ref, "done", report)``, ``(ref, "retry", why)`` or ``(ref, "person", why)``."""
        from whatsapp.register_channel import AWAITING_ANSWER, RegistrationFailed, attempt_registration

        number = ref["display_phone_number"]
        try:
            report = attempt_registration(
                self.hook,
                store,
                int(ref["channel_id"]),
                respect_backoff=first_try,
                respect_state=True,
                run_id=run_id,
            )
        except RegistrationFailed as failure:
            metrics.register_outcome(failure.report.action)
            self.log.error("Registration of %s needs a person: %s", number, failure.report.message)
            return ref, "person", failure.report.message
        except GraphApiError as error:
            metrics.graph_errors(error.kind)
            metrics.register_outcome("retry_task" if error.retryable else "failed")
            if not error.retryable:
                self.log.error("Registration of %s failed: %s", number, error)
                return ref, "person", str(error)
            self.log.warning("Registration of %s failed transiently: %s", number, error)
            return ref, "retry", str(error)
        metrics.register_outcome(report.action)
        self.log.info("Registration of %s: %s", number, report.message)
        if report.action == AWAITING_ANSWER and not first_try:
            return ref, "retry", report.message
        return ref, "done", report.to_dict()


class WhatsAppFleetSummaryOperator(WhatsAppBaseOperator):
    """Counts by provisioning, registration state, reauthorization reason and quality.

    First marks the WhatsApp Business app syncs whose 24 hours passed unrequested as expired.

    Stored for the page, sent as ``whatsapp.channels.*`` gauges, and published as the
    :data:`~whatsapp.assets.FLEET_SUMMARY` Asset (the counts in the event's extra), so DAGs
    scheduled on it run after each fleet run.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("outlets", [FLEET_SUMMARY])
        super().__init__(**kwargs)

    def execute(self, context: Context) -> dict[str, Any]:
        with self.open_store() as store:
            # Syncs of WhatsApp Business app numbers nobody requested in Meta's 24 hours are lost:
            # counted as such before the fleet is counted.
            expired = store.business_app.expire()
            if expired:
                self.log.warning(
                    "%d contacts or chat-history sync(s) expired unrequested (Meta allows them within "
                    "24 hours of onboarding)",
                    expired,
                )
            counts = store.fleet.counts()
            store.fleet.save_summary(counts)
        metrics.fleet_counts(counts)
        context["outlet_events"][FLEET_SUMMARY].extra = counts
        self.log.info("Fleet summary: %s", counts)
        return counts


class WhatsAppNotifyFlagsOperator(WhatsAppBaseOperator):
    """Announce, once, the channels that newly need a person (``whatsapp.notifiers``).

    Sends one message listing them through every configured notifier, then records the flags
    as announced; a failed send fails the task (Airflow retries) and records nothing, so the
    flags are announced by the retry or the next run. Without any notifier configured the
    list is only logged and kept for when one is.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.notifiers import configured_notifiers, flags_message

        with self.open_store() as store:
            flagged = store.operations.not_yet_notified()
            if not flagged:
                self.log.info("No channel newly needs a person")
                return {"flagged": 0, "notified": 0}
            text = flags_message(flagged)
            notifiers = configured_notifiers(text)
            self.log.info("%s", text)
            if not notifiers:
                self.log.warning(
                    "No notification connection is defined: %d flag(s) kept for later", len(flagged)
                )
                return {"flagged": len(flagged), "notified": 0}
            for notifier in notifiers:
                notifier(context)
            store.operations.mark_notified(flagged)
        return {"flagged": len(flagged), "notified": len(notifiers)}


class WhatsAppPruneHistoryOperator(WhatsAppBaseOperator):
    """Delete health history, fleet summaries and signup intake rows older than ``history_days``
    (the latest summary stays)."""

    template_fields = ("history_days",)

    def __init__(self, *, history_days: int | str = 90, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history_days = history_days

    def execute(self, context: Context) -> dict[str, int]:
        days = positive_int(self, "history_days", self.history_days, minimum=1)
        before = pendulum.now("UTC") - timedelta(days=days)
        with self.open_store() as store:
            pruned = store.operations.prune_history(before)
        self.log.info("Pruned history older than %d days (before %s): %s", days, before.isoformat(), pruned)
        return pruned
