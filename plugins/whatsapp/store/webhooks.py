"""Meta's webhook changes: stored once each, applied to the channels they name, in one transaction.

A change is inserted under its unique ``change_key`` first; a redelivery finds the key taken and
changes nothing (no snapshot write, no history row, no second report). What a change does to a
channel's registration is decided by :func:`whatsapp.domain.lifecycle.transition`; the snapshot
fields it tells come from :func:`whatsapp.domain.webhooks.health_values`. The display-name
sensor's trigger reads the decisions back with :meth:`WebhookRepository.name_decisions`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from whatsapp.domain.health import HEALTH_FIELDS, PhoneHealth, risky_transitions
from whatsapp.domain.lifecycle import (
    AccountEvent,
    NameReviewDecided,
    QualityChanged,
    Transition,
    transition,
)
from whatsapp.domain.webhooks import (
    APPROVED,
    NAME_UPDATE,
    REJECTED,
    AccountUpdate,
    NameDecision,
    QualityUpdate,
    WebhookChange,
    digits,
    health_values,
)
from whatsapp.store.channels import REGISTRATION_COLUMNS, registration_from_row, registration_values
from whatsapp.store.database import Database, utcnow
from whatsapp.store.schema import HEALTH_COLUMNS, channels, health_checks, webhook_events

log = logging.getLogger(__name__)

#: The stored fields whose changes are reported once (as the audit does).
_WATCHED = tuple(f.name for f in HEALTH_FIELDS if f.watched and f.stored)
_CHANNEL_COLUMNS = (
    channels.c.id,
    channels.c.account_id,
    channels.c.inbox_id,
    channels.c.phone_number_id,
    channels.c.display_phone_number,
    channels.c.provisioning,
    *(channels.c[name] for name in HEALTH_COLUMNS),
    *REGISTRATION_COLUMNS,
)


@dataclass(frozen=True, slots=True)
class ChannelEffect:
    """What one change did to one channel: the transition (its effects to carry out) and reports."""

    channel_id: int
    account_id: int
    inbox_id: int
    phone_number_id: str
    transition: Transition
    reported: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """``duplicate``: the change was stored before and nothing happened now."""

    change: WebhookChange
    duplicate: bool
    effects: tuple[ChannelEffect, ...] = field(default_factory=tuple)


def _lifecycle_event(
    change: WebhookChange, at: datetime
) -> NameReviewDecided | QualityChanged | AccountEvent | None:
    parsed = change.parsed
    if isinstance(parsed, NameDecision):
        return NameReviewDecided(parsed.decision, at, parsed.rejection_reason)
    if isinstance(parsed, QualityUpdate):
        return QualityChanged(parsed.event, at)
    if isinstance(parsed, AccountUpdate):
        return AccountEvent(parsed.event, at, parsed.ban_state)
    return None


class WebhookRepository:
    """The ``webhook_events`` table, and the channel writes its changes lead to."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, change: WebhookChange, *, received_at: datetime | None = None) -> WebhookOutcome:
        """Store ``change`` once and apply it to its channels (snapshot, history, registration)."""
        received_at = utcnow(received_at)
        row = {
            "change_key": change.key,
            "field": change.field[:64],
            "waba_id": change.waba_id[:32],
            "display_phone_number": change.display_phone_number,
            "event": (change.event or "")[:64] or None,
            "detail": change.describe() if change.parsed else None,
            "value": dict(change.value),
            "occurred_at": change.occurred_at,
            "received_at": received_at,
        }
        with self.db.transaction(immediate=True) as conn:
            stored = conn.execute(
                self.db.insert(webhook_events)
                .values(row)
                .on_conflict_do_nothing(index_elements=["change_key"])
                .returning(webhook_events.c.id)
            ).scalar_one_or_none()
            if stored is None:
                return WebhookOutcome(change, duplicate=True)
            event = _lifecycle_event(change, received_at)
            if event is None:
                return WebhookOutcome(change, duplicate=False)
            effects = tuple(
                self._apply(conn, change, event, channel, received_at)
                for channel in self._channels_named(conn, change)
            )
            phone_channel = (
                effects[0].channel_id if len(effects) == 1 and change.display_phone_number else None
            )
            reported = [line for effect in effects for line in effect.reported]
            if phone_channel is not None or reported:
                conn.execute(
                    update(webhook_events)
                    .where(webhook_events.c.id == stored)
                    .values(channel_id=phone_channel, reported=reported or None)
                )
        return WebhookOutcome(change, duplicate=False, effects=effects)

    def _channels_named(self, conn: Connection, change: WebhookChange) -> list[Any]:
        """The WABA's active channels (locked, in id order); for phone fields only the one number."""
        rows = conn.execute(
            select(*_CHANNEL_COLUMNS)
            .where(channels.c.waba_id == change.waba_id, channels.c.active.is_(True))
            .order_by(channels.c.id)
            .with_for_update()
        ).all()
        if change.display_phone_number is None:
            return list(rows)
        # Meta names the number by its digits; the store keeps Graph's display form.
        return [r for r in rows if digits(r.display_phone_number) == change.display_phone_number]

    def _apply(
        self,
        conn: Connection,
        change: WebhookChange,
        event: NameReviewDecided | QualityChanged | AccountEvent,
        channel: Any,
        at: datetime,
    ) -> ChannelEffect:
        assert change.parsed is not None
        before = {name: getattr(channel, name) for name in HEALTH_COLUMNS}
        values = health_values(change.parsed, before.get("name_status"))
        after = {**before, **values}
        moved = transition(registration_from_row(channel), event)
        reported = tuple(
            risky_transitions({n: before[n] for n in _WATCHED}, PhoneHealth(channel.phone_number_id, after))
            if values
            else ()
        )
        for line in reported:
            log.warning("Risky change of %s reported by Meta: %s", channel.phone_number_id, line)
        conn.execute(
            update(channels)
            .where(channels.c.id == channel.id)
            .values(**values, **registration_values(moved.registration), updated_at=at)
        )
        conn.execute(
            insert(health_checks).values(
                channel_id=channel.id,
                checked_at=at,
                provisioning=channel.provisioning,
                event=change.describe(),
                **after,
            )
        )
        return ChannelEffect(
            channel_id=channel.id,
            account_id=channel.account_id,
            inbox_id=channel.inbox_id,
            phone_number_id=channel.phone_number_id,
            transition=moved,
            reported=reported,
        )

    def name_decisions(
        self, channel_ids: Collection[int], *, since: datetime
    ) -> dict[int, tuple[str, datetime]]:
        """Each channel's newest decided review of its name received since ``since``, and when.

        The decision is ``APPROVED`` or ``REJECTED``. One indexed read for every display-name wait
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
            )
            .order_by(webhook_events.c.received_at, webhook_events.c.id)
        )
        with self.db.connect() as conn:
            rows = conn.execute(query).all()
        return {row.channel_id: (row.event, row.received_at) for row in rows}  # oldest first: newest kept
