"""Meta's webhook changes: stored once each, applied to the channels they name, a body at a time.

A change is inserted under its unique ``change_key`` first; a redelivery finds the key taken and
changes nothing (no snapshot write, no history row, no second report). A body's changes are
written together (:meth:`WebhookRepository.record_all`): Meta batches thousands of changes in
one notification and expects its 200 quickly, so a body costs a few bulk statements, not a
transaction per change. What a change does to a channel's registration is decided by
:func:`whatsapp.domain.registration_machine.transition`, stale name decisions included (older than what the
store knows: stored with ``stale``, the snapshot untouched, a history line that says so); the
snapshot fields it tells come from :func:`whatsapp.domain.webhooks.health_values`. The
display-name sensor's trigger reads the decisions back with :meth:`WebhookRepository.name_decisions`.

WhatsApp Business app numbers (:mod:`whatsapp.domain.business_app`): ``history``,
``smb_app_state_sync`` and ``smb_message_echoes`` move the number's syncs and echo count through
:mod:`whatsapp.store.business_app` (stored as counts only: :func:`whatsapp.domain.webhooks.kept_value`),
once per channel and batch (the same as one by one: the progress only grows, a refusal is final,
the contacts arrive once, echoes add up). ``account_update`` ``ACCOUNT_OFFBOARDED`` /
``ACCOUNT_RECONNECTED`` and a ``PARTNER_REMOVED`` with ``disconnection_info`` move such a number's
link instead of its registration (:meth:`whatsapp.domain.webhooks.AccountUpdate.moves_link`): the
customer is moving the app to another device, is back, or disconnected the number, which
offboards the channel with Meta's reason and calls nothing. Every other channel of the WABA takes
the event as before.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Connection, Integer, String, Text, select, true, update

from whatsapp.domain.business_app import AppLink, Disconnection, link_after
from whatsapp.domain.health import HEALTH_FIELDS, PhoneHealth, risky_transitions
from whatsapp.domain.registration_machine import (
    AccountEvent,
    NameReviewDecided,
    QualityChanged,
    Registration,
    Transition,
    transition,
)
from whatsapp.domain.webhooks import (
    APPROVED,
    NAME_UPDATE,
    REJECTED,
    AccountUpdate,
    AppData,
    ContactsSynced,
    HistoryChunks,
    MessageEchoes,
    NameDecision,
    QualityUpdate,
    WebhookChange,
    digits,
    health_values,
)
from whatsapp.store import business_app
from whatsapp.store.channels import (
    REGISTRATION_COLUMNS,
    REGISTRATION_TYPES,
    registration_from_row,
    registration_values,
)
from whatsapp.store.database import Database, utcnow
from whatsapp.store.health_checks import insert_history
from whatsapp.store.rowsource import json_rows
from whatsapp.store.schema import (
    HEALTH_COLUMNS,
    Id,
    Json,
    UtcDateTime,
    channels,
    webhook_events,
)

log = logging.getLogger(__name__)

#: The stored fields whose changes are reported once (as the audit does).
_WATCHED = tuple(f.name for f in HEALTH_FIELDS if f.watched and f.stored)
_CHANNEL_COLUMNS = (
    channels.c.id,
    channels.c.account_id,
    channels.c.inbox_id,
    channels.c.phone_number_id,
    channels.c.waba_id,
    channels.c.display_phone_number,
    channels.c.provisioning,
    channels.c.business_app,
    *(channels.c[name] for name in HEALTH_COLUMNS),
    *REGISTRATION_COLUMNS,
)

#: Changes written per transaction: a body of thousands takes a few transactions, each holding
#: its channels' row locks for a bounded time and a few statements whatever its size.
CHANGES_PER_TRANSACTION = 1000

_CHANNEL_WRITE_TYPES = (
    ("channel_id", Id),
    *((name, String()) for name in HEALTH_COLUMNS),
    *REGISTRATION_TYPES,
)
#: A change as inserted (``position``: its place in the body, so ids follow the body's order).
_EVENT_TYPES = (
    ("position", Integer()),
    ("change_key", String()),
    ("field", String()),
    ("waba_id", String()),
    ("display_phone_number", String()),
    ("event", String()),
    ("detail", Text()),
    ("value", Json),
    ("occurred_at", UtcDateTime()),
    ("received_at", UtcDateTime()),
)
_EVENT_COLUMNS = tuple(name for name, _ in _EVENT_TYPES[1:])
_EVENT_LINK_TYPES = (("event_id", Id), ("channel_id", Id), ("reported", Json), ("stale", Boolean()))
#: How the history shows a change older than what was known of its channel (not applied).
STALE_NOTE = ", older than what is known: not applied"


@dataclass(frozen=True, slots=True)
class ChannelEffect:
    """What one change did to one channel: the transition (its effects to carry out) and reports.

    ``link``: a WhatsApp Business app number's link after an event about it (its registration
    is then unchanged).
    """

    channel_id: int
    account_id: int
    inbox_id: int
    phone_number_id: str
    transition: Transition
    reported: tuple[str, ...] = ()
    link: AppLink | None = None


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """``duplicate``: the change was stored before and nothing happened now."""

    change: WebhookChange
    duplicate: bool
    effects: tuple[ChannelEffect, ...] = field(default_factory=tuple)


@dataclass(slots=True)
class _Locked:
    """A channel named by a batch, read and locked once; its snapshot and registration as the
    batch's changes move them (a later change of the same body sees what an earlier one did)."""

    row: Any
    health: dict[str, Any]
    registration: Registration
    #: A WhatsApp Business app number's link (``None`` for other numbers).
    link: AppLink | None
    #: A change moved the snapshot or the registration: the row is written back.
    moved: bool = False

    @classmethod
    def of(cls, row: Any) -> _Locked:
        health = {name: getattr(row, name) for name in HEALTH_COLUMNS}
        link = None if row.business_app is None else AppLink(row.business_app)
        return cls(row, health, registration_from_row(row), link)

    @property
    def gone(self) -> bool:
        """Offboarded by an earlier change of the batch: later ones pass it by, as a later batch
        would (it reads active channels only)."""
        return self.link is AppLink.DISCONNECTED


