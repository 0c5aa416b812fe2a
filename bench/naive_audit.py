"""The benchmark's baseline: one sequential GET per channel, no batching, no pacing.

``bench/fleet_audit.py --naive`` measures it against :func:`whatsapp.fleet_audit.run_audit` on the same
data. It is not production code, so it lives here; it reuses the audit's private tally and
failure helpers on purpose, so that results are counted and stored exactly as the real audit
does and the difference measured is the Graph traffic alone.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from whatsapp.errors import GraphApiError
from whatsapp.fleet_audit import (
    DEFAULT_PAGE_SIZE,
    PROGRESS_EVERY,
    AuditReport,
    _failed,
    _shard_kwargs,
    _Tally,
)
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.store import ChannelStore, HealthResult

logger = logging.getLogger(__name__)


def naive_audit(
    hook: WhatsAppGraphHook,
    store: ChannelStore,
    *,
    now: datetime,
    stale_before: datetime | None = None,
    shard: tuple[int, int] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = None,
    log: logging.Logger = logger,
) -> AuditReport:
    """One sequential GET per channel; stores each page in bulk like :func:`whatsapp.fleet_audit.audit_fleet`.

    ``limit`` stops after that many channels (a measured sample).
    """
    started = time.monotonic()
    tally = _Tally(AuditReport(), log, PROGRESS_EVERY)
    pages = store.health.audit_pages(
        page_size=page_size, not_checked_since=stale_before, **_shard_kwargs(shard)
    )
    for page in pages:
        if limit is not None:
            page = page[: limit - tally.report.channels]
        checked = []
        for target in page:
            tally.report.http_requests += 1
            try:
                health = hook.get_phone_health(target.phone_number_id, target.access_token)
                result = HealthResult(target.id, now, health=health)
            except GraphApiError as error:
                result = _failed(target, error, now)
            checked.append((target, result))
        written = store.health.record([result for _, result in checked])
        for target, result in checked:
            tally.add(target, result, stored=target.id not in written.stale_channel_ids)
        tally.written(written.applied, written.stale)
        if limit is not None and tally.report.channels >= limit:
            break
    tally.report.wall_s = time.monotonic() - started
    return tally.report
