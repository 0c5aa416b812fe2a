"""WhatsApp Business app numbers' webhooks in ``store.webhooks``, on both dialects.

``history`` and ``smb_app_state_sync`` move the syncs, ``smb_message_echoes`` counts, each change
once; ``account_update`` moves such a number's link (``ACCOUNT_OFFBOARDED`` → reconnecting,
``ACCOUNT_RECONNECTED`` → connected, ``PARTNER_REMOVED`` with ``disconnection_info`` → offboarded)
while every other channel keeps the registration machine's answer. No message or contact is
stored. Payload shapes: Meta's reference pages (cited in ``whatsapp.domain.webhooks``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from whatsapp.domain.business_app import AppLink, SyncState
from whatsapp.domain.registration import ReauthorizationReason, RegistrationState
from whatsapp.domain.registration_machine import Registration
from whatsapp.domain.webhooks import parse_notification
from whatsapp.store import ChannelStore
from whatsapp.store import webhooks as webhook_store
from whatsapp.store.models import Channel
from whatsapp.store.schema import health_checks, webhook_events
from whatsapp.store.webhooks import WebhookOutcome

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
TIME = 1764057600
WABA = "102290129340398"
APP_ID, APP_DISPLAY, APP_DIGITS = "106540352242922", "+1 555-078-3881", "15550783881"
PLAIN_ID, PLAIN_DISPLAY = "106540352242999", "+1 555-078-0000"
#: What must never reach the store: a message, a contact's name and a contact's number.
SECRET_TEXT = "The safe code is 4711, see you at 5"
CONTACT_NAME, CONTACT_FIRST_NAME, CONTACT_PHONE = "Pablo Morales", "Pablo", "16505551234"


def metadata(phone_number_id: str = APP_ID, display: str = APP_DIGITS) -> dict[str, str]:
    return {"display_phone_number": display, "phone_number_id": phone_number_id}


def history(progress: int, phase: int, order: int, **meta: str) -> tuple[str, dict[str, Any]]:
    """A ``history`` chunk with one thread of two messages (Meta's history reference)."""
    message = {"id": "wamid.A1", "timestamp": "1739230955", "type": "text", "text": {"body": SECRET_TEXT}}
    messages = [
        {**message, "from": CONTACT_PHONE, "history_context": {"status": "READ"}},
        {**message, "from": APP_DIGITS, "id": "wamid.A2", "history_context": {"status": "DELIVERED"}},
    ]
    chunk = {
        "metadata": {"phase": phase, "chunk_order": order, "progress": progress},
        "threads": [{"id": CONTACT_PHONE, "messages": messages}],
    }
    return "history", {"messaging_product": "whatsapp", "metadata": metadata(**meta), "history": [chunk]}


def declined() -> tuple[str, dict[str, Any]]:
    """The business declined to share its chat history: error 2593109."""
    error = {
        "code": 2593109,
        "title": "History sync is turned off by the business from the WhatsApp Business App",
        "message": "History sync is turned off by the business from the WhatsApp Business App",
        "error_data": {"details": "History sharing is turned off by the business"},
    }
    return "history", {
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "history": [{"errors": [error]}],
    }


def contacts() -> tuple[str, dict[str, Any]]:
    """``smb_app_state_sync`` with two contacts (Meta's smb_app_state_sync reference)."""
    items = [
        {
            "type": "contact",
            "contact": {"full_name": name, "first_name": first, "phone_number": phone},
            "action": "add",
            "metadata": {"timestamp": "1739321024"},
        }
        for name, first, phone in (
            (CONTACT_NAME, CONTACT_FIRST_NAME, CONTACT_PHONE),
            ("Sheena Nelson", "Sheena", "16505550000"),
        )
    ]
    return "smb_app_state_sync", {
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "state_sync": items,
    }


def echoes(count: int, **meta: str) -> tuple[str, dict[str, Any]]:
    """``smb_message_echoes``: ``count`` texts the business sent from the app."""
    echo = {"from": APP_DIGITS, "to": CONTACT_PHONE, "timestamp": "1739321024", "type": "text"}
    items = [{**echo, "id": f"wamid.E{n}", "text": {"body": SECRET_TEXT}} for n in range(count)]
    value = {"messaging_product": "whatsapp", "metadata": metadata(**meta), "message_echoes": items}
    return "smb_message_echoes", value


def account(event: str, **value: Any) -> tuple[str, dict[str, Any]]:
    return "account_update", {"event": event, **value}


def disconnected(phone_number: str | None = APP_DIGITS) -> tuple[str, dict[str, Any]]:
    """The business disconnected its number in the app (Meta's onboarding page and account_update
    reference): ``PARTNER_REMOVED`` with ``disconnection_info``."""
    value: dict[str, Any] = {
        "waba_info": {"waba_id": WABA, "owner_business_id": "5"},
        "disconnection_info": {"reason": "ACCOUNT_DISCONNECTED", "initiated_by": "USER"},
    }
    if phone_number is not None:
        value["phone_number"] = phone_number
    return account("PARTNER_REMOVED", **value)


def body(*changes: tuple[str, dict[str, Any]], time: int = TIME) -> bytes:
    items = [{"value": value, "field": field} for field, value in changes]
    entry = {"id": WABA, "time": time, "changes": items}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def record(store: ChannelStore, data: bytes, at: datetime = NOW) -> list[WebhookOutcome]:
    return store.webhooks.record_all(parse_notification(data, at), received_at=at)


def channel(store: ChannelStore, phone: str = APP_ID, display: str = APP_DISPLAY, *, app: bool = True) -> int:
    return store.channels.upsert(
        account_id=1,
        phone_number_id=phone,
        waba_id=WABA,
        business_id="5",
        access_token="EAAtoken",
        display_phone_number=display,
        on_business_app=app,
        now=NOW,
    ).id


def plain(store: ChannelStore) -> int:
    return channel(store, PLAIN_ID, PLAIN_DISPLAY, app=False)


def read(store: ChannelStore, channel_id: int) -> Channel:
    stored = store.channels.by_id(channel_id)
    assert stored is not None
    return stored


def details(store: ChannelStore) -> list[tuple[str | None, int | None]]:
    """Each stored change's detail line and channel, in order."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(webhook_events.c.detail, webhook_events.c.channel_id).order_by(webhook_events.c.id)
        ).all()
    return [(row.detail, row.channel_id) for row in rows]


def test_history_progress_arrives_in_order(store: ChannelStore) -> None:
    cid = channel(store)
    assert (read(store, cid).history_sync, read(store, cid).history_sync_progress) == (SyncState.DUE, None)
    record(store, body(history(50, 0, 1)))
    assert (read(store, cid).history_sync, read(store, cid).history_sync_progress) == (
        SyncState.IN_PROGRESS,
        50,
    )
    record(store, body(history(100, 1, 2), time=TIME + 60))
    stored = read(store, cid)
    assert (stored.history_sync, stored.history_sync_progress) == (SyncState.FINISHED, 100)
    assert details(store) == [("history: 50 %", cid), ("history: 100 %", cid)]
    assert stored.registration_state is RegistrationState.UNKNOWN  # the registration is not asked


@pytest.mark.parametrize("per_transaction", [1, 1000])
def test_history_progress_out_of_order_keeps_the_highest(
    store: ChannelStore, monkeypatch: pytest.MonkeyPatch, per_transaction: int
) -> None:
    """Meta: chunks "may not be delivered sequentially"; one body or several, one transaction or several."""
    monkeypatch.setattr(webhook_store, "CHANGES_PER_TRANSACTION", per_transaction)
    cid = channel(store)
    record(store, body(history(100, 1, 3), history(40, 0, 1)))
    record(store, body(history(70, 1, 2), time=TIME + 60))
    stored = read(store, cid)
    assert (stored.history_sync, stored.history_sync_progress) == (SyncState.FINISHED, 100)
    assert [detail for detail, _ in details(store)] == ["history: 100 %", "history: 40 %", "history: 70 %"]


def test_declined_history_is_final(store: ChannelStore) -> None:
    cid = channel(store)
    record(store, body(declined()))
    stored = read(store, cid)
    assert (stored.history_sync, stored.history_sync_progress) == (SyncState.DECLINED, None)
    assert details(store) == [("history: not shared by the customer (2593109)", cid)]
    record(store, body(history(100, 1, 1), time=TIME + 60))
    assert read(store, cid).history_sync is SyncState.DECLINED


def test_contacts_arrive_once_and_later_edits_change_nothing(store: ChannelStore) -> None:
    cid = channel(store)
    record(store, body(contacts()))
    assert read(store, cid).contacts_sync is SyncState.FINISHED
    record(store, body(contacts(), time=TIME + 60))  # the business edits a contact in the app
    assert read(store, cid).contacts_sync is SyncState.FINISHED
    assert details(store) == [("smb_app_state_sync: 2 contacts", cid)] * 2


def test_echoes_are_counted_once_each(store: ChannelStore) -> None:
    cid = channel(store)
    two = body(echoes(2))
    first = record(store, two)
    again = record(store, two, NOW + timedelta(seconds=5))  # Meta's redelivery
    assert [o.duplicate for o in first + again] == [False, True]
    assert read(store, cid).message_echoes == 2
    # one body: a single echo, the same one repeated (a duplicate), three more: 4 counted in one write
    record(store, body(echoes(1), echoes(1), echoes(3), time=TIME + 60))
    assert read(store, cid).message_echoes == 6
    assert details(store) == [
        ("smb_message_echoes: 2 messages", cid),
        ("smb_message_echoes: 1 message", cid),
        ("smb_message_echoes: 3 messages", cid),
    ]
    assert store.health.history(cid) == []  # echoes are not health: no history row each


def test_no_message_or_contact_reaches_the_store(store: ChannelStore) -> None:
    channel(store)
    record(store, body(contacts(), history(50, 0, 1), declined(), echoes(2)))
    with store.engine.connect() as conn:
        events = [dict(row._mapping) for row in conn.execute(select(webhook_events))]
        checks = [dict(row._mapping) for row in conn.execute(select(health_checks))]
    dumped = json.dumps([events, checks], default=str)
    assert len(events) == 4
    for secret in (SECRET_TEXT, CONTACT_NAME, CONTACT_FIRST_NAME, CONTACT_PHONE, "wamid.", "Sheena"):
        assert secret not in dumped
    kept = {event["field"]: event["value"] for event in events[:2]}
    assert kept["smb_app_state_sync"] == {
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "state_sync": [{"type": "contact", "action": "add", "count": 2}],
    }
    assert kept["history"] == {
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "history": [
            {"metadata": {"phase": 0, "chunk_order": 1, "progress": 50}, "threads": 1, "messages": 2}
        ],
    }
    assert events[2]["value"]["history"] == [
        {
            "metadata": {},
            "errors": [
                {
                    "code": 2593109,
                    "title": "History sync is turned off by the business from the WhatsApp Business App",
                }
            ],
        }
    ]
    assert events[3]["value"]["message_echoes"] == [{"type": "text", "count": 2}]


def test_a_disconnection_offboards_the_number_with_meta_s_reason(store: ChannelStore) -> None:
    cid, other = channel(store), plain(store)
    store.channels.save_registration(cid, Registration(RegistrationState.REGISTERED))
    # the echo after the disconnection, in the same body, no longer finds the channel
    [outcome, echo] = record(store, body(disconnected(), echoes(1)))
    by_channel = {effect.channel_id: effect for effect in outcome.effects}
    assert by_channel[cid].link is AppLink.DISCONNECTED
    assert by_channel[cid].transition.registration == Registration(RegistrationState.REGISTERED)
    assert echo.effects == ()
    gone = read(store, cid)
    assert (gone.active, gone.business_app, gone.offboard_reason, gone.offboarded_by) == (
        False,
        AppLink.DISCONNECTED,
        "ACCOUNT_DISCONNECTED",
        "USER",
    )
    assert gone.offboarded_at == NOW and gone.message_echoes == 0
    # offboarded as the offboarding DAG does: registration reset, no reauthorization asked
    assert (gone.registration_state, gone.reauthorization_reason) == (RegistrationState.UNKNOWN, None)
    line = "account_update: PARTNER_REMOVED (USER: ACCOUNT_DISCONNECTED)"
    assert [h.event for h in store.health.history(cid)] == [line]
    # the WABA is unshared from the partner: another number of it must be reauthorized, as before
    kept = read(store, other)
    assert kept.active and kept.business_app is None
    assert kept.reauthorization_reason is ReauthorizationReason.PERMISSION_REVOKED
    assert details(store)[0] == (line, cid)


@pytest.mark.parametrize(
    ("named", "offboarded"),
    [(None, {APP_ID, "106540352242923"}), ("15550789999", set())],
    ids=["no number named: every app number", "another number named: none"],
)
def test_which_numbers_a_disconnection_offboards(
    store: ChannelStore, named: str | None, offboarded: set[str]
) -> None:
    ids = {APP_ID: channel(store), "106540352242923": channel(store, "106540352242923", "+1 555-078-3882")}
    record(store, body(disconnected(phone_number=named)))
    for phone, cid in ids.items():
        stored = read(store, cid)
        if phone in offboarded:
            assert (stored.active, stored.business_app) == (False, AppLink.DISCONNECTED)
        else:  # not the number disconnected: the WABA's PARTNER_REMOVED as for any channel
            assert (stored.active, stored.business_app) == (True, AppLink.CONNECTED)
            assert stored.reauthorization_reason is ReauthorizationReason.PERMISSION_REVOKED
    assert details(store)[0][1] is None  # several numbers, or none: no single channel


def test_a_device_change_is_reconnecting_then_connected(store: ChannelStore) -> None:
    cid, other = channel(store), plain(store)
    store.channels.save_registration(cid, Registration(RegistrationState.REGISTERED))
    [offboarded] = record(store, body(account("ACCOUNT_OFFBOARDED")))
    assert {e.channel_id: e.link for e in offboarded.effects} == {cid: AppLink.RECONNECTING, other: None}
    moving = read(store, cid)
    assert (moving.business_app, moving.active, moving.registration_state) == (
        AppLink.RECONNECTING,
        True,
        RegistrationState.REGISTERED,
    )
    # another number of the WABA: needs a person, as every ACCOUNT_OFFBOARDED did before
    assert read(store, other).registration_state is RegistrationState.NEEDS_ATTENTION
    record(store, body(account("ACCOUNT_RECONNECTED"), time=TIME + 60))
    back = read(store, cid)
    assert (back.business_app, back.registration_state) == (AppLink.CONNECTED, RegistrationState.REGISTERED)
    assert read(store, other).registration_state is RegistrationState.NEEDS_ATTENTION
    assert [h.event for h in reversed(store.health.history(cid))] == [
        "account_update: ACCOUNT_OFFBOARDED",
        "account_update: ACCOUNT_RECONNECTED",
    ]


def test_other_numbers_keep_today_s_behaviour(store: ChannelStore) -> None:
    cid = plain(store)
    record(store, body(disconnected(phone_number=None)))
    stored = read(store, cid)
    assert (stored.active, stored.business_app, stored.offboard_reason) == (True, None, None)
    assert stored.reauthorization_reason is ReauthorizationReason.PERMISSION_REVOKED
    record(store, body(account("ACCOUNT_OFFBOARDED"), time=TIME + 60))
    assert read(store, cid).registration_state is RegistrationState.NEEDS_ATTENTION
    # app data naming it is stored (linked to it) and moves nothing
    meta = {"phone_number_id": PLAIN_ID, "display": "15550780000"}
    record(store, body(history(100, 1, 1, **meta), echoes(1, **meta), time=TIME + 120))
    stored = read(store, cid)
    assert (stored.history_sync, stored.message_echoes) == (None, 0)
    assert details(store)[2:] == [("history: 100 %", cid), ("smb_message_echoes: 1 message", cid)]


def test_app_data_finds_the_number_by_id_then_by_digits(store: ChannelStore) -> None:
    cid = channel(store, display="+1 555-078-1111")  # Graph's display form differs from Meta's metadata
    record(store, body(echoes(1)))  # found by its id
    record(store, body(echoes(1, phone_number_id="999", display="15550781111"), time=TIME + 1))  # digits
    record(store, body(echoes(1, phone_number_id="999", display="15550782222"), time=TIME + 2))  # neither
    record(store, body(echoes(1, phone_number_id="", display=""), time=TIME + 3))  # none named
    assert read(store, cid).message_echoes == 2
    assert [channel_id for _, channel_id in details(store)] == [cid, cid, None, None]
