"""The fleet health audit: every channel's health from Graph, fast, within Meta's limits.

One GET per channel would cost 10,000 round trips for 10,000 channels. Instead channels are
read from the store a page at a time, packed into Graph batches (≤ 50 sub-requests, each
with its channel's own token), and a few senders keep a bounded number of batches in
flight, paced by :mod:`whatsapp.domain.pacing`. A writer stores results in bulk, a page at a
time (two pages side by side on PostgreSQL). Memory stays flat whatever the fleet size: at
most one store page, a few queued batches and two pages of results exist at a time.

Failure rules: a failed sub-request fails only its channel (stored with its error, audited
again next run); a failed whole batch (timeout, 5xx, broken answer) is retried a few times
with backoff, then each of its channels is stored as failed. Channels of a throttled WABA
(or of the whole app, when the app pause is longer than the audit may wait) are not sent;
they are counted as ``skipped_throttled`` and keep their old snapshot, so the next run,
which audits the stalest first, picks them up. No channel is ever dropped silently.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from whatsapp.domain.audit_plan import shard_concurrency
from whatsapp.domain.health import PhoneHealth, risky_transitions
from whatsapp.domain.pacing import APP_SCOPE, Pacer, PacingPolicy
from whatsapp.errors import GraphApiError
from whatsapp.hooks.graph import BatchRequest, BatchResult, WhatsAppGraphHook
from whatsapp.store import AuditTarget, ChannelStore, HealthResult

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 1000
#: Sends of one batch before its channels are stored as failed (transport errors, 5xx, timeouts).
MAX_BATCH_ATTEMPTS = 3
BATCH_RETRY_BASE_S = 0.5
#: App-wide pauses up to this long are waited out; longer ones skip the rest of the run.
MAX_APP_PAUSE_WAIT_S = 120.0
#: Batches in flight when an audit starts; pacing then adapts up to the connection's max_concurrency.
INITIAL_CONCURRENCY = 8
PROGRESS_EVERY = 5000
#: Risky transitions kept in the report (all are logged); the report goes to XCom.
REPORT_RISKY_LIMIT = 20
#: Allocations between young garbage collections during an audit (CPython's default: 700).
AUDIT_GC_THRESHOLD = 20_000

Sleep = Callable[[float], Any]


@dataclass(slots=True)
class AuditReport:
    """What one audit run did; small and JSON-serialisable (the fleet DAG returns it)."""

    audited: int = 0
    failed: int = 0
    skipped_throttled: int = 0
    applied: int = 0
    stale: int = 0
    http_requests: int = 0
    batch_retries: int = 0
    pending: int = 0
    provisioned: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    risky_total: int = 0
    risky: list[str] = field(default_factory=list)
    paused: dict[str, float] = field(default_factory=dict)
    peak_concurrency: int = 0
    wall_s: float = 0.0

    @property
    def channels(self) -> int:
        """Every channel the run read from the store: audited, failed or skipped."""
        return self.audited + self.failed + self.skipped_throttled

    def to_dict(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "audited": self.audited,
            "failed": self.failed,
            "skipped_throttled": self.skipped_throttled,
            "applied": self.applied,
            "stale": self.stale,
            "http_requests": self.http_requests,
            "batch_retries": self.batch_retries,
            "pending": self.pending,
            "provisioned": self.provisioned,
            "errors_by_kind": dict(self.errors_by_kind),
            "risky_total": self.risky_total,
            "risky": list(self.risky),
            "paused": {scope: round(left, 1) for scope, left in self.paused.items()},
            "peak_concurrency": self.peak_concurrency,
            "wall_s": round(self.wall_s, 3),
        }


class _Tally:
    """Counts results into the report and logs risky transitions once, as they are seen: one
    line per written page (a first audit of a large fleet finds thousands; a line each cost
    more CPU than storing them)."""

    def __init__(self, report: AuditReport, log: logging.Logger, progress_every: int) -> None:
        self.report = report
        self.log = log
        self.progress_every = progress_every
        self._started = time.monotonic()
        self._next_progress = progress_every
        self._page_risky: list[str] = []

    def add(self, target: AuditTarget, result: HealthResult, *, stored: bool = True) -> None:
        """Count one result; ``stored`` False: a newer check was kept, so nothing changed."""
        report = self.report
        if result.health is None:
            report.failed += 1
            kind = getattr(result.error, "kind", "unknown")
            report.errors_by_kind[str(kind)] = report.errors_by_kind.get(str(kind), 0) + 1
            return
        report.audited += 1
        if result.health.is_pending:
            report.pending += 1
        else:
            report.provisioned += 1
        for event in risky_transitions(target.watched, result.health) if stored else ():
            described = f"{target.phone_number_id}: {event}"
            self._page_risky.append(f"channel {target.id} ({described})")
            report.risky_total += 1
            if len(report.risky) < REPORT_RISKY_LIMIT:
                report.risky.append(described)

    def written(self, applied: int, stale: int) -> None:
        """One page is stored: log its risky transitions, and progress every ``progress_every``."""
        if self._page_risky:
            self.log.warning("Risky transitions (%d): %s", len(self._page_risky), "; ".join(self._page_risky))
            self._page_risky = []
        self.report.applied += applied
        self.report.stale += stale
        done = self.report.channels
        if done >= self._next_progress:
            elapsed = time.monotonic() - self._started
            self.log.info(
                "Audit progress: %d channels (%d failed, %d skipped) in %.1f s, %.0f channels/s",
                done,
                self.report.failed,
                self.report.skipped_throttled,
                elapsed,
                done / elapsed if elapsed else 0.0,
            )
            self._next_progress = done + self.progress_every


def _failed(target: AuditTarget, error: GraphApiError, now: datetime) -> HealthResult:
    return HealthResult(target.id, now, error=error)


def _sub_result(target: AuditTarget, item: BatchResult, now: datetime) -> HealthResult:
    """One sub-response as a result for its own channel only."""
    if item.error is not None:
        return HealthResult(target.id, now, error=item.error)
    body = item.body
    if not isinstance(body, Mapping) or str(body.get("id")) != target.phone_number_id:
        # Never store another number's health on this channel (or a node without an id).
        error = GraphApiError(
            "batch answer is not this phone number's node", http_status=item.status, operation="batch"
        )
        return HealthResult(target.id, now, error=error)
    return HealthResult(target.id, now, health=PhoneHealth.from_graph(body), raw_json=item.text)


def _shard_kwargs(shard: tuple[int, int] | None) -> dict[str, int]:
    if shard is None:
        return {}
    index, count = shard
    return {"shard": index, "shards": count}


class _FleetAudit:
    """One run's moving parts: the pacer, the senders, the writer and the report."""

    def __init__(
        self,
        hook: WhatsAppGraphHook,
        store: ChannelStore,
        *,
        now: datetime,
        pacer: Pacer,
        page_size: int,
        tally: _Tally,
        sleep: Sleep,
        max_app_pause_wait_s: float,
        run_id: str | None,
    ) -> None:
        self.hook = hook
        self.store = store
        self.now = now
        self.pacer = pacer
        self.page_size = page_size
        self.tally = tally
        self.report = tally.report
        self.log = tally.log
        self.sleep = sleep
        self.max_app_pause_wait_s = max_app_pause_wait_s
        self.run_id = run_id
        self._announced_pauses: set[str] = set()
        self._in_flight = 0
        self._slot_freed = asyncio.Event()

    async def run(self, pages: Iterator[list[AuditTarget]], batch_size: int) -> None:
        senders = self.pacer.max_concurrency
        batches: asyncio.Queue[list[AuditTarget] | None] = asyncio.Queue(maxsize=senders)
        results: asyncio.Queue[list[tuple[AuditTarget, HealthResult]] | None] = asyncio.Queue(
            maxsize=max(2, self.page_size // batch_size)
        )
        async with asyncio.TaskGroup() as group:
            writer = group.create_task(self._write(results))
            workers = [group.create_task(self._send_loop(batches, results)) for _ in range(senders)]
            while (page := await asyncio.to_thread(next, pages, None)) is not None:
                for start in range(0, len(page), batch_size):
                    await batches.put(page[start : start + batch_size])
            for _ in workers:
                await batches.put(None)
            await asyncio.gather(*workers)
            await results.put(None)
            await writer

    async def _send_loop(
        self,
        batches: asyncio.Queue[list[AuditTarget] | None],
        results: asyncio.Queue[list[tuple[AuditTarget, HealthResult]] | None],
    ) -> None:
        while (chunk := await batches.get()) is not None:
            sendable = self._drop_paused_wabas(chunk)
            if sendable and not await self._wait_turn():
                self._skip(sendable, APP_SCOPE)
                sendable = []
            if sendable:
                await results.put(await self._audit_batch(sendable))

    def _drop_paused_wabas(self, chunk: list[AuditTarget]) -> list[AuditTarget]:
        sendable = []
        for target in chunk:
            # Meta keys X-Business-Use-Case-Usage by the WABA or by the business portfolio.
            paused = next(
                (s for s in (target.waba_id, target.business_id) if self.pacer.paused_for(s) > 0), None
            )
            if paused is not None:
                self._skip([target], paused)
            else:
                sendable.append(target)
        return sendable

    def _skip(self, targets: Sequence[AuditTarget], scope: str) -> None:
        self.report.skipped_throttled += len(targets)
        if scope not in self._announced_pauses:
            self._announced_pauses.add(scope)
            left = self.pacer.paused_for(scope)
            who = "the app" if scope == APP_SCOPE else f"WABA {scope}"
            self.log.warning("Graph throttled %s for %.0f s more: skipping its channels this run", who, left)

    async def _wait_turn(self) -> bool:
        """Take an in-flight slot once pacing allows; False if the app pause is too long to wait.

        Any sender may take a free slot (the level moves while batches are out, so no sender
        owns one); a full house waits for the next batch to come back, which is also the only
        moment the level can change. Release with :meth:`_release`.
        """
        while True:
            decision = self.pacer.decide()
            if decision.concurrency == 0:
                if decision.delay_s > self.max_app_pause_wait_s:
                    return False
                await self.sleep(decision.delay_s)
            elif self._in_flight >= decision.concurrency:
                self._slot_freed.clear()
                await self._slot_freed.wait()
            else:
                self._in_flight += 1
                if decision.delay_s:
                    await self.sleep(decision.delay_s)
                return True

    def _release(self) -> None:
        self._in_flight -= 1
        self._slot_freed.set()

    async def _audit_batch(self, targets: list[AuditTarget]) -> list[tuple[AuditTarget, HealthResult]]:
        """Send one batch (retrying whole-batch failures) and turn it into per-channel results."""
        requests = [
            BatchRequest(self.hook.health_relative_url(t.phone_number_id), t.access_token) for t in targets
        ]
        attempt = 1
        while True:
            self.report.http_requests += 1
            sent = self.pacer.now()
            try:
                try:
                    answers = await self.hook.abatch_get(requests)
                finally:
                    self._release()
            except GraphApiError as error:
                self.pacer.observe_error(error, None)
                if not error.retryable:
                    # The envelope itself was refused (app credentials, malformed request): every
                    # batch would be. Recording it per channel would flag customers for our config.
                    raise
                if attempt < MAX_BATCH_ATTEMPTS:
                    self.report.batch_retries += 1
                    await self.sleep(BATCH_RETRY_BASE_S * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))
                    if await self._wait_turn():
                        attempt += 1
                        continue
                self.log.warning(
                    "Batch of %d channels failed after %d attempt(s): %s", len(targets), attempt, error
                )
                return [(t, _failed(t, error, self.now)) for t in targets]
            # No await since the answer was decoded: the hook's last usage is this batch's.
            self.pacer.observe_usage(self.hook.last_usage)
            self.pacer.observe_latency(sent)
            return [self._observe(t, a) for t, a in zip(targets, answers, strict=True)]

    def _observe(self, target: AuditTarget, item: BatchResult) -> tuple[AuditTarget, HealthResult]:
        self.pacer.observe_usage(item.usage)
        if item.error is not None:
            self.pacer.observe_error(item.error, target.waba_id)
        return target, _sub_result(target, item, self.now)

    async def _write(self, results: asyncio.Queue[list[tuple[AuditTarget, HealthResult]] | None]) -> None:
        """The writer: one bulk store write per page of results, up to the store's
        ``concurrent_writes`` at once (one page's SQL runs while the next page's rows are built)."""
        slots = asyncio.Semaphore(self.store.health.concurrent_writes)
        async with asyncio.TaskGroup() as writes:
            buffer: list[tuple[AuditTarget, HealthResult]] = []
            while (chunk := await results.get()) is not None:
                buffer.extend(chunk)
                if len(buffer) >= self.page_size:
                    await slots.acquire()
                    writes.create_task(self._flush(buffer, slots))
                    buffer = []
            await slots.acquire()
            writes.create_task(self._flush(buffer, slots))

    async def _flush(self, buffer: list[tuple[AuditTarget, HealthResult]], slots: asyncio.Semaphore) -> None:
        try:
            if not buffer:
                return
            written = await asyncio.to_thread(
                self.store.health.record, [result for _, result in buffer], run_id=self.run_id
            )
        finally:
            slots.release()
        for target, result in buffer:
            self.tally.add(target, result, stored=target.id not in written.stale_channel_ids)
        self.tally.written(written.applied, written.stale)


