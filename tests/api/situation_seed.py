"""One channel per situation kind, put in place with the store's own writes (no Graph calls).

Health reads and failed reads go through ``store.health.record`` (so the registration machine moves the
registration as in the DAGs); states only a run of calls reaches (blocked, a PIN refused, a name
change approved...) are set with ``save_registration``, and the register call that led there is
written as the store keeps attempts. An ``account_update`` is stored as the webhook receiver
stores it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from whatsapp.domain.business_app import Disconnection
from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import (
    NAME_CHANGE_WINDOW,
    Attention,
    NameChange,
    ReauthorizationReason,
    RegistrationState,
)
from whatsapp.domain.registration_machine import QualityChanged
from whatsapp.domain.situations import SituationKind
from whatsapp.store import Channel, ChannelStore, CheckError, HealthResult, business_app
from whatsapp.store.schema import registration_attempts, webhook_events

#: Another account than ``fleet_seed``'s, so both can share a store.
ACCOUNT_ID = 7
WABA_ID = "880000000000001"
NOW = datetime.now(UTC).replace(microsecond=0)
S = RegistrationState
R = ReauthorizationReason
K = SituationKind

PROVISIONED = {
    "name_status": "APPROVED",
    "code_verification_status": "VERIFIED",
    "platform_type": "CLOUD_API",
    "throughput": {"level": "STANDARD"},
    "quality_rating": "GREEN",
    "status": "CONNECTED",
}
PENDING = {**PROVISIONED, "platform_type": "NOT_APPLICABLE", "status": "PENDING"}
#: A WhatsApp Business app number as Graph reads it (registered through the app).
ON_APP = {**PROVISIONED, "is_on_biz_app": True}


def _read(store: ChannelStore, channel: Channel, at: datetime = NOW, **fields: Any) -> None:
    health = PhoneHealth.from_graph({"id": channel.phone_number_id, **fields})
    store.health.record([HealthResult(channel.id, at, health=health)])


def _failed_read(store: ChannelStore, channel: Channel, error: CheckError, at: datetime = NOW) -> None:
    store.health.record([HealthResult(channel.id, at, error=error)])


def _registration(store: ChannelStore, channel: Channel, **changes: Any) -> None:
    current = store.channels.by_id(channel.id)
    assert current is not None
    store.channels.save_registration(channel.id, replace(current.registration, **changes))


def _attempt(
    store: ChannelStore, channel: Channel, outcome: str, code: int | None, subcode: int | None
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(registration_attempts).values(
                channel_id=channel.id,
                attempted_at=NOW - timedelta(minutes=1),
                outcome=outcome,
                resulting_state="scheduled",
                code=code,
                subcode=subcode,
                message=f"Meta said {code}",
                run_id=f"seeded__{channel.id}",
            )
        )


def _app_number(effect: Callable[[Connection, Channel], object]) -> Callable[[ChannelStore, Channel], None]:
    """A WhatsApp Business app number, read, then what Meta pushed about it (``effect``)."""

    def seed(store: ChannelStore, channel: Channel) -> None:
        _read(store, channel, **ON_APP)
        with store.engine.begin() as conn:
            effect(conn, channel)

    return seed


def _attention(attention: Attention) -> Callable[[ChannelStore, Channel], None]:
    def seed(store: ChannelStore, channel: Channel) -> None:
        _read(store, channel, **PENDING)
        _registration(store, channel, state=S.NEEDS_ATTENTION, next_attempt_at=None, attention=attention)

    return seed


def _backoff(store: ChannelStore, channel: Channel) -> None:
    _read(store, channel, **PENDING)
    _attempt(store, channel, "display_name_not_ready", 100, 2388001)
    _registration(
        store, channel, state=S.SCHEDULED, next_attempt_at=NOW + timedelta(minutes=15), failures_in_a_row=1
    )


def _blocked(store: ChannelStore, channel: Channel) -> None:
    _read(store, channel, **PENDING)
    _attempt(store, channel, "register_limit", 133016, None)
    _registration(
        store, channel, state=S.BLOCKED, next_attempt_at=NOW + timedelta(hours=70), failures_in_a_row=3
    )


def _account_event(store: ChannelStore, channel: Channel) -> None:
    _attention(Attention.ACCOUNT_EVENT)(store, channel)
    with store.engine.begin() as conn:
        conn.execute(
            insert(webhook_events).values(
                change_key=f"seeded-{channel.id}",
                field="account_update",
                waba_id=WABA_ID,
                event="ACCOUNT_VIOLATION",
                detail="account_update: ACCOUNT_VIOLATION (SCAM)",
                value={"event": "ACCOUNT_VIOLATION"},
                occurred_at=NOW - timedelta(hours=1),
                received_at=NOW - timedelta(hours=1),
            )
        )


def _name_change(
    change: NameChange, state: RegistrationState = S.REGISTERED
) -> Callable[[ChannelStore, Channel], None]:
    def seed(store: ChannelStore, channel: Channel) -> None:
        _read(store, channel, **PROVISIONED)
        deadline = NOW + NAME_CHANGE_WINDOW if change is NameChange.APPROVED else None
        _registration(store, channel, state=state, name_change=change, name_change_deadline=deadline)

    return seed


#: How each kind is put in place (the channel was just created: ``unknown``, never checked).
SEEDS: dict[SituationKind, Callable[[ChannelStore, Channel], None]] = {
    K.HEALTHY: lambda store, channel: _read(store, channel, **PROVISIONED),
    K.NOT_CHECKED: lambda store, channel: None,
    K.NAME_IN_REVIEW: lambda store, channel: _read(
        store, channel, **{**PENDING, "name_status": "PENDING_REVIEW"}
    ),
    K.REGISTRATION_PENDING: lambda store, channel: _read(store, channel, **PENDING),
    K.REGISTER_BACKOFF: _backoff,
    K.BLOCKED: _blocked,
    K.PIN_MISMATCH: _attention(Attention.PIN_MISMATCH),
    K.NEEDS_REVERIFICATION: _attention(Attention.NEEDS_REVERIFICATION),
    K.NAME_DECLINED: _attention(Attention.DISPLAY_NAME_DECLINED),
    K.ACCOUNT_LOCKED: _attention(Attention.ACCOUNT_LOCKED),
    K.GRAPH_ERROR: _attention(Attention.GRAPH_ERROR),
    K.ACCOUNT_EVENT: _account_event,
    K.TOKEN_INVALID: lambda store, channel: _failed_read(
        store, channel, CheckError("token_invalid", 190, None, "Error validating access token")
    ),
    K.PERMISSION_REVOKED: lambda store, channel: (
        _read(store, channel, **PROVISIONED),
        _registration(store, channel, reason=R.PERMISSION_REVOKED),
    ),
    K.NAME_CHANGE_IN_REVIEW: _name_change(NameChange.REQUESTED),
    K.NAME_CHANGE_DUE: _name_change(NameChange.APPROVED, S.SCHEDULED),
    K.NAME_CHANGE_LAPSED: _name_change(NameChange.LAPSED),
    K.NAME_CHANGE_DECLINED: _name_change(NameChange.DECLINED),
    K.OFFBOARDED: lambda store, channel: (
        _read(store, channel, **PROVISIONED),
        store.channels.offboard(channel.id),
    ),
    K.QUALITY_LOW: lambda store, channel: _read(store, channel, **{**PROVISIONED, "quality_rating": "RED"}),
    K.QUALITY_MEDIUM: lambda store, channel: _read(
        store, channel, **{**PROVISIONED, "quality_rating": "YELLOW"}
    ),
    # Meta's phone_number_quality_update DOWNGRADE, applied as the webhook receiver applies it.
    K.MESSAGING_LIMIT_LOWERED: lambda store, channel: (
        _read(store, channel, **PROVISIONED),
        store.channels.apply(channel.id, QualityChanged("DOWNGRADE", NOW)),
    ),
    K.HISTORY_SYNC_DUE: _app_number(lambda conn, channel: None),
    K.HISTORY_NOT_SHARED: _app_number(
        lambda conn, channel: business_app.history_seen(conn, channel.id, progress=None, declined=True)
    ),
    K.APP_RECONNECTING: _app_number(
        lambda conn, channel: business_app.link_event(conn, channel.id, "ACCOUNT_OFFBOARDED", None, NOW)
    ),
    K.APP_DISCONNECTED: _app_number(
        lambda conn, channel: business_app.link_event(
            conn,
            channel.id,
            "PARTNER_REMOVED",
            Disconnection("Disconnected from the app", "BUSINESS_USER"),
            NOW,
        )
    ),
    K.CHECK_FAILED: lambda store, channel: (
        _read(store, channel, NOW - timedelta(hours=1), **PROVISIONED),
        _failed_read(store, channel, CheckError("transient", 2, None, "Service temporarily unavailable")),
    ),
}


#: The kinds only a WhatsApp Business app number reaches.
BUSINESS_APP_KINDS = frozenset(
    {K.HISTORY_SYNC_DUE, K.HISTORY_NOT_SHARED, K.APP_RECONNECTING, K.APP_DISCONNECTED}
)
#: The kinds whose channel is offboarded (inactive): left out of the fleet's counts and default listing.
INACTIVE_KINDS = frozenset({K.OFFBOARDED, K.APP_DISCONNECTED})


def seed_situations(store: ChannelStore) -> dict[SituationKind, Channel]:
    """A channel per kind, in :class:`SituationKind` order (inbox 1 is ``healthy``)."""
    seeded = {}
    for n, kind in enumerate(SituationKind, start=1):
        channel = store.channels.upsert(
            account_id=ACCOUNT_ID,
            phone_number_id=f"77000000{n:04d}",
            waba_id=WABA_ID,
            business_id="770000000000009",
            access_token=f"EAAG-situation-{n}",
            display_phone_number=f"+1 555-77{n:02d}",
            verified_name=f"Situation {kind.value}",
            on_business_app=kind in BUSINESS_APP_KINDS,
        )
        SEEDS[kind](store, channel)
        seeded[kind] = channel
    return seeded
