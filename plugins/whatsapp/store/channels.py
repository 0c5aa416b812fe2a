"""Channels: create or update one per phone number, read them, hand out their secrets."""

from __future__ import annotations

import secrets as pysecrets
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from whatsapp.domain.registration import ReauthorizationReason, RegistrationState, generate_pin
from whatsapp.store.base import PUBLIC_CHANNEL_COLUMNS, StoreBase, channel_from_row, utcnow
from whatsapp.store.errors import ChannelConflictError, ChannelNotFoundError
from whatsapp.store.models import Channel, Credentials
from whatsapp.store.rules import new_token_values, reason_value, reauthorization_values
from whatsapp.store.schema import channels

#: Concurrent creations for one account can pick the same next inbox id; the loser tries again.
_INBOX_ID_RETRIES = 5


class ChannelsMixin(StoreBase):
    def upsert_channel(
        self,
        *,
        account_id: int,
        phone_number_id: str,
        waba_id: str,
        business_id: str,
        access_token: str,
        display_phone_number: str | None = None,
        verified_name: str | None = None,
        source: str = "embedded_signup",
        inbox_id: int | None = None,
        now: datetime | None = None,
    ) -> Channel:
        """Save the channel of ``phone_number_id`` with a new token; idempotent, never duplicates.

        Without ``inbox_id`` the number's channel is created (next free inbox id of the account,
        a fresh PIN and verify token, both encrypted before anyone can use them) or updated.
        With ``inbox_id`` (reauthorization) only that channel is updated, and only if it holds
        this phone number: otherwise :class:`ChannelConflictError` names both numbers and
        nothing is written. A new token clears ``token_invalid``/``permission_revoked``.
        A number already owned by another account is a :class:`ChannelConflictError` too.
        """
        now = utcnow(now)
        changes: dict[str, Any] = {
            "waba_id": waba_id,
            "business_id": business_id,
            "access_token_enc": self.secrets.encrypt(access_token),
            "active": True,
            "updated_at": now,
            **new_token_values(),
        }
        if display_phone_number is not None:
            changes["display_phone_number"] = display_phone_number
        if verified_name is not None:
            changes["verified_name"] = verified_name
        if inbox_id is not None:
            return self._reauthorize(account_id, inbox_id, phone_number_id, changes)
        for attempt in range(_INBOX_ID_RETRIES):
            try:
                with self._transaction() as conn:
                    return self._insert_or_update(conn, account_id, phone_number_id, source, changes, now)
            except IntegrityError:
                if attempt == _INBOX_ID_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _insert_or_update(
        self,
        conn: Connection,
        account_id: int,
        phone_number_id: str,
        source: str,
        changes: dict[str, Any],
        now: datetime,
    ) -> Channel:
        next_inbox = (
            select(func.coalesce(func.max(channels.c.inbox_id), 0) + 1)
            .where(channels.c.account_id == account_id)
            .scalar_subquery()
        )
        new_row = {
            "account_id": account_id,
            "inbox_id": next_inbox,
            "phone_number_id": phone_number_id,
            "waba_id": changes["waba_id"],
            "business_id": changes["business_id"],
            "display_phone_number": changes.get("display_phone_number"),
            "verified_name": changes.get("verified_name"),
            "access_token_enc": changes["access_token_enc"],
            "pin_enc": self.secrets.encrypt(generate_pin()),
            "verify_token_enc": self.secrets.encrypt(pysecrets.token_urlsafe(24)),
            "source": source,
            "active": True,
            "reauthorization_required": False,
            "registration_state": RegistrationState.UNKNOWN.value,
            "failures_in_a_row": 0,
            "created_at": now,
            "updated_at": now,
        }
        stmt = self.insert(channels).values(new_row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["phone_number_id"],
            set_=changes,
            where=channels.c.account_id == stmt.excluded.account_id,
        ).returning(*PUBLIC_CHANNEL_COLUMNS)
        row = conn.execute(stmt).one_or_none()
        if row is None:
            owner = conn.execute(
                select(channels.c.account_id).where(channels.c.phone_number_id == phone_number_id)
            ).scalar_one()
            raise ChannelConflictError(
                f"phone number {phone_number_id} already belongs to account {owner}, not {account_id}"
            )
        return channel_from_row(row)

    def _reauthorize(
        self, account_id: int, inbox_id: int, phone_number_id: str, changes: dict[str, Any]
    ) -> Channel:
        with self._transaction() as conn:
            row = conn.execute(
                update(channels)
                .where(
                    channels.c.account_id == account_id,
                    channels.c.inbox_id == inbox_id,
                    channels.c.phone_number_id == phone_number_id,
                )
                .values(changes)
                .returning(*PUBLIC_CHANNEL_COLUMNS)
            ).one_or_none()
            if row is not None:
                return channel_from_row(row)
            existing = conn.execute(
                select(channels.c.phone_number_id).where(
                    channels.c.account_id == account_id, channels.c.inbox_id == inbox_id
                )
            ).scalar_one_or_none()
        if existing is None:
            raise ChannelNotFoundError(f"no channel for account {account_id} inbox {inbox_id}")
        raise ChannelConflictError(
            f"inbox {inbox_id} of account {account_id} holds phone number {existing}, "
            f"not {phone_number_id}: nothing was changed"
        )

    def _channel_where(self, *conditions: ColumnElement[bool]) -> Channel | None:
        with self._connect() as conn:
            row = conn.execute(select(*PUBLIC_CHANNEL_COLUMNS).where(*conditions)).one_or_none()
        return None if row is None else channel_from_row(row)

    def get_channel(self, account_id: int, inbox_id: int) -> Channel | None:
        return self._channel_where(channels.c.account_id == account_id, channels.c.inbox_id == inbox_id)

    def get_channel_by_phone_number(self, phone_number_id: str) -> Channel | None:
        return self._channel_where(channels.c.phone_number_id == phone_number_id)

    def get_channel_by_id(self, channel_id: int) -> Channel | None:
        return self._channel_where(channels.c.id == channel_id)

    def credentials(self, channel_id: int) -> Credentials:
        """The channel's token, PIN and verify token, decrypted: the only way they leave the store."""
        with self._connect() as conn:
            row = conn.execute(
                select(
                    channels.c.phone_number_id,
                    channels.c.access_token_enc,
                    channels.c.pin_enc,
                    channels.c.verify_token_enc,
                ).where(channels.c.id == channel_id)
            ).one_or_none()
        if row is None:
            raise ChannelNotFoundError(f"no channel with id {channel_id}")
        return Credentials(
            channel_id=channel_id,
            phone_number_id=row.phone_number_id,
            access_token=self.secrets.decrypt(row.access_token_enc),
            pin=self.secrets.decrypt(row.pin_enc),
            verify_token=self.secrets.decrypt(row.verify_token_enc),
        )

    def _update_channel(self, channel_id: int, values: dict[str, Any]) -> None:
        with self._transaction() as conn:
            result = conn.execute(update(channels).where(channels.c.id == channel_id).values(values))
        if result.rowcount == 0:
            raise ChannelNotFoundError(f"no channel with id {channel_id}")

    def mark_reauthorization(
        self, channel_id: int, reason: ReauthorizationReason, *, now: datetime | None = None
    ) -> None:
        """Flag the channel; ``registration_incomplete`` never hides a reason that needs the customer."""
        self._update_channel(
            channel_id, {**reauthorization_values(reason_value(reason)), "updated_at": utcnow(now)}
        )

    def clear_reauthorization(self, channel_id: int, *, now: datetime | None = None) -> None:
        """Clear the flag whatever its reason (a person or a reauthorization resolved it)."""
        self._update_channel(
            channel_id,
            {"reauthorization_required": False, "reauthorization_reason": None, "updated_at": utcnow(now)},
        )

    def set_registration_state(
        self,
        channel_id: int,
        state: RegistrationState,
        *,
        next_attempt_at: datetime | None = None,
        now: datetime | None = None,
    ) -> None:
        """Move the registration state outside a claim (e.g. the sensor's timeout hands over to the fleet)."""
        values: dict[str, Any] = {
            "registration_state": state.value,
            "next_attempt_at": next_attempt_at,
            "updated_at": utcnow(now),
        }
        if state is RegistrationState.REGISTERED:
            values["failures_in_a_row"] = 0
        self._update_channel(channel_id, values)

    def set_active(self, channel_id: int, active: bool, *, now: datetime | None = None) -> None:
        """Deactivated channels are neither audited nor retried, and keep their history."""
        self._update_channel(channel_id, {"active": active, "updated_at": utcnow(now)})
