"""Registration retries: which channels are due, and a per-channel claim that records each attempt.

Only a claim's holder may send ``/register`` for the channel. On PostgreSQL the claim is the
channel's row lock (``SELECT ... FOR UPDATE SKIP LOCKED``): a second worker gets ``None`` at
once. On SQLite it is the database's write lock (``BEGIN IMMEDIATE``): a second worker waits
for the first to finish. Either way the claim re-checks, under the lock, that the channel is
still due and within budget, so once the winner has recorded its attempt the loser gets
``None`` too: one register call, one recorded attempt.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, not_, select

from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.lifecycle import (
    CUSTOMER_REASONS,
    RETRYABLE_STATES,
    ReadyToDecide,
    RegisterAnswered,
    Registration,
    Transition,
    transition,
)
from whatsapp.domain.registration import REGISTER_BUDGET, REGISTER_WINDOW, budget_left
from whatsapp.errors import ErrorKind, GraphApiError
from whatsapp.store.channels import (
    PUBLIC_CHANNEL_COLUMNS,
    channel_from_row,
    registration_from_row,
    registration_values,
)
from whatsapp.store.database import Database, utcnow
from whatsapp.store.models import ATTEMPT_SUCCESS, Channel, DueChannel, RegistrationAttempt
from whatsapp.store.schema import channels, registration_attempts

_RETRYABLE = tuple(state.value for state in RETRYABLE_STATES)
_CUSTOMER = tuple(reason.value for reason in CUSTOMER_REASONS)


def _attempts_in_window(now: datetime) -> Any:
    return (
        select(func.count())
        .where(
            registration_attempts.c.channel_id == channels.c.id,
            registration_attempts.c.attempted_at > now - REGISTER_WINDOW,
        )
        .scalar_subquery()
    )


def _claimable(now: datetime, *, respect_backoff: bool, respect_state: bool) -> ColumnElement[bool]:
    """Active and within the 72 h budget; with backoff also due; with state also retryable and
    not waiting on the customer (the lifecycle's ``Registration.retryable``, as a filter)."""
    conditions = [channels.c.active.is_(True), _attempts_in_window(now) < REGISTER_BUDGET]
    if respect_backoff:
        conditions.append(channels.c.next_attempt_at <= now)
    if respect_state:
        conditions += [
            channels.c.registration_state.in_(_RETRYABLE),
            not_(func.coalesce(channels.c.reauthorization_reason, "").in_(_CUSTOMER)),
        ]
    return and_(*conditions)


@dataclass
class RegistrationClaim:
    """Held while a worker registers one channel; records the result in the claim's transaction.

    Record exactly once: :meth:`record_attempt` after a register call was sent (success or
    error), or :meth:`decide` when the fresh health check says no call is needed or possible.
    The attempt is committed even if the caller raises afterwards (for a task retry), so the
    72 h budget counts every call that was sent.
    """

    channel: Channel
    registration: Registration
    attempt_times: tuple[datetime, ...]
    now: datetime
    _conn: Connection = field(repr=False)
    recorded: bool = False

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

        When it says :class:`~whatsapp.domain.lifecycle.RegisterNow` nothing is recorded yet:
        send the call, then :meth:`record_attempt`. Otherwise its new state is recorded.
        """
        event = ReadyToDecide(self.now, health=health, error=error, attempt_times=self.attempt_times)
        moved = transition(self.registration, event, rng=rng)
        if not moved.register_now:
            self._save(moved)
        return moved

    def record_attempt(
        self,
        error: GraphApiError | None,
        *,
        attempted_at: datetime | None = None,
        run_id: str | None = None,
        rng: random.Random | None = None,
    ) -> Transition:
        """Record one sent register call (``error`` None = success) and the state it leads to."""
        attempted_at = attempted_at or self.now
        event = RegisterAnswered(
            None if error is None else error.kind, attempted_at, (*self.attempt_times, attempted_at)
        )
        moved = transition(self.registration, event, rng=rng)
        assert moved.outcome is not None
        self._conn.execute(
            insert(registration_attempts).values(
                channel_id=self.channel.id,
                attempted_at=attempted_at,
                outcome=ATTEMPT_SUCCESS if error is None else error.kind.value,
                resulting_state=moved.outcome.state.value,
                code=None if error is None else error.code,
                subcode=None if error is None else error.subcode,
                message=None if error is None else error.message,
                run_id=run_id,
            )
        )
        self._save(moved)
        return moved

    def _save(self, moved: Transition) -> None:
        if self.recorded:
            raise RuntimeError("a registration claim records one result")
        self.recorded = True
        self._conn.execute(
            channels.update()
            .where(channels.c.id == self.channel.id)
            .values(**registration_values(moved.registration), updated_at=self.now)
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
            select(
                channels.c.id,
                channels.c.account_id,
                channels.c.inbox_id,
                channels.c.phone_number_id,
                channels.c.display_phone_number,
            )
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
        channels that wait on a person out. Nothing skips the 72 h budget, which is checked
        again under the lock. Re-read live health *inside* the claim.
        """
        now = utcnow(now)
        respect_state = respect_backoff if respect_state is None else respect_state
        with self.db.transaction(immediate=True) as conn:
            row = conn.execute(
                select(*PUBLIC_CHANNEL_COLUMNS)
                .where(
                    channels.c.id == channel_id,
                    _claimable(now, respect_backoff=respect_backoff, respect_state=respect_state),
                )
                .with_for_update(skip_locked=True, of=channels)
            ).one_or_none()
            if row is None:
                yield None
                return
            times = tuple(
                conn.execute(
                    select(registration_attempts.c.attempted_at)
                    .where(
                        registration_attempts.c.channel_id == channel_id,
                        registration_attempts.c.attempted_at > now - REGISTER_WINDOW,
                    )
                    .order_by(registration_attempts.c.attempted_at)
                ).scalars()
            )
            if len(times) >= REGISTER_BUDGET:
                # An attempt committed between the statement's snapshot and our lock: the
                # budget query above could not see it, the locked re-read does.
                yield None
                return
            claim = RegistrationClaim(channel_from_row(row), registration_from_row(row), times, now, conn)
            try:
                yield claim
            except BaseException:
                if not claim.recorded:
                    raise
                conn.commit()  # keep the sent call's attempt; the caller's exception still propagates
                raise

    def recent(self, channel_id: int, *, limit: int = 50) -> Sequence[RegistrationAttempt]:
        """The channel's register calls, newest first."""
        query = (
            select(registration_attempts)
            .where(registration_attempts.c.channel_id == channel_id)
            .order_by(registration_attempts.c.attempted_at.desc(), registration_attempts.c.id.desc())
            .limit(limit)
        )
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
