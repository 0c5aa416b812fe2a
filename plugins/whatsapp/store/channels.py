"""Channels: one row per phone number: identity, encrypted secrets, snapshot, registration.

:class:`ChannelRepository` creates and updates channels, reads them, hands out their secrets
and persists registration transitions decided by :mod:`whatsapp.domain.registration_machine`.
"""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    Row,
    String,
    case,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from whatsapp.domain.business_app import AppLink, Syncs, SyncState
from whatsapp.domain.health import HEALTH_FIELDS, PhoneHealth
from whatsapp.domain.registration import (
    Attention,
    NameChange,
    ReauthorizationReason,
    RegistrationState,
    generate_pin,
)
from whatsapp.domain.registration_machine import (
    Event,
    Offboarded,
    Registration,
    TokenRenewed,
    Transition,
    transition,
)
from whatsapp.store.database import Database, utcnow
from whatsapp.store.errors import ChannelConflictError, ChannelNotFoundError
from whatsapp.store.models import Channel, CheckError, Credentials
from whatsapp.store.schema import HEALTH_COLUMNS, UtcDateTime, channels

_E = TypeVar("_E", bound=StrEnum)
#: A channel's link to the WhatsApp Business app and its syncs (:func:`new_link`).
_LINK_COLUMNS = ("business_app", "contacts_sync", "history_sync", "sync_deadline", "history_sync_progress")
#: Concurrent creations for one account can pick the same next inbox id; the loser tries again.
_INBOX_ID_RETRIES = 5

#: Every channel column except the encrypted ones: what reads select, so secrets stay unread.
PUBLIC_CHANNEL_COLUMNS = tuple(c for c in channels.c if not c.name.endswith("_enc"))
#: The columns that hold a channel's :class:`~whatsapp.domain.registration_machine.Registration`.
REGISTRATION_COLUMNS = (
    channels.c.registration_state,
    channels.c.reauthorization_reason,
    channels.c.next_attempt_at,
    channels.c.failures_in_a_row,
    channels.c.name_change,
    channels.c.name_change_deadline,
    channels.c.attention,
    channels.c.name_decided_at,
    channels.c.limit_lowered,
)
#: The columns :func:`registration_values` writes, typed for a bulk write's row source.
REGISTRATION_TYPES = (
    ("registration_state", String()),
    ("reauthorization_reason", String()),
    ("reauthorization_required", Boolean()),
    ("next_attempt_at", UtcDateTime()),
    ("failures_in_a_row", Integer()),
    ("name_change", String()),
    ("name_change_deadline", UtcDateTime()),
    ("attention", String()),
    ("name_decided_at", UtcDateTime()),
    ("limit_lowered", Boolean()),
)


def registration_from_row(row: Any) -> Registration:
    reason = row.reauthorization_reason
    return Registration(
        state=RegistrationState(row.registration_state),
        reason=None if reason is None else ReauthorizationReason(reason),
        next_attempt_at=row.next_attempt_at,
        failures_in_a_row=row.failures_in_a_row,
        name_change=None if row.name_change is None else NameChange(row.name_change),
        name_change_deadline=row.name_change_deadline,
        attention=None if row.attention is None else Attention(row.attention),
        name_decided_at=row.name_decided_at,
        limit_lowered=bool(row.limit_lowered),
    )


def registration_values(registration: Registration) -> dict[str, Any]:
    """The column values of a registration (the flag is derived from the reason, never set apart)."""
    return {
        "registration_state": registration.state.value,
        "reauthorization_reason": None if registration.reason is None else registration.reason.value,
        "reauthorization_required": registration.reauthorization_required,
        "next_attempt_at": registration.next_attempt_at,
        "failures_in_a_row": registration.failures_in_a_row,
        "name_change": None if registration.name_change is None else registration.name_change.value,
        "name_change_deadline": registration.name_change_deadline,
        "attention": None if registration.attention is None else registration.attention.value,
        "name_decided_at": registration.name_decided_at,
        "limit_lowered": registration.limit_lowered,
    }


