"""Operations over the whole fleet: which flags to announce, and how long history is kept.

A *flag* is a channel that needs a person, keyed ``"<registration_state>/<reason or ->"``: the
same pair the registration machine (``whatsapp.domain.registration_machine``) emits
``FlagForPerson`` for, so a new flag is exactly a new ``FlagForPerson``. Announced flags are
kept in ``notified_flags``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, tuple_

from whatsapp.domain.registration_machine import CUSTOMER_REASONS, PERSON_STATES
from whatsapp.store.database import Database, utcnow
from whatsapp.store.schema import (
    CHANNEL_REF_COLUMNS,
    channels,
    fleet_summaries,
    health_checks,
    notified_flags,
    signup_intake,
)

#: States in which a person must act whatever the reason (the registration machine's ``FlagForPerson``).


@dataclass(frozen=True, slots=True)
class FlaggedChannel:
    """A channel that needs a person, as a notification lists it (no secrets)."""

    channel_id: int
    account_id: int
    inbox_id: int
    phone_number_id: str
    display_phone_number: str | None
    state: str
    reason: str | None

    @property
    def flag(self) -> str:
        return f"{self.state}/{self.reason or '-'}"


class OperationsRepository:
    """``notified_flags`` and the retention of ``health_checks``/``fleet_summaries``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def flagged(self) -> list[FlaggedChannel]:
        """Every active channel that needs a person now, by account and inbox."""
        needs_person = or_(
            # Registration.needs_person, as a filter.
            channels.c.registration_state.in_(sorted(PERSON_STATES)),
            channels.c.reauthorization_reason.in_(sorted(CUSTOMER_REASONS)),
        )
        query = (
            select(*CHANNEL_REF_COLUMNS, channels.c.registration_state, channels.c.reauthorization_reason)
            .where(channels.c.active.is_(True), needs_person)
            .order_by(channels.c.account_id, channels.c.inbox_id)
        )
        with self.db.connect() as conn:
            return [FlaggedChannel(*row) for row in conn.execute(query)]

    def not_yet_notified(self) -> list[FlaggedChannel]:
        """Flagged channels whose current flag was never announced; forgets flags that cleared.

        Forgetting a cleared flag means it is announced again should the channel need a person
        for the same reason later: that is a new event, not a repeat.
        """
        flagged = self.flagged()
        current = {(f.channel_id, f.flag) for f in flagged}
        with self.db.transaction() as conn:
            announced = {(row.channel_id, row.flag) for row in conn.execute(select(notified_flags))}
            cleared = announced - current
            if cleared:
                conn.execute(
                    delete(notified_flags).where(
                        tuple_(notified_flags.c.channel_id, notified_flags.c.flag).in_(sorted(cleared))
                    )
                )
        return [f for f in flagged if (f.channel_id, f.flag) not in announced]

    def mark_notified(self, flagged: list[FlaggedChannel], *, now: datetime | None = None) -> None:
        """Record that these flags were announced (idempotent)."""
        if not flagged:
            return
        at = utcnow(now)
        rows = [{"channel_id": f.channel_id, "flag": f.flag, "notified_at": at} for f in flagged]
        with self.db.transaction() as conn:
            conn.execute(self.db.insert(notified_flags).values(rows).on_conflict_do_nothing())

    def prune_history(self, before: datetime) -> dict[str, int]:
        """Delete health snapshots, fleet summaries and intake rows older than ``before``; returns
        the counts.

        The latest snapshot of a channel is its current health on the channel row itself, so
        history can go without losing the present. An intake row's code is gone minutes after it
        arrived (spent, refused or past Meta's lifetime); what is left (ids, digest, run) only
        answers ``GET /signups/{id}``, which nobody asks months later.
        """
        with self.db.transaction() as conn:
            checks = conn.execute(delete(health_checks).where(health_checks.c.checked_at < before)).rowcount
            summaries = conn.execute(
                delete(fleet_summaries).where(
                    and_(
                        fleet_summaries.c.created_at < before,
                        fleet_summaries.c.id
                        != select(fleet_summaries.c.id)
                        .order_by(fleet_summaries.c.created_at.desc(), fleet_summaries.c.id.desc())
                        .limit(1)
                        .scalar_subquery(),
                    )
                )
            ).rowcount
            intake = conn.execute(delete(signup_intake).where(signup_intake.c.received_at < before)).rowcount
        return {"health_checks": checks, "fleet_summaries": summaries, "signup_intake": intake}
