"""Registration retries: which channels are due, and a per-channel claim that records each attempt.

Write-ahead attempts. A register call is recorded *before* it leaves and completed
with its answer after, so no call Meta counts is ever missing from the 72 h budget:

1. **Claim** (one short transaction): lock the channel row (PostgreSQL ``SELECT ... FOR UPDATE
   SKIP LOCKED``: a second worker gets ``None`` at once; SQLite ``BEGIN IMMEDIATE``: a second
   worker waits, then re-checks), and check under the lock that the channel is claimable:
   active, within budget, due (unless bypassed) and **no register call in flight or unanswered
   in the last** :data:`~whatsapp.domain.registration.ANSWER_LOST_WAIT`. The caller re-reads
   live health under the lock and feeds it to :meth:`RegistrationClaim.decide`.
2. **Intent**: when the lifecycle says ``RegisterNow``, :meth:`RegistrationClaim.write_ahead`
   inserts the attempt with outcome ``sent`` and *commits*, which releases the row lock. From
   then on the committed intent is the claim: step 1 refuses the channel while it is younger
   than ``ANSWER_LOST_WAIT``, in every process, on both databases, without a lease column or an
   advisory lock (so no schema change, and SQLite's single writer is never held across a call).
3. **Call**, with no transaction open.
4. **Completion**: :meth:`RegistrationClaim.record_attempt` locks the row again in a new
   transaction, feeds ``RegisterAnswered`` to the lifecycle with the channel's *current*
   registration, and updates the intent row with the outcome. Store errors are retried on
   fresh connections (no ``PendingRollbackError``); when the store stays down,
   :class:`AttemptNotRecordedError` fails the task loudly and the intent stays ``sent``.

An intent nobody completed (the worker was killed, the store was down) counts against the
budget like any call, and keeps the channel claimed for ``ANSWER_LOST_WAIT`` like a call in
flight: a claim refused for it reports the end of that wait
(:meth:`AttemptRepository.unanswered_until`), and the task waits it out. Then the next claim
marks it ``no_answer`` and that attempt's health read decides: provisioned → ``registered``, no
call. A stored health read completes it the same way (:func:`complete_lost_intents`).
Two racing workers therefore send one call per number: the loser finds the row locked, the
intent in flight, or the winner's outcome (registered, or backing off).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RootTransaction,
    and_,
    exists,
    func,
    insert,
    not_,
    select,
    union_all,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import ANSWER_LOST_WAIT, REGISTER_BUDGET, REGISTER_WINDOW, budget_left
from whatsapp.domain.registration_machine import (
    CUSTOMER_REASONS,
    RETRYABLE_STATES,
    ReadyToDecide,
    RegisterAnswered,
    Registration,
    Transition,
    transition,
)
from whatsapp.errors import ErrorKind, GraphApiError
from whatsapp.store.channels import (
    PUBLIC_CHANNEL_COLUMNS,
    channel_from_row,
    registration_from_row,
    registration_values,
)
from whatsapp.store.connection import SQLITE_BEGIN_KEY
from whatsapp.store.database import Database, utcnow
from whatsapp.store.errors import StoreConnectionError, StoreError
from whatsapp.store.models import (
    ATTEMPT_NO_ANSWER,
    ATTEMPT_SENT,
    Channel,
    DueChannel,
    RegistrationAttempt,
    answer_outcome,
)
from whatsapp.store.schema import CHANNEL_REF_COLUMNS, channels, lifecycle_calls, registration_attempts

log = logging.getLogger(__name__)

_RETRYABLE = tuple(state.value for state in RETRYABLE_STATES)
_CUSTOMER = tuple(reason.value for reason in CUSTOMER_REASONS)
_UNANSWERED = (ATTEMPT_SENT, ATTEMPT_NO_ANSWER)
#: The message of an intent nobody completed, once the wait after it is over.
LOST_INTENT_MESSAGE = "no answer recorded: the worker or the store was lost"
#: Completing an attempt: tries, and the pause before each retry (about 15 s in all).
STORE_WRITE_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)


class AttemptNotRecordedError(StoreError):
    """A register call was sent but its answer could not be written: the intent stays ``sent``.

    Raised loudly (the task fails); the next attempt for the channel waits ``ANSWER_LOST_WAIT``
    and reconciles from Meta's health.
    """


def _attempts_in_window(now: datetime) -> Any:
    return (
        select(func.count())
        .where(
            registration_attempts.c.channel_id == channels.c.id,
            registration_attempts.c.attempted_at > now - REGISTER_WINDOW,
        )
        .scalar_subquery()
    )


def _unanswered_recently(now: datetime) -> ColumnElement[bool]:
    """A call in flight or whose answer was lost, younger than ``ANSWER_LOST_WAIT``."""
    return exists().where(
        registration_attempts.c.channel_id == channels.c.id,
        registration_attempts.c.outcome.in_(_UNANSWERED),
        registration_attempts.c.attempted_at > now - ANSWER_LOST_WAIT,
    )


def _claimable(now: datetime, *, respect_backoff: bool, respect_state: bool) -> ColumnElement[bool]:
    """Active, within the 72 h budget and no unanswered call pending; with backoff also due; with
    state also retryable and not waiting on the customer (the lifecycle's ``Registration.retryable``)."""
    conditions = [
        channels.c.active.is_(True),
        _attempts_in_window(now) < REGISTER_BUDGET,
        not_(_unanswered_recently(now)),
    ]
    if respect_backoff:
        conditions.append(channels.c.next_attempt_at <= now)
    if respect_state:
        conditions += [
            channels.c.registration_state.in_(_RETRYABLE),
            not_(func.coalesce(channels.c.reauthorization_reason, "").in_(_CUSTOMER)),
        ]
    return and_(*conditions)


def _store_unreachable(exc: BaseException) -> bool:
    """Errors a retry on a fresh connection may cure (the store restarting, a dropped socket)."""
    if isinstance(exc, StoreConnectionError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@dataclass
class RegistrationClaim:
    """Held while a worker registers one channel (see the module docstring for the protocol).

    Record exactly once: :meth:`decide` when the fresh health check says no call is needed or
    possible; or :meth:`write_ahead` before the call and :meth:`record_attempt` after it.
    ``record_attempt`` without ``write_ahead`` records intent and answer in one go, under the
    claim's lock (seeding, tests).
    """

    channel: Channel
    registration: Registration
    attempt_times: tuple[datetime, ...]
    now: datetime
    _db: Database = field(repr=False)
    _conn: Connection = field(repr=False)
    _trans: RootTransaction | None = field(repr=False)
    recorded: bool = False
    attempt_id: int | None = None
    sent_at: datetime | None = None

    @property
    def failures_in_a_row(self) -> int:
        return self.channel.failures_in_a_row

    @property
    def budget_left(self) -> int:
        return budget_left(self.attempt_times, self.now)

    def decide(
        self,
        health: PhoneHealth | None = None,
        *,
        error: ErrorKind | None = None,
        rng: random.Random | None = None,
    ) -> Transition:
        """Feed the live read (or its permanent error) to the state machine.

        When it says :class:`~whatsapp.domain.registration_machine.RegisterNow` nothing is recorded yet:
        :meth:`write_ahead`, send the call, then :meth:`record_attempt`. Otherwise its new
        state is recorded.
        """
        event = ReadyToDecide(self.now, health=health, error=error, attempt_times=self.attempt_times)
        moved = transition(self.registration, event, rng=rng)
        if not moved.register_now:
            self._mark_recorded()
            self._save(self._locked(), moved.registration)
        return moved

    def write_ahead(self, *, attempted_at: datetime | None = None, run_id: str | None = None) -> datetime:
        """Commit the attempt (outcome ``sent``) before the request leaves; returns its time.

        Commits the claim's transaction: the row lock goes, the committed intent keeps every
        other worker away (it counts against the budget and blocks claims while in flight).
        """
        conn = self._locked()
        if self.attempt_id is not None:
            raise RuntimeError("a registration claim sends one register call")
        self.sent_at = attempted_at or self.now
        self.attempt_id = conn.execute(
            insert(registration_attempts)
            .values(
                channel_id=self.channel.id,
                attempted_at=self.sent_at,
                outcome=ATTEMPT_SENT,
                resulting_state=self.registration.state.value,
                run_id=run_id,
            )
            .returning(registration_attempts.c.id)
        ).scalar_one()
        assert self._trans is not None
        self._trans.commit()
        self._trans = None
        return self.sent_at

    def record_attempt(
        self,
        error: GraphApiError | None,
        *,
        attempted_at: datetime | None = None,
        run_id: str | None = None,
        rng: random.Random | None = None,
    ) -> Transition:
        """Record the answer of the sent register call (``error`` None = success) and its state.

        A :class:`GraphApiError` without an HTTP status (``answered`` False) is a lost answer:
        outcome ``no_answer``. After :meth:`write_ahead` the intent row is completed in a new
        transaction, retried on store errors; :class:`AttemptNotRecordedError` if it never lands.
        """
        self._mark_recorded()
        if self.attempt_id is None:
            conn = self._locked()
            at = attempted_at or self.now
            moved = self._answered(self.registration, error, at, (*self.attempt_times, at), rng)
            conn.execute(
                insert(registration_attempts).values(
                    channel_id=self.channel.id, attempted_at=at, run_id=run_id, **_answer(moved, error)
                )
            )
            self._save(conn, moved.registration)
            return moved
        return self._complete(error, rng)

    def _complete(self, error: GraphApiError | None, rng: random.Random | None) -> Transition:
        assert self.sent_at is not None and self.attempt_id is not None
        last: BaseException | None = None
        for attempt, delay in enumerate((0.0, *STORE_WRITE_DELAYS_S)):
            time.sleep(delay)
            try:
                with self._db.transaction(immediate=True) as conn:
                    row = conn.execute(
                        select(*PUBLIC_CHANNEL_COLUMNS)
                        .where(channels.c.id == self.channel.id)
                        .with_for_update(of=channels)
                    ).one()
                    times = _window(conn, self.channel.id, self.sent_at)
                    moved = self._answered(registration_from_row(row), error, self.sent_at, times, rng)
                    conn.execute(
                        registration_attempts.update()
                        .where(registration_attempts.c.id == self.attempt_id)
                        .values(**_answer(moved, error))
                    )
                    self._save(conn, moved.registration)
                return moved
            except Exception as exc:
                if not _store_unreachable(exc):
                    raise
                log.warning(
                    "Recording the register answer for channel %s failed (try %s): %s",
                    self.channel.id,
                    attempt + 1,
                    type(exc).__name__,
                )
                last = exc
        raise AttemptNotRecordedError(
            f"register call for channel {self.channel.id} sent at {self.sent_at.isoformat()}, but its "
            f"answer could not be recorded ({type(last).__name__}); the attempt stays '{ATTEMPT_SENT}' "
            "and the next attempt reconciles from Meta's health"
        ) from None

    @staticmethod
    def _answered(
        registration: Registration,
        error: GraphApiError | None,
        at: datetime,
        times: Sequence[datetime],
        rng: random.Random | None,
    ) -> Transition:
        event = RegisterAnswered(
            None if error is None else error.kind,
            at,
            tuple(times),
            wait=None if error is None else error.wait,
            answered=error is None or error.answered,
        )
        return transition(registration, event, rng=rng)

    def _locked(self) -> Connection:
        if self._trans is None:
            raise RuntimeError("the claim's lock was released when the intent was committed")
        return self._conn

    def _mark_recorded(self) -> None:
        if self.recorded:
            raise RuntimeError("a registration claim records one result")
        self.recorded = True

    def _save(self, conn: Connection, registration: Registration) -> None:
        conn.execute(
            channels.update()
            .where(channels.c.id == self.channel.id)
            .values(**registration_values(registration), updated_at=utcnow())
        )

    def _finish(self, *, failed: bool) -> None:
        """At the claim's end: keep what was recorded under the lock, drop the rest."""
        if self._trans is None or not self._trans.is_active:
            return
        if self.recorded or not failed:
            self._trans.commit()
        else:
            self._trans.rollback()


def _answer(moved: Transition, error: GraphApiError | None) -> dict[str, Any]:
    """The attempt row's outcome columns for one answer (or its loss)."""
    assert moved.outcome is not None
    outcome = answer_outcome(error)
    return {
        "outcome": outcome,
        "resulting_state": moved.outcome.state.value,
        "code": None if error is None else error.code,
        "subcode": None if error is None else error.subcode,
        "message": None if error is None else error.message,
    }


def complete_lost_intents(conn: Connection, channel_ids: Sequence[int], *, sent_before: datetime) -> None:
    """Mark the channels' intents sent before ``sent_before`` and never completed as ``no_answer``.

    Such an intent's worker died or lost its store after sending; once the wait after it is over,
    whatever Meta made of the call shows in the number's health. The claim (before it decides)
    and every stored health read complete them; a younger intent may be a call still in flight,
    which its worker completes.
    """
    conn.execute(
        registration_attempts.update()
        .where(
            registration_attempts.c.channel_id.in_(channel_ids),
            registration_attempts.c.outcome == ATTEMPT_SENT,
            registration_attempts.c.attempted_at <= sent_before,
        )
        .values(outcome=ATTEMPT_NO_ANSWER, message=LOST_INTENT_MESSAGE)
    )


def _window(conn: Connection, channel_id: int, now: datetime) -> tuple[datetime, ...]:
    """The channel's attempt times inside the 72 h window, oldest first (intents included)."""
    return tuple(
        conn.execute(
            select(registration_attempts.c.attempted_at)
            .where(
                registration_attempts.c.channel_id == channel_id,
                registration_attempts.c.attempted_at > now - REGISTER_WINDOW,
            )
            .order_by(registration_attempts.c.attempted_at)
        ).scalars()
    )


class AttemptRepository:
    """The ``registration_attempts`` table, and the per-channel claim that writes it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def due(self, *, limit: int = 100, now: datetime | None = None) -> list[DueChannel]:
        """Channels the fleet DAG should retry now, oldest due first, at most ``limit``.

        Due: active, ``next_attempt_at`` passed, a retryable state, fewer than
        ``REGISTER_BUDGET`` attempts in the last 72 h, no reason needing the customer.
        """
        now = utcnow(now)
        query = (
            select(*CHANNEL_REF_COLUMNS)
            .where(_claimable(now, respect_backoff=True, respect_state=True))
            .order_by(channels.c.next_attempt_at, channels.c.id)
            .limit(limit)
        )
        with self.db.connect() as conn:
            return [DueChannel(*row) for row in conn.execute(query)]

    @contextmanager
    def claim(
        self,
        channel_id: int,
        *,
        respect_backoff: bool = True,
        respect_state: bool | None = None,
        now: datetime | None = None,
    ) -> Iterator[RegistrationClaim | None]:
        """Hold ``channel_id`` for one registration, or yield ``None`` if it is held or not claimable.

        ``respect_backoff=False`` skips the ``next_attempt_at`` check (a task retry, the manual
        "Complete registration"); ``respect_state`` (default: as ``respect_backoff``) keeps
        channels that wait on a person out. Nothing skips the 72 h budget or the wait after an
        unanswered call, both checked again under the lock. Re-read live health *inside* the claim.
        """
        now = utcnow(now)
        respect_state = respect_backoff if respect_state is None else respect_state
        with self.db.connect() as conn:
            if self.db.dialect == "sqlite":
                conn.info[SQLITE_BEGIN_KEY] = "BEGIN IMMEDIATE"
            trans = conn.begin()
            claim = self._lock(conn, trans, channel_id, now, respect_backoff, respect_state)
            if claim is None:
                trans.rollback()
                yield None
                return
            try:
                yield claim
            except BaseException:
                claim._finish(failed=True)
                raise
            claim._finish(failed=False)

    def _lock(
        self,
        conn: Connection,
        trans: RootTransaction,
        channel_id: int,
        now: datetime,
        respect_backoff: bool,
        respect_state: bool,
    ) -> RegistrationClaim | None:
        row = conn.execute(
            select(*PUBLIC_CHANNEL_COLUMNS)
            .where(
                channels.c.id == channel_id,
                _claimable(now, respect_backoff=respect_backoff, respect_state=respect_state),
            )
            .with_for_update(skip_locked=True, of=channels)
        ).one_or_none()
        if row is None:
            return None
        # Re-read under the lock: an attempt committed between the statement's snapshot and our
        # lock (another worker's intent or answer) is invisible to the query above.
        recent = conn.execute(
            select(registration_attempts.c.attempted_at, registration_attempts.c.outcome).where(
                registration_attempts.c.channel_id == channel_id,
                registration_attempts.c.attempted_at > now - REGISTER_WINDOW,
            )
        ).all()
        if len(recent) >= REGISTER_BUDGET or any(
            outcome in _UNANSWERED and at > now - ANSWER_LOST_WAIT for at, outcome in recent
        ):
            return None
        # Intents nobody completed (the worker died, the store was down) are answers lost; none is
        # younger than the wait (checked above), so this takes every intent of the channel.
        complete_lost_intents(conn, [channel_id], sent_before=now - ANSWER_LOST_WAIT)
        times = tuple(sorted(at for at, _ in recent))
        return RegistrationClaim(
            channel_from_row(row), registration_from_row(row), times, now, self.db, conn, trans
        )

    def unanswered_until(self, channel_id: int, *, now: datetime | None = None) -> datetime | None:
        """When the wait after the channel's latest unanswered call ends, if still ahead.

        A call still ``sent`` counts as much as a lost answer (``no_answer``): it may be another
        worker's call in flight, or the intent of a worker that died or lost its store after
        sending. Either way Meta may still act on it, so nobody decides before the wait is over;
        then the claim re-reads health.
        """
        now = utcnow(now)
        query = select(func.max(registration_attempts.c.attempted_at)).where(
            registration_attempts.c.channel_id == channel_id,
            registration_attempts.c.outcome.in_(_UNANSWERED),
            registration_attempts.c.attempted_at > now - ANSWER_LOST_WAIT,
        )
        with self.db.connect() as conn:
            latest = conn.execute(query).scalar()
        return None if latest is None else latest + ANSWER_LOST_WAIT

    def recent(
        self, channel_id: int, *, limit: int = 50, run_id: str | None = None
    ) -> Sequence[RegistrationAttempt]:
        """The channel's register calls, newest first (with ``run_id``: only that run's)."""
        attempts = registration_attempts.c
        query = (
            select(registration_attempts)
            .where(attempts.channel_id == channel_id)
            .order_by(attempts.attempted_at.desc(), attempts.id.desc())
            .limit(limit)
        )
        if run_id is not None:
            query = query.where(attempts.run_id == run_id)
        with self.db.connect() as conn:
            return [
                RegistrationAttempt(
                    channel_id=row.channel_id,
                    attempted_at=row.attempted_at,
                    outcome=row.outcome,
                    resulting_state=row.resulting_state,
                    code=row.code,
                    subcode=row.subcode,
                    message=row.message,
                    run_id=row.run_id,
                )
                for row in conn.execute(query)
            ]

    def channel_of_run(self, run_id: str) -> int | None:
        """The channel a DAG run sent a register or lifecycle call for (``None``: it sent none)."""
        query = union_all(
            select(registration_attempts.c.channel_id).where(registration_attempts.c.run_id == run_id),
            select(lifecycle_calls.c.channel_id).where(lifecycle_calls.c.run_id == run_id),
        ).limit(1)
        with self.db.connect() as conn:
            return conn.execute(query).scalar_one_or_none()