def check_error_from(row: Any, prefix: str = "") -> CheckError | None:
    kind = getattr(row, f"{prefix}error_kind")
    if kind is None:
        return None
    return CheckError(
        kind,
        getattr(row, f"{prefix}error_code"),
        getattr(row, f"{prefix}error_subcode"),
        getattr(row, f"{prefix}error_message"),
    )


def channel_from_row(row: Row[Any]) -> Channel:
    """Build the public :class:`Channel` from a row of :data:`PUBLIC_CHANNEL_COLUMNS`."""
    health = None
    if row.checked_at is not None:
        snapshot = row.snapshot or {}
        health = PhoneHealth(
            phone_number_id=row.phone_number_id,
            values={
                # Fields without a column are read back from the stored Graph node.
                **{f.name: f.read(snapshot) for f in HEALTH_FIELDS if not f.stored},
                "display_phone_number": row.display_phone_number,
                "verified_name": row.verified_name,
                **{name: getattr(row, name) for name in HEALTH_COLUMNS},
            },
            raw=snapshot,
        )
    registration = registration_from_row(row)
    return Channel(
        id=row.id,
        account_id=row.account_id,
        inbox_id=row.inbox_id,
        phone_number_id=row.phone_number_id,
        waba_id=row.waba_id,
        business_id=row.business_id,
        display_phone_number=row.display_phone_number,
        verified_name=row.verified_name,
        source=row.source,
        active=row.active,
        health=health,
        checked_at=row.checked_at,
        provisioning=row.provisioning,
        last_check_error=check_error_from(row, "last_check_"),
        last_check_failed_at=row.last_check_failed_at,
        reauthorization_required=registration.reauthorization_required,
        reauthorization_reason=registration.reason,
        registration_state=registration.state,
        next_attempt_at=registration.next_attempt_at,
        failures_in_a_row=registration.failures_in_a_row,
        created_at=row.created_at,
        updated_at=row.updated_at,
        name_change=registration.name_change,
        name_change_deadline=registration.name_change_deadline,
        offboarded_at=row.offboarded_at,
        attention=registration.attention,
        name_decided_at=registration.name_decided_at,
        limit_lowered=registration.limit_lowered,
        business_app=_enum(AppLink, row.business_app),
        contacts_sync=_enum(SyncState, row.contacts_sync),
        history_sync=_enum(SyncState, row.history_sync),
        sync_deadline=row.sync_deadline,
        history_sync_progress=row.history_sync_progress,
        message_echoes=row.message_echoes,
        offboard_reason=row.offboard_reason,
        offboarded_by=row.offboarded_by,
    )


def _enum(kind: type[_E], value: str | None) -> _E | None:
    return None if value is None else kind(value)


def new_link(on_business_app: bool, now: datetime) -> dict[str, Any]:
    """The link and sync columns of a new channel: a WhatsApp Business app number's link opens with
    both syncs due for 24 hours; another number has none."""
    opened = Syncs.opened(now) if on_business_app else Syncs()
    return {
        "business_app": AppLink.CONNECTED.value if on_business_app else None,
        "contacts_sync": opened.contacts,
        "history_sync": opened.history,
        "sync_deadline": opened.deadline,
        "history_sync_progress": None,
    }


def business_app_values(on_business_app: bool, now: datetime) -> dict[str, Any]:
    """The link and sync columns of an existing channel saved again by an onboarding.

    A WhatsApp Business app number whose channel is active with a link keeps it: a second
    onboarding sends no sync again (Meta allows one request of each per onboarding). Offboarded,
    or not linked before, it gets a new link (:func:`new_link`). The expressions read the stored
    row (the ``SET`` of an upsert or an update sees the values before the write).
    """
    fresh = new_link(on_business_app, now)
    if not on_business_app:
        return fresh
    kept = channels.c.active.is_(True) & channels.c.business_app.is_not(None)
    return {
        name: case((kept, channels.c[name]), else_=literal(value, channels.c[name].type))
        for name, value in fresh.items()
    }


