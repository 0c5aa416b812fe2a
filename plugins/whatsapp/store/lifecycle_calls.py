"""Name-change and deregister calls: written ahead, counted against Meta's limits.

Each of these calls spends a per-number allowance Meta keeps (``NAME_CHANGE_ALLOWANCE``,
``DEREGISTER_ALLOWANCE``), so they are recorded the way register attempts are
(:mod:`whatsapp.store.attempts`): :meth:`LifecycleCallRepository.begin` locks the channel row,
checks the allowance and that no call of the same kind is in flight, and commits an intent
(outcome ``sent``) *before* the request leaves; :meth:`~LifecycleCallRepository.complete`
writes the answer after. An intent nobody completed still counts. A refused ``begin`` sends
nothing: the budget check comes before any Graph call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from whatsapp.domain.registration import (
    ANSWER_LOST_WAIT,
    DEREGISTER_BUDGET,
    DEREGISTER_WINDOW,
    NAME_CHANGE_BUDGET,
    NAME_CHANGE_LIMIT_WINDOW,
    span_words,
)
from whatsapp.errors import GraphApiError
from whatsapp.store.database import Database, utcnow
from whatsapp.store.errors import ChannelNotFoundError, StoreError
from whatsapp.store.models import ATTEMPT_SENT, answer_outcome
from whatsapp.store.schema import channels, lifecycle_calls

NAME_CHANGE = "name_change"
DEREGISTER = "deregister"


@dataclass(frozen=True, slots=True)
class CallLimit:
    window: timedelta
    budget: int


#: Per call kind: Meta's window and what we allow ourselves in it.
CALL_LIMITS: dict[str, CallLimit] = {
    NAME_CHANGE: CallLimit(NAME_CHANGE_LIMIT_WINDOW, NAME_CHANGE_BUDGET),
    DEREGISTER: CallLimit(DEREGISTER_WINDOW, DEREGISTER_BUDGET),
}


class CallRefusedError(StoreError):
    """The call was not started: its budget is spent, or the same call is already in flight."""

    def __init__(self, message: str, reopens_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reopens_at = reopens_at


@dataclass(frozen=True, slots=True)
class LifecycleCall:
    """One name-change or deregister call, as recorded."""

    id: int
    channel_id: int
    call: str
    sent_at: datetime
    outcome: str
    detail: str | None
    code: int | None
    subcode: int | None
    message: str | None
    run_id: str | None


class LifecycleCallRepository:
    """The ``lifecycle_calls`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(
        self,
        channel_id: int,
        call: str,
        *,
        detail: str | None = None,
        run_id: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Commit the intent of one ``call`` for the channel; its id. :class:`CallRefusedError` if
        the budget is spent or a call of that kind is in flight (nothing is written then)."""
        limit = CALL_LIMITS[call]
        now = utcnow(now)
        with self.db.transaction(immediate=True) as conn:
            locked = conn.execute(
                select(channels.c.id).where(channels.c.id == channel_id).with_for_update()
            ).one_or_none()
            if locked is None:
                raise ChannelNotFoundError(f"no channel with id {channel_id}")
            rows = conn.execute(
                select(lifecycle_calls.c.sent_at, lifecycle_calls.c.outcome)
                .where(
                    lifecycle_calls.c.channel_id == channel_id,
                    lifecycle_calls.c.call == call,
                    lifecycle_calls.c.sent_at > now - limit.window,
                )
                .order_by(lifecycle_calls.c.sent_at)
            ).all()
            if any(outcome == ATTEMPT_SENT and at > now - ANSWER_LOST_WAIT for at, outcome in rows):
                raise CallRefusedError(f"a {call} call for channel {channel_id} is already in flight")
            if len(rows) >= limit.budget:
                reopens = rows[len(rows) - limit.budget].sent_at + limit.window
                raise CallRefusedError(
                    f"{len(rows)} {call} calls for channel {channel_id} in the last "
                    f"{span_words(limit.window)}: the limit is {limit.budget}; the next one is possible "
                    f"after {reopens.isoformat()}",
                    reopens,
                )
            return int(
                conn.execute(
                    insert(lifecycle_calls)
                    .values(
                        channel_id=channel_id,
                        call=call,
                        sent_at=now,
                        outcome=ATTEMPT_SENT,
                        detail=detail,
                        run_id=run_id,
                    )
                    .returning(lifecycle_calls.c.id)
                ).scalar_one()
            )

    def complete(self, call_id: int, error: GraphApiError | None) -> None:
        """Record the answer (``None``: success; an unanswered error: ``no_answer``)."""
        outcome = answer_outcome(error)
        values = {
            "outcome": outcome,
            "code": None if error is None else error.code,
            "subcode": None if error is None else error.subcode,
            "message": None if error is None else error.message,
        }
        with self.db.transaction() as conn:
            conn.execute(update(lifecycle_calls).where(lifecycle_calls.c.id == call_id).values(values))

    def count(self, channel_id: int, call: str, *, now: datetime | None = None) -> int:
        """Calls of this kind inside Meta's window (intents and failures included)."""
        since = utcnow(now) - CALL_LIMITS[call].window
        query = select(func.count()).where(
            lifecycle_calls.c.channel_id == channel_id,
            lifecycle_calls.c.call == call,
            lifecycle_calls.c.sent_at > since,
        )
        with self.db.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def recent(self, channel_id: int, call: str | None = None, *, limit: int = 50) -> Sequence[LifecycleCall]:
        """The channel's calls (of one kind, or all), newest first."""
        query = select(lifecycle_calls).where(lifecycle_calls.c.channel_id == channel_id)
        if call is not None:
            query = query.where(lifecycle_calls.c.call == call)
        query = query.order_by(lifecycle_calls.c.sent_at.desc(), lifecycle_calls.c.id.desc()).limit(limit)
        with self.db.connect() as conn:
            return [LifecycleCall(**row._mapping) for row in conn.execute(query)]
