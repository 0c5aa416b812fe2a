"""Health snapshots: page through channels to audit, write thousands of results at once, read history.

The registration consequences of a health result are decided by
:func:`whatsapp.domain.registration_machine.transition` on the rows read (and locked) in the write's own
transaction; SQL only carries the results out, a few statements whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    Text,
    func,
    insert,
    select,
    tuple_,
    update,
)

from whatsapp.domain.health import HEALTH_FIELDS
from whatsapp.domain.registration import ANSWER_LOST_WAIT
from whatsapp.domain.registration_machine import GraphFailed, HealthRead, Registration, transition
from whatsapp.errors import ErrorKind
from whatsapp.store.attempts import complete_lost_intents
from whatsapp.store.channels import (
    REGISTRATION_COLUMNS,
    REGISTRATION_TYPES,
    check_error_from,
    registration_from_row,
    registration_values,
)
from whatsapp.store.database import Database, utcnow
from whatsapp.store.models import AuditTarget, CheckError, HealthCheck, HealthResult, HealthWriteResult
from whatsapp.store.rowsource import json_rows
from whatsapp.store.schema import (
    ERROR_COLUMNS,
    HEALTH_COLUMNS,
    Id,
    Json,
    UtcDateTime,
    channels,
    health_checks,
)

#: The stored fields whose changes are reported once (``HealthField.watched``).
WATCHED_COLUMNS: tuple[str, ...] = tuple(f.name for f in HEALTH_FIELDS if f.watched and f.stored)

_AUDIT_COLUMNS = (
    channels.c.id,
    channels.c.phone_number_id,
    channels.c.waba_id,
    channels.c.business_id,
    channels.c.access_token_enc,
    channels.c.checked_at,
    *(channels.c[name] for name in WATCHED_COLUMNS),
)

_SNAPSHOT_TYPES = (
    ("channel_id", Id),
    ("checked_at", UtcDateTime()),
    ("provisioning", String()),
    ("display_phone_number", String()),
    ("verified_name", String()),
    ("snapshot", Json),
    *((name, String()) for name in HEALTH_COLUMNS),
    *REGISTRATION_TYPES,
)
_FAILURE_TYPES = (
    ("channel_id", Id),
    ("checked_at", UtcDateTime()),
    ("error_kind", String()),
    ("error_code", Integer()),
    ("error_subcode", Integer()),
    ("error_message", Text()),
    *REGISTRATION_TYPES,
)
_HISTORY_TYPES = (
    ("channel_id", Id),
    ("checked_at", UtcDateTime()),
    *((name, String()) for name in HEALTH_COLUMNS),
    ("provisioning", String()),
    *_FAILURE_TYPES[2:6],
    ("run_id", String()),
    ("event", Text()),
)
_HISTORY_COLUMNS = tuple(name for name, _ in _HISTORY_TYPES)


def insert_history(conn: Connection, dialect: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append health-history rows in one statement: Graph reads and Meta's pushed changes alike.

    A row names the columns it has (see ``_HISTORY_TYPES``); the others are stored as NULL.
    """
    if not rows:
        return
    src = json_rows(dialect, rows, _HISTORY_TYPES)
    conn.execute(
        insert(health_checks).from_select(
            list(_HISTORY_COLUMNS), select(*(src.c[n] for n in _HISTORY_COLUMNS))
        )
    )


def _snapshot_row(result: HealthResult, registration: Registration) -> dict[str, Any]:
    health = result.health
    assert health is not None
    return {
        "channel_id": result.channel_id,
        "checked_at": result.checked_at,
        "provisioning": health.provisioning.value,
        "display_phone_number": health.display_phone_number,
        "verified_name": health.verified_name,
        "snapshot": health.raw if result.raw_json is None else result.raw_json,
        **{name: health.values.get(name) for name in HEALTH_COLUMNS},
        **registration_values(registration),
    }


def _error_of(result: HealthResult) -> CheckError:
    error = result.error
    assert error is not None
    return error if isinstance(error, CheckError) else CheckError.from_graph(error)


