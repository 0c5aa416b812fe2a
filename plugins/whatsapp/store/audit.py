"""The fleet audit's two store operations: page through channels, and write thousands of results at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Boolean, Integer, Select, String, Text, and_, case, insert, or_, select, tuple_, update

from whatsapp.domain.registration import REAUTHORIZATION_BY_KIND, ReauthorizationReason
from whatsapp.store.base import StoreBase, utcnow
from whatsapp.store.models import AuditTarget, CheckError, HealthResult, HealthWriteResult
from whatsapp.store.rowsource import json_rows
from whatsapp.store.rules import reauthorization_values, snapshot_registration_values
from whatsapp.store.schema import (
    ERROR_COLUMNS,
    HEALTH_COLUMNS,
    Id,
    Json,
    UtcDateTime,
    channels,
    health_checks,
)

_AUDIT_COLUMNS = (
    channels.c.id,
    channels.c.phone_number_id,
    channels.c.waba_id,
    channels.c.access_token_enc,
    channels.c.quality_rating,
    channels.c.status,
    channels.c.checked_at,
)

#: Column types of one health result as the bulk statements read it from the JSON parameter.
_RESULT_COLUMNS = (
    ("channel_id", Id),
    ("checked_at", UtcDateTime()),
    ("ok", Boolean()),
    ("pending", Boolean()),
    ("needs_registration", Boolean()),
    ("provisioning", String()),
    ("display_phone_number", String()),
    ("verified_name", String()),
    ("snapshot", Json),
    *((name, String()) for name in HEALTH_COLUMNS),
    ("error_kind", String()),
    ("error_code", Integer()),
    ("error_subcode", Integer()),
    ("error_message", Text()),
)


_health_values = attrgetter(*HEALTH_COLUMNS)


def _result_row(result: HealthResult) -> dict[str, Any]:
    row: dict[str, Any] = {"channel_id": result.channel_id, "checked_at": result.checked_at}
    if result.health is not None:
        health = result.health
        pending = health.is_pending
        row.update(zip(HEALTH_COLUMNS, _health_values(health), strict=True))
        row.update(
            ok=True,
            pending=pending,
            needs_registration=health.needs_registration,
            provisioning=health.provisioning.value,
            display_phone_number=health.display_phone_number,
            verified_name=health.verified_name,
            snapshot=health.raw,
        )
    else:
        error = result.error if isinstance(result.error, CheckError) else CheckError.from_graph(result.error)
        row.update(
            ok=False,
            error_kind=error.kind,
            error_code=error.code,
            error_subcode=error.subcode,
            error_message=error.message,
        )
    return row


class AuditMixin(StoreBase):
    def iter_audit_pages(
        self,
        *,
        page_size: int = 500,
        not_checked_since: datetime | None = None,
        shard: int = 0,
        shards: int = 1,
    ) -> Iterator[list[AuditTarget]]:
        """Active channels to audit, ``page_size`` at a time, with decrypted tokens; never all in memory.

        Keyset pagination (no OFFSET, no open cursor between pages, so writes between pages are
        fine). With ``not_checked_since``: only channels whose last good check is older (or
        missing), never-checked first, then oldest-checked first — a channel written during the
        stream moves past the cutoff and is not yielded twice. ``shard``/``shards`` split the
        fleet by ``id % shards`` so mapped tasks share it.
        """
        if not 0 <= shard < shards:
            raise ValueError(f"shard must be in [0, {shards}), got {shard}")
        base = select(*_AUDIT_COLUMNS).where(channels.c.active.is_(True))
        if shards > 1:
            base = base.where(channels.c.id % shards == shard)
        if not_checked_since is None:
            yield from self._pages(base, page_size, by_checked_at=False)
            return
        yield from self._pages(base.where(channels.c.checked_at.is_(None)), page_size, by_checked_at=False)
        stale = base.where(channels.c.checked_at < not_checked_since)
        yield from self._pages(stale, page_size, by_checked_at=True)

    def _pages(
        self, query: Select[Any], page_size: int, *, by_checked_at: bool
    ) -> Iterator[list[AuditTarget]]:
        order = (channels.c.checked_at, channels.c.id) if by_checked_at else (channels.c.id,)
        after: tuple[Any, ...] | None = None
        while True:
            page_query = query.order_by(*order).limit(page_size)
            if after is not None:
                page_query = page_query.where(tuple_(*order) > tuple_(*after))
            with self._connect() as conn:
                rows = conn.execute(page_query).all()
            if not rows:
                return
            last = rows[-1]
            after = (last.checked_at, last.id) if by_checked_at else (last.id,)
            yield [
                AuditTarget(
                    id=row.id,
                    phone_number_id=row.phone_number_id,
                    waba_id=row.waba_id,
                    access_token=self.secrets.decrypt(row.access_token_enc),
                    quality_rating=row.quality_rating,
                    status=row.status,
                )
                for row in rows
            ]
            if len(rows) < page_size:
                return

    def record_health(self, results: Sequence[HealthResult]) -> HealthWriteResult:
        """Store a batch of health checks: current snapshots, flags, failures and history.

        One transaction, three statements whatever the batch size: successes update their
        channel only if newer than the stored snapshot (a late, older check never wins) and set
        provisioning, ``registration_incomplete`` (see ``rules.py``) and the registration state;
        failures record their error (190 flags ``token_invalid``, permission errors
        ``permission_revoked``) without touching the last good snapshot; every result, stale
        ones included, is appended to the history. Unknown channel ids are ignored.
        """
        if not results:
            return HealthWriteResult(0, 0, 0)
        src = json_rows(self.dialect, [_result_row(r) for r in results], _RESULT_COLUMNS)
        newer = or_(channels.c.checked_at.is_(None), channels.c.checked_at < src.c.checked_at)
        snapshot = {name: src.c[name] for name in HEALTH_COLUMNS}
        pending_reason = case(
            (src.c.pending, ReauthorizationReason.REGISTRATION_INCOMPLETE.value), else_=None
        )
        applied_stmt = (
            update(channels)
            .where(channels.c.id == src.c.channel_id, src.c.ok.is_(True), newer)
            .values(
                **snapshot,
                snapshot=src.c.snapshot,
                checked_at=src.c.checked_at,
                provisioning=src.c.provisioning,
                display_phone_number=case(
                    (src.c.display_phone_number.is_(None), channels.c.display_phone_number),
                    else_=src.c.display_phone_number,
                ),
                verified_name=case(
                    (src.c.verified_name.is_(None), channels.c.verified_name), else_=src.c.verified_name
                ),
                **{f"last_check_{name}": None for name in ERROR_COLUMNS},
                last_check_failed_at=None,
                **reauthorization_values(pending_reason),
                **snapshot_registration_values(src.c.needs_registration, src.c.checked_at),
                updated_at=utcnow(),
            )
        )
        failure_reason = case(
            *(
                (src.c.error_kind == kind.value, reason.value)
                for kind, reason in REAUTHORIZATION_BY_KIND.items()
            ),
            else_=channels.c.reauthorization_reason,
        )
        failed_stmt = (
            update(channels)
            .where(
                channels.c.id == src.c.channel_id,
                src.c.ok.is_(False),
                newer,
                or_(
                    channels.c.last_check_failed_at.is_(None),
                    channels.c.last_check_failed_at < src.c.checked_at,
                ),
            )
            .values(
                **{f"last_check_{name}": src.c[name] for name in ERROR_COLUMNS},
                last_check_failed_at=src.c.checked_at,
                **reauthorization_values(failure_reason),
                updated_at=utcnow(),
            )
        )
        history_columns = ["checked_at", *HEALTH_COLUMNS, "provisioning", *ERROR_COLUMNS]
        history_stmt = insert(health_checks).from_select(
            ["channel_id", *history_columns],
            select(src.c.channel_id, *(src.c[name] for name in history_columns)).where(
                and_(select(channels.c.id).where(channels.c.id == src.c.channel_id).exists())
            ),
        )
        failed = sum(1 for r in results if r.health is None)
        with self._transaction() as conn:
            applied = frozenset(conn.execute(applied_stmt.returning(channels.c.id)).scalars())
            if failed:
                conn.execute(failed_stmt)
            conn.execute(history_stmt)
        stale = frozenset(r.channel_id for r in results if r.health is not None) - applied
        return HealthWriteResult(
            applied=len(applied), stale=len(stale), failed=failed, stale_channel_ids=stale
        )