def _registration_event(
    change: WebhookChange, at: datetime
) -> NameReviewDecided | QualityChanged | AccountEvent | None:
    parsed = change.parsed
    if isinstance(parsed, NameDecision):
        return NameReviewDecided(parsed.decision, at, parsed.rejection_reason, change.occurred_at)
    if isinstance(parsed, QualityUpdate):
        return QualityChanged(parsed.event, at)
    if isinstance(parsed, AccountUpdate):
        return AccountEvent(parsed.event, at, parsed.ban_state)
    return None


def _event_row(position: int, change: WebhookChange, received_at: datetime) -> dict[str, Any]:
    number = change.display_phone_number
    return {
        "position": position,
        "change_key": change.key,
        "field": change.field[:64],
        "waba_id": change.waba_id[:32],
        "display_phone_number": None if number is None else number[:32],
        "event": (change.event or "")[:64] or None,
        "detail": change.describe() if change.parsed else None,
        "value": dict(change.value),
        "occurred_at": change.occurred_at,
        "received_at": received_at,
    }


@dataclass(slots=True)
class _Named:
    """The channels a batch's changes name, locked: by WABA, by WABA and number id, and by WABA
    and number digits."""

    by_waba: dict[str, list[_Locked]] = field(default_factory=dict)
    by_id: dict[tuple[str, str], list[_Locked]] = field(default_factory=dict)
    by_number: dict[tuple[str, str], list[_Locked]] = field(default_factory=dict)

    def add(self, locked: _Locked) -> None:
        row = locked.row
        self.by_waba.setdefault(row.waba_id, []).append(locked)
        self.by_id.setdefault((row.waba_id, row.phone_number_id), []).append(locked)
        # Meta names the number by its digits; the store keeps Graph's display form.
        self.by_number.setdefault((row.waba_id, digits(row.display_phone_number)), []).append(locked)

    def of(self, change: WebhookChange) -> list[_Locked]:
        """The WABA's channels a change names: all of them, or for phone fields only the one
        number (by its id when the change carries one a channel has, else by its digits)."""
        waba = change.waba_id
        if change.waba_wide:
            found = self.by_waba.get(waba, [])
        elif change.phone_number_id and (waba, change.phone_number_id) in self.by_id:
            found = self.by_id[(waba, change.phone_number_id)]
        elif change.display_phone_number:
            found = self.by_number.get((waba, change.display_phone_number), [])
        else:
            found = []  # no number named: not the channels that have none
        return [locked for locked in found if not locked.gone]