def _failure_row(result: HealthResult, registration: Registration) -> dict[str, Any]:
    error = _error_of(result)
    return {
        "channel_id": result.channel_id,
        "checked_at": result.checked_at,
        "error_kind": error.kind,
        "error_code": error.code,
        "error_subcode": error.subcode,
        "error_message": error.message,
        **registration_values(registration),
    }


def _history_row(result: HealthResult, run_id: str | None) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_HISTORY_COLUMNS)
    row.update(channel_id=result.channel_id, checked_at=result.checked_at, run_id=run_id)
    if result.health is not None:
        row.update({name: result.health.values.get(name) for name in HEALTH_COLUMNS})
        row["provisioning"] = result.health.provisioning.value
    else:
        error = _error_of(result)
        row.update(
            error_kind=error.kind,
            error_code=error.code,
            error_subcode=error.subcode,
            error_message=error.message,
        )
    return row


def _kind(error: CheckError) -> ErrorKind:
    try:
        return ErrorKind(error.kind)
    except ValueError:
        return ErrorKind.UNKNOWN


def _newer(stored: datetime | None, incoming: datetime) -> bool:
    return stored is None or stored < incoming


class HealthRepository:
    """Snapshots on ``channels`` and the append-only ``health_checks`` history."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def active_channels(self) -> int:
        """How many channels an audit of every active channel reads (it sizes the audit's shards)."""
        with self.db.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(channels).where(channels.c.active.is_(True))
            ).scalar_one()

    def audit_pages(
        self,
        *,
        page_size: int = 500,
        not_checked_since: datetime | None = None,
        shard: int = 0,
        shards: int = 1,
        channel_ids: Sequence[int] | None = None,
    ) -> Iterator[list[AuditTarget]]:
        """Active channels to audit, ``page_size`` at a time, with decrypted tokens; never all in memory.

        Keyset pagination (no OFFSET, no open cursor between pages, so writes between pages are
        fine). With ``not_checked_since``: only channels whose last good check is older (or
        missing), never-checked first, then oldest-checked first — a channel written during the
        stream moves past the cutoff and is not yielded twice. ``shard``/``shards`` split the
        fleet by ``id % shards`` so mapped tasks share it. ``channel_ids``: only these channels (a
        person's selection, a chunk of ``whatsapp_fleet_action``'s; at most a few hundred).
        """
        if not 0 <= shard < shards:
            raise ValueError(f"shard must be in [0, {shards}), got {shard}")
        base = select(*_AUDIT_COLUMNS).where(channels.c.active.is_(True))
        if channel_ids is not None:
            base = base.where(channels.c.id.in_(sorted(set(channel_ids))))
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
            with self.db.connect() as conn:
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
                    business_id=row.business_id,
                    access_token=self.db.secrets.decrypt(row.access_token_enc),
                    watched={name: getattr(row, name) for name in WATCHED_COLUMNS},
                )
                for row in rows
            ]
            if len(rows) < page_size:
                return

    @property
    def concurrent_writes(self) -> int:
        """How many :meth:`record` calls may usefully run at once on different channels.

        PostgreSQL locks rows, so two pages of one audit (disjoint channels) write side by side;
        SQLite has one writer at a time.
        """
        return 2 if self.db.dialect == "postgresql" else 1

    def record(self, results: Sequence[HealthResult], *, run_id: str | None = None) -> HealthWriteResult:
        """Store a batch of health checks: current snapshots, flags, failures and history
        (``run_id``: the Airflow run that read them, kept in the history).

        One transaction: the batch's channels are read and locked, each result is turned into
        its registration transition (a success is a :class:`HealthRead`, a failure a
        :class:`GraphFailed`), then three bulk statements write them. A snapshot older than the
        stored one never wins (it is "stale"); a failure never touches the last good snapshot;
        every result, stale ones included, is appended to the history. Unknown channel ids are
        ignored. A snapshot also completes the channel's register intents nobody completed that
        went out at least ``ANSWER_LOST_WAIT`` before it
        (:func:`~whatsapp.store.attempts.complete_lost_intents`).
        """
        if not results:
            return HealthWriteResult(0, 0, 0)
        ids = sorted({r.channel_id for r in results})
        current_query = (
            select(
                channels.c.id,
                channels.c.checked_at,
                channels.c.last_check_failed_at,
                *REGISTRATION_COLUMNS,
            )
            .where(channels.c.id.in_(ids))
            .order_by(channels.c.id)
            .with_for_update()
        )
        with self.db.transaction(immediate=True) as conn:
            current = {row.id: row for row in conn.execute(current_query)}
            registrations = {cid: registration_from_row(row) for cid, row in current.items()}
            checked_at = {cid: row.checked_at for cid, row in current.items()}
            failed_at = {cid: row.last_check_failed_at for cid, row in current.items()}
            snapshots: dict[int, dict[str, Any]] = {}
            failures: dict[int, dict[str, Any]] = {}
            for result in sorted(results, key=lambda r: r.checked_at):
                cid = result.channel_id
                if cid not in current or not _newer(checked_at[cid], result.checked_at):
                    continue
                if result.health is not None:
                    event = HealthRead(
                        result.health, result.checked_at, just_registered=result.just_registered
                    )
                    registrations[cid] = transition(registrations[cid], event).registration
                    checked_at[cid] = result.checked_at
                    snapshots[cid] = _snapshot_row(result, registrations[cid])
                    failures.pop(cid, None)
                elif _newer(failed_at[cid], result.checked_at):
                    failure = GraphFailed(_kind(_error_of(result)), result.checked_at)
                    registrations[cid] = transition(registrations[cid], failure).registration
                    failed_at[cid] = result.checked_at
                    failures[cid] = _failure_row(result, registrations[cid])
            if snapshots:
                self._write_snapshots(conn, list(snapshots.values()))
                # What Meta made of a register call nobody recorded shows in this read.
                read_at = min(row["checked_at"] for row in snapshots.values())
                complete_lost_intents(conn, sorted(snapshots), sent_before=read_at - ANSWER_LOST_WAIT)
            if failures:
                self._write_failures(conn, list(failures.values()))
            history = [_history_row(r, run_id) for r in results if r.channel_id in current]
            insert_history(conn, self.db.dialect, history)
        # Refused snapshots (older than the stored one, or of an unknown channel) are "stale".
        stale = {r.channel_id for r in results if r.health is not None} - snapshots.keys()
        return HealthWriteResult(
            applied=len(snapshots),
            stale=len(stale),
            failed=sum(1 for r in results if r.health is None),
            stale_channel_ids=frozenset(stale),
        )

    def _write_snapshots(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        src = json_rows(self.db.dialect, rows, _SNAPSHOT_TYPES, raw_json="snapshot")
        keep = ("display_phone_number", "verified_name")  # Graph may omit them: keep what we know
        values: dict[str, Any] = {
            name: src.c[name] for name, _ in _SNAPSHOT_TYPES if name != "channel_id" and name not in keep
        }
        for name in keep:
            values[name] = func.coalesce(src.c[name], channels.c[name])
        conn.execute(
            update(channels)
            .where(channels.c.id == src.c.channel_id)
            .values(
                **values,
                **{f"last_check_{name}": None for name in ERROR_COLUMNS},
                last_check_failed_at=None,
                updated_at=utcnow(),
            )
        )

    def _write_failures(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        src = json_rows(self.db.dialect, rows, _FAILURE_TYPES)
        conn.execute(
            update(channels)
            .where(channels.c.id == src.c.channel_id)
            .values(
                **{f"last_check_{name}": src.c[name] for name in ERROR_COLUMNS},
                last_check_failed_at=src.c.checked_at,
                **{name: src.c[name] for name, _ in REGISTRATION_TYPES},
                updated_at=utcnow(),
            )
        )

    def history(self, channel_id: int, *, limit: int = 50) -> list[HealthCheck]:
        """The channel's health checks, newest first."""
        query = (
            select(health_checks)
            .where(health_checks.c.channel_id == channel_id)
            .order_by(health_checks.c.checked_at.desc(), health_checks.c.id.desc())
            .limit(limit)
        )
        with self.db.connect() as conn:
            return [
                HealthCheck(
                    channel_id=row.channel_id,
                    checked_at=row.checked_at,
                    fields={name: getattr(row, name) for name in HEALTH_COLUMNS},
                    provisioning=row.provisioning,
                    error=check_error_from(row),
                    event=row.event,
                    run_id=row.run_id,
                )
                for row in conn.execute(query)
            ]
