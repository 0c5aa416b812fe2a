"""Embedded Signup codes: received by the intake (encrypted until spent), and each exchange remembered.

Two tables: ``signup_intake`` holds what ``POST /whatsapp/api/v1/signups`` received, the code
encrypted and only until it is exchanged, refused by Meta or past Meta's lifetime; ``signups``
remembers each exchanged code (by digest) with its token, so a retried task never spends a
code twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, select, update

from whatsapp.domain.signup import CODE_LIFETIME, Signup, SignupEvent, SignupIds
from whatsapp.store.crypto import code_digest
from whatsapp.store.database import Database, utcnow
from whatsapp.store.models import StoredSignup
from whatsapp.store.schema import signup_intake, signups


@dataclass(frozen=True, slots=True)
class PendingSignup:
    """A signup the intake received; ``code_held`` is False once its code was spent or deleted."""

    signup_id: str
    ids: SignupIds
    code_digest: str
    received_at: datetime
    code_held: bool
    dag_run_id: str | None


class SignupRepository:
    """The ``signups`` table: exchanged codes by digest, with their token encrypted."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _signup_from_row(self, row: Row[Any]) -> StoredSignup:
        return StoredSignup(
            code_digest=row.code_digest,
            account_id=row.account_id,
            waba_id=row.waba_id,
            business_id=row.business_id,
            phone_number_id=row.phone_number_id,
            created_at=row.created_at,
            access_token=self.db.secrets.decrypt(row.access_token_enc),
        )

    def get(self, code_digest: str) -> StoredSignup | None:
        """The token a previous run got for this code (see :func:`code_digest`), if any."""
        with self.db.connect() as conn:
            row = conn.execute(select(signups).where(signups.c.code_digest == code_digest)).one_or_none()
        return None if row is None else self._signup_from_row(row)

    def phone_number_of(self, code_digest: str) -> str | None:
        """The phone number an exchanged code's signup named or found (its token stays unread)."""
        query = select(signups.c.phone_number_id).where(signups.c.code_digest == code_digest)
        with self.db.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def save(
        self,
        code_digest: str,
        *,
        account_id: int,
        waba_id: str,
        business_id: str,
        access_token: str,
        event: SignupEvent = SignupEvent.FINISH,
        now: datetime | None = None,
    ) -> StoredSignup:
        """Remember an exchanged code's token; the first write wins and is what is returned.

        Two runs racing on one code both get the same stored token back, whichever exchanged.
        """
        values = {
            "code_digest": code_digest,
            "account_id": account_id,
            "waba_id": waba_id,
            "business_id": business_id,
            "access_token_enc": self.db.secrets.encrypt(access_token),
            "created_at": utcnow(now),
            "event": event.value,
        }
        with self.db.transaction() as conn:
            conn.execute(
                self.db.insert(signups).values(values).on_conflict_do_nothing(index_elements=["code_digest"])
            )
            row = conn.execute(select(signups).where(signups.c.code_digest == code_digest)).one()
        return self._signup_from_row(row)

    def set_phone_number(self, code_digest: str, phone_number_id: str) -> None:
        """Note which number the signup onboarded, once known (re-runs then find the channel)."""
        with self.db.transaction() as conn:
            conn.execute(
                update(signups)
                .where(signups.c.code_digest == code_digest)
                .values(phone_number_id=phone_number_id)
            )

    # -- the intake -------------------------------------------------------------------------

    def _pending_from_row(self, row: Row[Any]) -> PendingSignup:
        return PendingSignup(
            signup_id=row.signup_id,
            ids=SignupIds(
                account_id=row.account_id,
                business_id=row.business_id,
                waba_id=row.waba_id,
                phone_number_id=row.phone_number_id,
                inbox_id=row.inbox_id,
                event=SignupEvent(row.event),
            ),
            code_digest=row.code_digest,
            received_at=row.received_at,
            code_held=row.code_enc is not None,
            dag_run_id=row.dag_run_id,
        )

    def receive(
        self, signup: Signup, *, now: datetime | None = None, lifetime: timedelta = CODE_LIFETIME
    ) -> PendingSignup:
        """Store a validated signup under a new random id, its code encrypted.

        The same transaction deletes every other code older than ``lifetime``: codes whose run
        never started (a paused DAG, a dead scheduler) do not outlive their use.
        """
        received_at = utcnow(now)
        values = {
            "signup_id": uuid.uuid4().hex,
            "account_id": signup.ids.account_id,
            "business_id": signup.ids.business_id,
            "waba_id": signup.ids.waba_id,
            "phone_number_id": signup.ids.phone_number_id,
            "inbox_id": signup.ids.inbox_id,
            "event": signup.ids.event.value,
            "code_digest": code_digest(signup.code),
            "code_enc": self.db.secrets.encrypt(signup.code),
            "received_at": received_at,
        }
        with self.db.transaction() as conn:
            self._delete_expired_codes(conn, received_at - lifetime)
            conn.execute(signup_intake.insert().values(values))
            row = conn.execute(
                select(signup_intake).where(signup_intake.c.signup_id == values["signup_id"])
            ).one()
        return self._pending_from_row(row)

    def attach_run(self, signup_id: str, dag_run_id: str) -> None:
        """Note the onboarding run the intake triggered for this signup."""
        with self.db.transaction() as conn:
            conn.execute(
                update(signup_intake)
                .where(signup_intake.c.signup_id == signup_id)
                .values(dag_run_id=dag_run_id)
            )

    def discard(self, signup_id: str) -> None:
        """Remove a received signup entirely (its run could not be created)."""
        with self.db.transaction() as conn:
            conn.execute(delete(signup_intake).where(signup_intake.c.signup_id == signup_id))

    def pending(self, signup_id: str) -> PendingSignup | None:
        with self.db.connect() as conn:
            row = conn.execute(
                select(signup_intake).where(signup_intake.c.signup_id == signup_id)
            ).one_or_none()
        return None if row is None else self._pending_from_row(row)

    def take_code(
        self, signup_id: str, *, now: datetime | None = None, lifetime: timedelta = CODE_LIFETIME
    ) -> str | None:
        """The signup's code, decrypted; None once spent, or when it is older than ``lifetime``.

        An expired code is deleted by this read: Meta would refuse it, so keeping it serves nobody.
        """
        with self.db.transaction() as conn:
            row = conn.execute(
                select(signup_intake.c.code_enc, signup_intake.c.received_at)
                .where(signup_intake.c.signup_id == signup_id)
                .with_for_update()
            ).one_or_none()
            if row is None or row.code_enc is None:
                return None
            if row.received_at < utcnow(now) - lifetime:
                self._forget(conn, signup_id)
                return None
        return self.db.secrets.decrypt(row.code_enc)

    def forget_code(self, signup_id: str) -> None:
        """Delete the code's ciphertext (spent or refused); the ids and the digest stay."""
        with self.db.transaction() as conn:
            self._forget(conn, signup_id)

    def delete_expired_codes(
        self, *, now: datetime | None = None, lifetime: timedelta = CODE_LIFETIME
    ) -> int:
        """Delete every code older than ``lifetime``; returns how many."""
        with self.db.transaction() as conn:
            return self._delete_expired_codes(conn, utcnow(now) - lifetime)

    @staticmethod
    def _forget(conn: Any, signup_id: str) -> None:
        conn.execute(
            update(signup_intake).where(signup_intake.c.signup_id == signup_id).values(code_enc=None)
        )

    @staticmethod
    def _delete_expired_codes(conn: Any, received_before: datetime) -> int:
        result = conn.execute(
            update(signup_intake)
            .where(signup_intake.c.code_enc.is_not(None), signup_intake.c.received_at < received_before)
            .values(code_enc=None)
        )
        return int(result.rowcount or 0)