@dataclass(slots=True)
class _AppDataSeen:
    """What a batch's data changes of WhatsApp Business app numbers told of one channel, carried
    out once for the batch (:mod:`whatsapp.store.business_app`)."""

    history: bool = False
    progress: int | None = None
    declined: bool = False
    contacts: bool = False
    echoes: int = 0

    def add(self, data: AppData) -> None:
        if isinstance(data, HistoryChunks):
            self.history = True
            self.declined |= data.declined
            if data.progress is not None:
                self.progress = max(data.progress, self.progress or 0)
        elif isinstance(data, ContactsSynced):
            self.contacts = True
        elif isinstance(data, MessageEchoes):
            self.echoes += data.messages

    def write(self, conn: Connection, channel_id: int) -> None:
        if self.history:
            business_app.history_seen(conn, channel_id, progress=self.progress, declined=self.declined)
        if self.contacts:
            business_app.contacts_seen(conn, channel_id)
        if self.echoes:
            business_app.count_echoes(conn, channel_id, self.echoes)


@dataclass(frozen=True, slots=True)
class _LinkMove:
    """A link event to carry out on a channel (:func:`whatsapp.store.business_app.link_event`)."""

    channel_id: int
    event: str
    disconnection: Disconnection | None


def _apply(
    change: WebhookChange,
    event: NameReviewDecided | QualityChanged | AccountEvent,
    locked: _Locked,
    at: datetime,
) -> tuple[ChannelEffect, dict[str, Any]]:
    """One change on one locked channel (moved in memory): its effect and its history row."""
    assert change.parsed is not None
    channel = locked.row
    before = locked.health
    moved = transition(locked.registration, event)
    values = {} if moved.stale else health_values(change.parsed, before.get("name_status"))
    after = {**before, **values}
    reported = tuple(
        risky_transitions({n: before[n] for n in _WATCHED}, PhoneHealth(channel.phone_number_id, after))
        if values
        else ()
    )
    if after != before or moved.registration != locked.registration:
        locked.health, locked.registration, locked.moved = after, moved.registration, True
    event_line = change.describe() + (STALE_NOTE if moved.stale else "")
    return _effect(locked, moved, reported=reported), _history_row(locked, event_line, at)


def _move_link(update: AccountUpdate, locked: _Locked) -> ChannelEffect:
    """An event about a WhatsApp Business app number's link, moved in memory (written later)."""
    locked.link = link_after(locked.link, update.event, update.disconnection)
    return _effect(locked, Transition(locked.registration), link=locked.link)


def _effect(locked: _Locked, moved: Transition, **more: Any) -> ChannelEffect:
    channel = locked.row
    return ChannelEffect(
        channel_id=channel.id,
        account_id=channel.account_id,
        inbox_id=channel.inbox_id,
        phone_number_id=channel.phone_number_id,
        transition=moved,
        **more,
    )


def _history_row(locked: _Locked, event_line: str, at: datetime) -> dict[str, Any]:
    """A channel history row: what Meta pushed, with the channel's snapshot after it."""
    channel = locked.row
    return {
        "channel_id": channel.id,
        "checked_at": at,
        "provisioning": channel.provisioning,
        "event": event_line,
        **locked.health,
    }


