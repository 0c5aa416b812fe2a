"""Name-change and deregister calls: written ahead, counted against Meta's limits.

Each of these calls spends a per-number allowance Meta keeps (``NAME_CHANGE_ALLOWANCE``,
``DEREGISTER_ALLOWANCE``), so they are recorded the way register attempts are
(:mod:`whatsapp.store.attempts`): :meth:`LifecycleCallRepository.begin` locks the channel row,
checks the allowance and that no call of the same kind is in flight, and commits an intent
(outcome ``sent``) *before* the request leaves; :meth:`~LifecycleCallRepository.complete`
writes the answer after. An intent nobody completed still counts. A refused ``begin`` sends
nothing: the budget check comes before any Graph call.

A deregister call also claims the channel's offboarding for its Airflow run, as a register
attempt claims the channel: under the same lock, ``begin`` refuses a second run while the first
run's call is in flight (its committed intent) or once the number is deregistered
(``channels.offboarded_at``, set with a deregister answer that says so, in the transaction that
records it, and cleared when the number is onboarded again). That second run then sends nothing,
neither ``/deregister`` nor the unsubscription that follows it (:class:`OffboardingTakenError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select, update

from whatsapp.domain.registration import (
    ANSWER_LOST_WAIT,
    DEREGISTER_BUDGET,
    DEREGISTER_DONE_CODES,
    DEREGISTER_WINDOW,
    NAME_CHANGE_BUDGET,
    NAME_CHANGE_LIMIT_WINDOW,
    span_words,
)
from whatsapp.errors import GraphApiError
from whatsapp.store.database import Database, utcnow
from whatsapp.store.errors import ChannelNotFoundError, StoreError
from whatsapp.store.models import ATTEMPT_SENT, ATTEMPT_SUCCESS, answer_outcome
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


class OffboardingTakenError(StoreError):
    """Another deregister holds the channel: in flight, or the number is deregistered already.

    ``run_id`` is the Airflow run that sent it (``None`` when the store no longer knows), so an
    operator tells a retry of that run (its earlier try deregistered the number) from another run.
    """

    def __init__(self, message: str, *, run_id: str | None, in_flight: bool) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.in_flight = in_flight


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
        the budget is spent or a call of that kind is in flight (nothing is written then); for a
        deregister, :class:`OffboardingTakenError` if another run's is in flight or the number is
        deregistered already."""
        limit = CALL_LIMITS[call]
        now = utcnow(now)
        with self.db.transaction(immediate=True) as conn:
            locked = conn.execute(
                select(channels.c.id, channels.c.offboarded_at)
                .where(channels.c.id == channel_id)
                .with_for_update()
            ).one_or_none()
            if locked is None:
                raise ChannelNotFoundError(f"no channel with id {channel_id}")
            rows = conn.execute(
                select(lifecycle_calls.c.sent_at, lifecycle_calls.c.outcome, lifecycle_calls.c.run_id)
                .where(
                    lifecycle_calls.c.channel_id == channel_id,
                    lifecycle_calls.c.call == call,
                    lifecycle_calls.c.sent_at > now - limit.window,
                )
                .order_by(lifecycle_calls.c.sent_at)
            ).all()
            in_flight = [
                row for row in rows if row.outcome == ATTEMPT_SENT and row.sent_at > now - ANSWER_LOST_WAIT
            ]
            if call == DEREGISTER:
                _check_offboarding(conn, channel_id, locked.offboarded_at, in_flight, run_id)
            if in_flight:
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
        """Record the answer (``None``: success; an unanswered error: ``no_answer``).

        A deregister answer that says the number is off Cloud API (success, or
        ``DEREGISTER_DONE_CODES``) marks the channel offboarded in the same transaction: from then
        on no other run deregisters it (see :meth:`begin`).
        """
        outcome = answer_outcome(error)
        values = {
            "outcome": outcome,
            "code": None if error is None else error.code,
            "subcode": None if error is None else error.subcode,
            "message": None if error is None else error.message,
        }
        with self.db.transaction() as conn:
            row = conn.execute(
                update(lifecycle_calls)
                .where(lifecycle_calls.c.id == call_id)
                .values(values)
                .returning(lifecycle_calls.c.channel_id, lifecycle_calls.c.call, lifecycle_calls.c.sent_at)
            ).one()
            if row.call == DEREGISTER and (error is None or error.code in DEREGISTER_DONE_CODES):
                conn.execute(
                    update(channels)
                    .where(channels.c.id == row.channel_id)
                    .values(offboarded_at=func.coalesce(channels.c.offboarded_at, row.sent_at))
                )

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


def _check_offboarding(
    conn: Connection,
    channel_id: int,
    offboarded_at: datetime | None,
    in_flight: Sequence[Row[Any]],
    run_id: str | None,
) -> None:
    """Under the channel's lock: :class:`OffboardingTakenError` if a deregister holds the channel.

    Held while another run's call is in flight (a retry of the same run keeps the plain "in
    flight" refusal), and once the number is deregistered (by whichever run: the caller tells).
    """
    others = [row for row in in_flight if row.run_id is None or row.run_id != run_id]
    if others:
        holder = others[-1]
        raise OffboardingTakenError(
            f"run {holder.run_id or '(unknown)'} is offboarding this channel: its deregister call went "
            f"out at {holder.sent_at.isoformat()} and is not answered yet; nothing sent",
            run_id=holder.run_id,
            in_flight=True,
        )
    if offboarded_at is None:
        return
    done = conn.execute(
        select(lifecycle_calls.c.run_id, lifecycle_calls.c.sent_at)
        .where(
            lifecycle_calls.c.channel_id == channel_id,
            lifecycle_calls.c.call == DEREGISTER,
            or_(
                lifecycle_calls.c.outcome == ATTEMPT_SUCCESS,
                lifecycle_calls.c.code.in_(sorted(DEREGISTER_DONE_CODES)),
            ),
        )
        .order_by(lifecycle_calls.c.sent_at.desc(), lifecycle_calls.c.id.desc())
        .limit(1)
    ).one_or_none()
    by = f"run {done.run_id}" if done is not None and done.run_id else "an earlier run"
    raise OffboardingTakenError(
        f"{by} offboards this channel: it deregistered the number at {offboarded_at.isoformat()}; "
        "nothing sent",
        run_id=None if done is None else done.run_id,
        in_flight=False,
    )