def offboard_channel(
    conn: Connection, channel_id: int, at: datetime, *, reason: str | None = None, by: str | None = None
) -> Row[Any]:
    """In the caller's transaction: reset the registration (``Offboarded``), deactivate the channel and
    note why when Meta said (``reason``, ``by``); the public columns after. The one offboarding write,
    for the offboarding DAG and for Meta's ``PARTNER_REMOVED`` alike."""
    row = conn.execute(
        select(*REGISTRATION_COLUMNS).where(channels.c.id == channel_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise ChannelNotFoundError(f"no channel with id {channel_id}")
    registration = transition(registration_from_row(row), Offboarded(at)).registration
    values = {
        **registration_values(registration),
        "active": False,
        "offboarded_at": func.coalesce(channels.c.offboarded_at, at),
        "offboard_reason": reason,
        "offboarded_by": by,
        "updated_at": at,
    }
    return conn.execute(
        update(channels).where(channels.c.id == channel_id).values(values).returning(*PUBLIC_CHANNEL_COLUMNS)
    ).one()


class ChannelRepository:
    """The ``channels`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(
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
        on_business_app: bool = False,
        now: datetime | None = None,
    ) -> Channel:
        """Save the channel of ``phone_number_id`` with a new token; idempotent, never duplicates.

        Without ``inbox_id`` the number's channel is created (next free inbox id of the account,
        a fresh PIN and verify token, both encrypted before anyone can use them) or updated.
        With ``inbox_id`` (reauthorization) only that channel is updated, and only if it holds
        this phone number: otherwise :class:`ChannelConflictError` names both numbers and
        nothing is written. A new token clears ``token_invalid``/``permission_revoked``.
        A number already owned by another account is a :class:`ChannelConflictError` too.
        ``on_business_app``: a WhatsApp Business app number (:func:`business_app_values`).
        """
        now = utcnow(now)
        changes: dict[str, Any] = {
            "waba_id": waba_id,
            "business_id": business_id,
            "access_token_enc": self.db.secrets.encrypt(access_token),
            # A new onboarding of an offboarded number makes it active again, history kept.
            "active": True,
            "offboarded_at": None,
            "offboard_reason": None,
            "offboarded_by": None,
            "updated_at": now,
            **business_app_values(on_business_app, now),
        }
        if display_phone_number is not None:
            changes["display_phone_number"] = display_phone_number
        if verified_name is not None:
            changes["verified_name"] = verified_name
        if inbox_id is not None:
            return self._reauthorize(account_id, inbox_id, phone_number_id, changes, now)
        for attempt in range(_INBOX_ID_RETRIES):
            try:
                with self.db.transaction() as conn:
                    changes.update(self._renewed(conn, channels.c.phone_number_id == phone_number_id, now))
                    new_row = {**changes, **new_link(on_business_app, now)}
                    return self._insert_or_update(
                        conn, account_id, phone_number_id, source, changes, new_row, now
                    )
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
        new_values: dict[str, Any],
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
            "waba_id": new_values["waba_id"],
            "business_id": new_values["business_id"],
            "display_phone_number": new_values.get("display_phone_number"),
            "verified_name": new_values.get("verified_name"),
            "access_token_enc": new_values["access_token_enc"],
            "pin_enc": self.db.secrets.encrypt(generate_pin()),
            "verify_token_enc": self.db.secrets.encrypt(pysecrets.token_urlsafe(24)),
            "source": source,
            "active": True,
            **{name: new_values[name] for name in _LINK_COLUMNS},
            **registration_values(Registration()),
            "created_at": now,
            "updated_at": now,
        }
        stmt = self.db.insert(channels).values(new_row)
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

    def _renewed(self, conn: Connection, where: ColumnElement[bool], now: datetime) -> dict[str, Any]:
        """The registration columns after a new token (nothing when the channel does not exist yet)."""
        row = conn.execute(select(*REGISTRATION_COLUMNS).where(where).with_for_update()).one_or_none()
        if row is None:
            return {}
        return registration_values(transition(registration_from_row(row), TokenRenewed(now)).registration)

    def _reauthorize(
        self, account_id: int, inbox_id: int, phone_number_id: str, changes: dict[str, Any], now: datetime
    ) -> Channel:
        with self.db.transaction() as conn:
            target = (
                (channels.c.account_id == account_id)
                & (channels.c.inbox_id == inbox_id)
                & (channels.c.phone_number_id == phone_number_id)
            )
            changes = {**changes, **self._renewed(conn, target, now)}
            row = conn.execute(
                update(channels).where(target).values(changes).returning(*PUBLIC_CHANNEL_COLUMNS)
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
        with self.db.connect() as conn:
            row = conn.execute(select(*PUBLIC_CHANNEL_COLUMNS).where(*conditions)).one_or_none()
        return None if row is None else channel_from_row(row)

    def get(self, account_id: int, inbox_id: int) -> Channel | None:
        return self._channel_where(channels.c.account_id == account_id, channels.c.inbox_id == inbox_id)

    def by_phone_number(self, phone_number_id: str) -> Channel | None:
        return self._channel_where(channels.c.phone_number_id == phone_number_id)

    def by_id(self, channel_id: int) -> Channel | None:
        return self._channel_where(channels.c.id == channel_id)

    def credentials(self, channel_id: int) -> Credentials:
        """The channel's token, PIN and verify token, decrypted: the only way they leave the store."""
        with self.db.connect() as conn:
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
            access_token=self.db.secrets.decrypt(row.access_token_enc),
            pin=self.db.secrets.decrypt(row.pin_enc),
            verify_token=self.db.secrets.decrypt(row.verify_token_enc),
        )

    def _update_channel(self, channel_id: int, values: dict[str, Any]) -> None:
        with self.db.transaction() as conn:
            result = conn.execute(update(channels).where(channels.c.id == channel_id).values(values))
        if result.rowcount == 0:
            raise ChannelNotFoundError(f"no channel with id {channel_id}")

    def apply(self, channel_id: int, event: Event, *, conn: Connection | None = None) -> Transition:
        """Feed ``event`` to the channel's registration state machine and persist where it leads.

        The row is locked while deciding, so two writers never base a move on the same old state.
        With ``conn`` it runs inside the caller's transaction.
        """
        if conn is None:
            with self.db.transaction(immediate=True) as own:
                return self.apply(channel_id, event, conn=own)
        row = conn.execute(
            select(*REGISTRATION_COLUMNS).where(channels.c.id == channel_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise ChannelNotFoundError(f"no channel with id {channel_id}")
        moved = transition(registration_from_row(row), event)
        self.save_registration(channel_id, moved.registration, conn=conn)
        return moved

    def save_registration(
        self,
        channel_id: int,
        registration: Registration,
        *,
        conn: Connection | None = None,
        now: datetime | None = None,
    ) -> None:
        """Persist a registration as it is (a transition's result, or a fixture's starting point)."""
        values = {**registration_values(registration), "updated_at": utcnow(now)}
        if conn is None:
            self._update_channel(channel_id, values)
            return
        conn.execute(update(channels).where(channels.c.id == channel_id).values(values))

    def set_active(self, channel_id: int, active: bool, *, now: datetime | None = None) -> None:
        """Deactivated channels are neither audited nor retried, and keep their history."""
        self._update_channel(channel_id, {"active": active, "updated_at": utcnow(now)})

    def offboard(self, channel_id: int, *, now: datetime | None = None) -> Channel:
        """Deactivate an offboarded channel: skipped by audits, retries and the default
        fleet view, its registration reset by the registration machine, its history kept. ``offboarded_at``
        keeps the time the number was deregistered, when the deregister answer set it."""
        now = utcnow(now)
        with self.db.transaction(immediate=True) as conn:
            return channel_from_row(offboard_channel(conn, channel_id, now))

    def held_numbers(self, phone_number_ids: Sequence[str]) -> set[str]:
        """Which of these numbers an active channel holds (an onboarding without a phone number id
        picks the one that none holds)."""
        query = select(channels.c.phone_number_id).where(
            channels.c.phone_number_id.in_(list(phone_number_ids)), channels.c.active.is_(True)
        )
        with self.db.connect() as conn:
            return set(conn.execute(query).scalars())

    def others_active_on_waba(self, waba_id: str, channel_id: int) -> int:
        """Active channels of the WABA other than ``channel_id``: the app stays subscribed while any."""
        query = select(func.count()).where(
            channels.c.waba_id == waba_id, channels.c.id != channel_id, channels.c.active.is_(True)
        )
        with self.db.connect() as conn:
            return int(conn.execute(query).scalar_one())