@dataclass(slots=True)
class _Batch:
    """What a batch's new changes do, gathered in memory in the body's order, written at its end."""

    history: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    touched: dict[int, _Locked] = field(default_factory=dict)
    app_data: dict[int, _AppDataSeen] = field(default_factory=dict)
    link_moves: list[_LinkMove] = field(default_factory=list)
    #: One line per channel offboarded by a disconnection (logged once for the batch).
    offboarded: list[str] = field(default_factory=list)

    def apply(
        self, change: WebhookChange, event_id: int, targets: list[_Locked], at: datetime
    ) -> WebhookOutcome:
        """One new change on the channels it names; its outcome."""
        parsed = change.parsed
        effects: list[ChannelEffect] = []
        if isinstance(parsed, AppData):
            for locked in targets:
                if locked.link is not None:  # only a WhatsApp Business app number has the syncs
                    self.app_data.setdefault(locked.row.id, _AppDataSeen()).add(parsed)
            named = [locked.row.id for locked in targets]
        elif (event := _registration_event(change, at)) is not None:
            for locked in targets:
                effects.append(self._one(change, event, locked, at))
            named = [
                effect.channel_id
                for effect in effects
                if not change.waba_wide or (change.display_phone_number and effect.link is not None)
            ]
        else:
            named = []
        reported = [line for effect in effects for line in effect.reported]
        stale = bool(effects) and all(effect.transition.stale for effect in effects)
        phone_channel = named[0] if len(named) == 1 and change.display_phone_number else None
        if phone_channel is not None or reported or stale:
            self.links.append(
                {
                    "event_id": event_id,
                    "channel_id": phone_channel,
                    "reported": reported or None,
                    "stale": stale,
                }
            )
        return WebhookOutcome(change, duplicate=False, effects=tuple(effects))

    def _one(
        self,
        change: WebhookChange,
        event: NameReviewDecided | QualityChanged | AccountEvent,
        locked: _Locked,
        at: datetime,
    ) -> ChannelEffect:
        """A registration event on one channel, or, for a WhatsApp Business app number's link
        event, its link (the registration machine is not asked: the number is moving or gone)."""
        update = change.parsed
        if isinstance(update, AccountUpdate) and update.moves_link(
            locked.link, locked.row.display_phone_number
        ):
            effect = _move_link(update, locked)
            self.link_moves.append(_LinkMove(locked.row.id, update.event, update.disconnection))
            if locked.gone and update.disconnection is not None:
                self.offboarded.append(f"{locked.row.phone_number_id}: {update.disconnection.describe()}")
            self.history.append(_history_row(locked, change.describe(), at))
            return effect
        effect, row = _apply(change, event, locked, at)
        self.history.append(row)
        if locked.moved:
            self.touched[locked.row.id] = locked
        return effect