async def audit_fleet(
    hook: WhatsAppGraphHook,
    store: ChannelStore,
    *,
    now: datetime,
    stale_before: datetime | None = None,
    shard: tuple[int, int] | None = None,
    channel_ids: Sequence[int] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    batch_size: int | None = None,
    max_concurrency: int | None = None,
    pacing: PacingPolicy | None = None,
    max_app_pause_wait_s: float = MAX_APP_PAUSE_WAIT_S,
    run_id: str | None = None,
    progress_every: int = PROGRESS_EVERY,
    log: logging.Logger = logger,
    clock: Callable[[], float] = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> AuditReport:
    """Audit every active channel (or those not checked since ``stale_before``) and store the results.

    :param now: the check time stored on every result (the store keeps the newest check).
    :param shard: ``(k, n)``: only channels with ``id % n == k``, so n mapped tasks share a fleet.
    :param channel_ids: only these channels (a person's *Refresh from Meta* on a selection).
    :param run_id: the Airflow run auditing, kept with each health check in the history.
    :param batch_size: / :param max_concurrency: default to the Graph connection's settings;
        ``max_concurrency`` is the most batches in flight: the audit starts with
        ``INITIAL_CONCURRENCY`` and pacing adapts between 1 and it. By default a shard takes
        its share of the connection's value (:func:`~whatsapp.domain.audit_plan.shard_concurrency`),
        so all shards together stay within it. The connection's value also caps the HTTP/1.1
        connections, so a larger value here only queues requests.
    Runs inside the caller's event loop; the hook's async client must belong to that loop.
    """
    settings = await hook.asettings()
    batch_size = batch_size or settings.batch_size
    if not 1 <= batch_size <= settings.batch_size:
        raise ValueError(f"batch_size must be 1..{settings.batch_size}, got {batch_size}")
    started = time.monotonic()
    ceiling = max_concurrency or shard_concurrency(settings.max_concurrency, shard[1] if shard else 1)
    tally = _Tally(AuditReport(), log, progress_every)
    audit = _FleetAudit(
        hook,
        store,
        now=now,
        pacer=Pacer(ceiling, clock, pacing, initial=min(INITIAL_CONCURRENCY, ceiling)),
        page_size=page_size,
        tally=tally,
        sleep=sleep,
        max_app_pause_wait_s=max_app_pause_wait_s,
        run_id=run_id,
    )
    pages = store.health.audit_pages(
        page_size=page_size, not_checked_since=stale_before, channel_ids=channel_ids, **_shard_kwargs(shard)
    )
    try:
        await audit.run(pages, batch_size)
    except ExceptionGroup as group:  # TaskGroups wrap the first real failure; raise it as itself
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    report = tally.report
    report.paused = audit.pacer.paused()
    report.peak_concurrency = audit.pacer.peak_level
    report.wall_s = time.monotonic() - started
    log.info("Fleet audit done: %s", report.to_dict())
    return report


@contextmanager
def _collect_young_objects_rarely() -> Iterator[None]:
    """Cyclic garbage collection tuned for an audit: only its own objects, and seldom.

    An audit allocates millions of short-lived containers (decoded answers, rows) and makes
    almost no reference cycles. At CPython's default threshold (a young collection every 700
    allocations) the collector took a fifth of the audit's CPU, rescanning the pages and
    batches in flight and, in full collections, everything the task process imported. So the
    objects that exist at the start are frozen (never scanned again; Airflow's executors do the
    same before forking) and young collections run every :data:`AUDIT_GC_THRESHOLD` allocations;
    the threshold is restored afterwards.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], AUDIT_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def run_audit(hook: WhatsAppGraphHook, store: ChannelStore, *, now: datetime, **options: Any) -> AuditReport:
    """:func:`audit_fleet` from synchronous code (an Airflow task): own event loop, client closed after."""

    async def _run() -> AuditReport:
        try:
            return await audit_fleet(hook, store, now=now, **options)
        finally:
            await hook.aclose()

    with _collect_young_objects_rarely():
        return asyncio.run(_run())
