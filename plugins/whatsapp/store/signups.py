"""Embedded Signup codes are single use: remember each exchange so a retried task never repeats it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update

from whatsapp.store.database import Database, utcnow
from whatsapp.store.models import StoredSignup
from whatsapp.store.schema import signups


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

    def save(
        self,
        code_digest: str,
        *,
        account_id: int,
        waba_id: str,
        business_id: str,
        access_token: str,
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