class WebhookRepository:
    """The ``webhook_events`` table, and the channel writes its changes lead to."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, change: WebhookChange, *, received_at: datetime | None = None) -> WebhookOutcome:
        """Store ``change`` once and apply it to its channels (see :meth:`record_all`)."""
        [outcome] = self.record_all([change], received_at=received_at)
        return outcome

    def record_all(
        self, changes: Sequence[WebhookChange], *, received_at: datetime | None = None
    ) -> list[WebhookOutcome]:
        """Store each change once and apply the new ones to their channels, in the body's order.

        One transaction per :data:`CHANGES_PER_TRANSACTION` changes, a few statements each: the
        changes are inserted under their unique ``change_key`` (a key already stored, or repeated
        in the body, is a duplicate and does nothing), the channels they name are read and locked
        once, each new change goes through :func:`~whatsapp.domain.registration_machine.transition` in
        memory, then snapshots, registrations and history rows are written in bulk. Returns one
        outcome per change, in order.
        """
        received_at = utcnow(received_at)
        outcomes: list[WebhookOutcome] = []
        for start in range(0, len(changes), CHANGES_PER_TRANSACTION):
            batch = changes[start : start + CHANGES_PER_TRANSACTION]
            with self.db.transaction(immediate=True) as conn:
                outcomes.extend(self._record_batch(conn, batch, received_at))
        return outcomes

    def _record_batch(
        self, conn: Connection, changes: Sequence[WebhookChange], received_at: datetime
    ) -> list[WebhookOutcome]:
        stored = self._insert_new(conn, changes, received_at)
        acting = {c.waba_id for c in changes if c.key in stored and c.parsed is not None}
        named = self._lock_channels(conn, acting)
        batch = _Batch()
        outcomes: list[WebhookOutcome] = []
        for change in changes:
            event_id = stored.pop(change.key, None)  # popped: a repeat in the same body is a duplicate
            if event_id is None:
                outcomes.append(WebhookOutcome(change, duplicate=True))
                continue
            outcome = batch.apply(change, event_id, named.of(change), received_at)
            outcomes.append(outcome)
        risky = [
            f"{effect.phone_number_id}: {line}"
            for outcome in outcomes
            for effect in outcome.effects
            for line in effect.reported
        ]
        if risky:  # one line a batch: thousands of lines cost more than storing the changes
            log.warning("Risky changes reported by Meta (%d): %s", len(risky), "; ".join(risky))
        self._write(conn, batch.touched.values(), batch.history, batch.links, received_at)
        for channel_id, seen in batch.app_data.items():
            seen.write(conn, channel_id)
        for move in batch.link_moves:
            business_app.link_event(conn, move.channel_id, move.event, move.disconnection, received_at)
        if batch.offboarded:
            log.warning(
                "WhatsApp Business app numbers offboarded by Meta (%d): %s",
                len(batch.offboarded),
                "; ".join(batch.offboarded),
            )
        return outcomes

    def _insert_new(
        self, conn: Connection, changes: Sequence[WebhookChange], received_at: datetime
    ) -> dict[str, int]:
        """Insert the changes whose key is not stored yet (in the body's order, the first of
        repeated keys); their ``change_key`` → new row id. A concurrent redelivery waits for the
        first delivery's keys to commit, then finds them taken."""
        first: dict[str, WebhookChange] = {}
        for change in changes:
            first.setdefault(change.key, change)
        rows = [_event_row(n, change, received_at) for n, change in enumerate(first.values())]
        src = json_rows(self.db.dialect, rows, _EVENT_TYPES)
        # WHERE: SQLite reads INSERT ... SELECT ... ON CONFLICT as a join constraint without it.
        ordered = select(*(src.c[name] for name in _EVENT_COLUMNS)).where(true()).order_by(src.c.position)
        inserted = conn.execute(
            self.db.insert(webhook_events)
            .from_select(list(_EVENT_COLUMNS), ordered)
            .on_conflict_do_nothing(index_elements=["change_key"])
            .returning(webhook_events.c.change_key, webhook_events.c.id)
        )
        return {row.change_key: row.id for row in inserted}

    def _lock_channels(self, conn: Connection, waba_ids: set[str]) -> _Named:
        """The WABAs' active channels, read and locked in one statement (id order, as the audit
        locks them), each WABA's in id order."""
        named = _Named()
        if not waba_ids:
            return named
        rows = conn.execute(
            select(*_CHANNEL_COLUMNS)
            .where(channels.c.waba_id.in_(sorted(waba_ids)), channels.c.active.is_(True))
            .order_by(channels.c.id)
            .with_for_update()
        ).all()
        for row in rows:
            named.add(_Locked.of(row))
        return named

    def _write(
        self,
        conn: Connection,
        touched: Iterable[_Locked],
        history: list[dict[str, Any]],
        links: list[dict[str, Any]],
        at: datetime,
    ) -> None:
        """The batch's channel snapshots and registrations, history rows and change links, in bulk."""
        updates = [
            {"channel_id": locked.row.id, **locked.health, **registration_values(locked.registration)}
            for locked in touched
        ]
        if updates:
            src = json_rows(self.db.dialect, updates, _CHANNEL_WRITE_TYPES)
            conn.execute(
                update(channels)
                .where(channels.c.id == src.c.channel_id)
                .values(
                    **{name: src.c[name] for name, _ in _CHANNEL_WRITE_TYPES if name != "channel_id"},
                    updated_at=at,
                )
            )
        insert_history(conn, self.db.dialect, history)
        if links:
            src = json_rows(self.db.dialect, links, _EVENT_LINK_TYPES)
            conn.execute(
                update(webhook_events)
                .where(webhook_events.c.id == src.c.event_id)
                .values(channel_id=src.c.channel_id, reported=src.c.reported, stale=src.c.stale)
            )

    def name_decisions(
        self, channel_ids: Collection[int], *, since: datetime
    ) -> dict[int, tuple[str, datetime]]:
        """Each channel's newest decided review of its name received since ``since``, and when.

        The decision is ``APPROVED`` or ``REJECTED``; a stale one (older than what the store knew
        when it came) is not one of them. One indexed read for every display-name wait
        of a triggerer: what their triggers poll instead of Graph, so the cost of a tick does not
        grow with the number of waits.
        """
        if not channel_ids:
            return {}
        query = (
            select(webhook_events.c.channel_id, webhook_events.c.event, webhook_events.c.received_at)
            .where(
                webhook_events.c.channel_id.in_(channel_ids),
                webhook_events.c.field == NAME_UPDATE,
                webhook_events.c.received_at >= since,
                webhook_events.c.event.in_((APPROVED, REJECTED)),
                webhook_events.c.stale.is_(False),
            )
            .order_by(webhook_events.c.received_at, webhook_events.c.id)
        )
        with self.db.connect() as conn:
            rows = conn.execute(query).all()
        return {row.channel_id: (row.event, row.received_at) for row in rows}  # oldest first: newest kept
