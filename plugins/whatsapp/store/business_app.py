"""WhatsApp Business app numbers: the sync requests, written ahead, and what Meta says of the link.

The rules are :mod:`whatsapp.domain.business_app`'s; this module keeps them in the store:

* :meth:`BusinessAppRepository.begin_sync` locks the channel row, checks that the sync may be
  sent (a WhatsApp Business app number, linked, this sync still ``due``, before the deadline,
  contacts before history) and commits the intent *before* the request leaves: a
  ``lifecycle_calls`` row (``sent``) and the sync ``requested``. A second run, or a retry after
  the worker died, finds it ``requested`` and sends nothing (:class:`SyncRefusedError`).
  :meth:`~BusinessAppRepository.complete_sync` records Meta's answer: ``accepted``, ``refused``,
  or, when no answer came, the sync stays ``requested`` ("answer unknown").
* The webhook receiver calls :func:`history_seen`, :func:`contacts_seen`, :func:`count_echoes`
  and :func:`link_event` inside its own transaction (``store/webhooks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from whatsapp.domain import business_app as app
from whatsapp.domain.business_app import AppLink, Disconnection, SyncState, SyncType
from whatsapp.errors import GraphApiError
from whatsapp.store.channels import offboard_channel
from whatsapp.store.database import Database, utcnow
from whatsapp.store.errors import ChannelNotFoundError, StoreError
from whatsapp.store.models import ATTEMPT_NO_ANSWER, ATTEMPT_SENT, answer_outcome
from whatsapp.store.schema import channels, lifecycle_calls

_SYNC_COLUMN = {SyncType.CONTACTS: channels.c.contacts_sync, SyncType.HISTORY: channels.c.history_sync}


class SyncRefusedError(StoreError):
    """The sync request was not started, and why: nothing was written, nothing may be sent."""

    def __init__(self, message: str, state: SyncState | None) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True, slots=True)
class SyncIntent:
    """A committed sync request: send it, then :meth:`BusinessAppRepository.complete_sync`."""

    call_id: int
    sync: SyncType


class BusinessAppRepository:
    """Sync requests and link events of WhatsApp Business app numbers (``channels``, ``lifecycle_calls``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def begin_sync(
        self, channel_id: int, sync: SyncType, *, run_id: str | None = None, now: datetime | None = None
    ) -> SyncIntent:
        """Commit the intent of one sync request; :class:`SyncRefusedError` when it may not be sent."""
        now = utcnow(now)
        with self.db.transaction(immediate=True) as conn:
            row = conn.execute(
                select(
                    channels.c.active,
                    channels.c.business_app,
                    channels.c.contacts_sync,
                    channels.c.history_sync,
                    channels.c.sync_deadline,
                )
                .where(channels.c.id == channel_id)
                .with_for_update()
            ).one_or_none()
            if row is None:
                raise ChannelNotFoundError(f"no channel with id {channel_id}")
            syncs = app.Syncs(_state(row.contacts_sync), _state(row.history_sync), row.sync_deadline)
            _check_sendable(row.active, row.business_app, syncs, sync, now)
            call_id = conn.execute(
                insert(lifecycle_calls)
                .values(
                    channel_id=channel_id, call=sync.call, sent_at=now, outcome=ATTEMPT_SENT, run_id=run_id
                )
                .returning(lifecycle_calls.c.id)
            ).scalar_one()
            conn.execute(
                update(channels)
                .where(channels.c.id == channel_id)
                .values({_SYNC_COLUMN[sync]: SyncState.REQUESTED.value, "updated_at": now})
            )
        return SyncIntent(int(call_id), sync)

    def complete_sync(self, intent: SyncIntent, error: GraphApiError | None) -> SyncState:
        """Record Meta's answer to a sync request; the sync's state after it.

        Only a success (``accepted``) and a permanent refusal (``refused``) are known answers; a
        lost answer or a transient error leaves the sync ``requested``: Meta may have taken it,
        so it is never sent again.
        """
        outcome = answer_outcome(error)
        # A 5xx or a throttle may have been acted on before it failed: unknown, like no answer.
        known = error is None or (outcome != ATTEMPT_NO_ANSWER and not error.retryable)
        state = app.answered(accepted=error is None, answer_known=known)
        with self.db.transaction() as conn:
            channel_id = conn.execute(
                update(lifecycle_calls)
                .where(lifecycle_calls.c.id == intent.call_id)
                .values(
                    outcome=outcome,
                    code=None if error is None else error.code,
                    subcode=None if error is None else error.subcode,
                    message=None if error is None else error.message,
                )
                .returning(lifecycle_calls.c.channel_id)
            ).scalar_one()
            column = _SYNC_COLUMN[intent.sync]
            conn.execute(
                update(channels)
                .where(channels.c.id == channel_id, column == SyncState.REQUESTED.value)
                .values({column: state.value})
            )
        return state

    def expire(self, *, now: datetime | None = None) -> int:
        """Syncs still ``due`` past their deadline become ``expired``; how many channels changed."""
        now = utcnow(now)
        changed = 0
        with self.db.transaction() as conn:
            for column in _SYNC_COLUMN.values():
                changed += conn.execute(
                    update(channels)
                    .where(column == SyncState.DUE.value, channels.c.sync_deadline <= now)
                    .values({column: SyncState.EXPIRED.value})
                ).rowcount
        return changed


def _state(value: str | None) -> SyncState | None:
    return None if value is None else SyncState(value)


def _check_sendable(active: bool, link: str | None, syncs: app.Syncs, sync: SyncType, now: datetime) -> None:
    """Refuse, naming why, every request Meta would refuse or that might repeat an earlier one."""
    state = syncs.state(sync)
    if link is None:
        raise SyncRefusedError("not a WhatsApp Business app number: Meta has no sync for it", state)
    if not active or link != AppLink.CONNECTED:
        raise SyncRefusedError(f"the number's link to the WhatsApp Business app is {link}", state)
    if state is not SyncState.DUE:
        raise SyncRefusedError(
            f"{sync.label} is {app.SYNC_STATE_WORDS[state] if state else 'not known'}: Meta allows one "
            "request per onboarding, none is sent again",
            state,
        )
    due = syncs.next_due(now)
    if due is None:
        raise SyncRefusedError(
            f"the {app.SYNC_WINDOW.total_seconds() / 3600:.0f}-hour sync window closed at "
            f"{syncs.deadline.isoformat() if syncs.deadline else '(unknown)'}: the customer must offboard "
            "and sign up again to share it",
            state,
        )
    if due is not sync:
        raise SyncRefusedError(f"{due.label} comes first (Meta's order)", state)


# ---- what Meta pushed, inside the webhook receiver's transaction ---------------------------------


def history_seen(
    conn: Connection, channel_id: int, *, progress: int | None, declined: bool
) -> SyncState | None:
    """A ``history`` webhook for the channel: the history sync's new state (``None``: no sync)."""
    row = conn.execute(
        select(channels.c.history_sync, channels.c.history_sync_progress).where(channels.c.id == channel_id)
    ).one_or_none()
    if row is None:
        return None
    state = app.history_seen(_state(row.history_sync), progress=progress, declined=declined)
    if state is None:
        return None
    values: dict[str, Any] = {"history_sync": state.value}
    if progress is not None:
        values["history_sync_progress"] = max(progress, row.history_sync_progress or 0)
    conn.execute(update(channels).where(channels.c.id == channel_id).values(values))
    return state


def contacts_seen(conn: Connection, channel_id: int) -> SyncState | None:
    """An ``smb_app_state_sync`` webhook for the channel: the contacts sync's new state."""
    current = conn.execute(select(channels.c.contacts_sync).where(channels.c.id == channel_id)).scalar()
    state = app.contacts_seen(_state(current))
    if state is not None and state.value != current:
        conn.execute(update(channels).where(channels.c.id == channel_id).values(contacts_sync=state.value))
    return state


def count_echoes(conn: Connection, channel_id: int, count: int) -> None:
    """``smb_message_echoes``: ``count`` more messages the customer sent from the app (content not kept)."""
    conn.execute(
        update(channels)
        .where(channels.c.id == channel_id)
        .values(message_echoes=channels.c.message_echoes + count)
    )


def link_event(
    conn: Connection, channel_id: int, event: str, disconnection: Disconnection | None, at: datetime
) -> AppLink | None:
    """An ``account_update`` for the channel's WABA: the link after it.

    A disconnection offboards the channel as the offboarding DAG does (``offboard_channel``:
    registration reset, inactive, history kept), with Meta's reason and who initiated it, and
    calls nothing.
    """
    stored = conn.execute(
        select(channels.c.business_app).where(channels.c.id == channel_id).with_for_update()
    ).scalar_one_or_none()
    current = None if stored is None else AppLink(stored)
    link = app.link_after(current, event, disconnection)
    if link is current:
        return link
    if link is AppLink.DISCONNECTED and disconnection is not None:
        offboard_channel(conn, channel_id, at, reason=disconnection.reason, by=disconnection.initiated_by)
    conn.execute(
        update(channels)
        .where(channels.c.id == channel_id)
        .values(business_app=None if link is None else link.value, updated_at=at)
    )
    return link
