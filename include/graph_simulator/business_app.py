"""WhatsApp Business app numbers on Cloud API ("coexistence"): their state and their webhooks.

Meta, "Onboard WhatsApp Business app users"
(https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users):
the number is already registered through the app (the partner skips registration), the partner
has 24 hours from onboarding to ask, once per kind, for the contacts (``smb_app_state_sync``)
and the chat history (``history``) through ``POST /{phone_number_id}/smb_app_data``, and the
answers arrive as webhooks. The business can disconnect the number in the app
(``account_update`` ``PARTNER_REMOVED``), a device change offboards it and a re-registration
reconnects it (``ACCOUNT_OFFBOARDED`` / ``ACCOUNT_RECONNECTED``), and messages it sends from the
app are echoed (``smb_message_echoes``). Payloads here are shaped as that page's "Webhooks"
section and the webhook references it links shape them; nothing here imports the HTTP layer,
so the Graph handler and the control routes share it and queue into ``SimState.outbox``.
"""

from __future__ import annotations

import secrets
from typing import Any

from include.graph_simulator.state import Number, SimState

SYNC_CONTACTS = "smb_app_state_sync"
SYNC_HISTORY = "history"
SYNC_TYPES = (SYNC_CONTACTS, SYNC_HISTORY)
#: "After you onboard the business customer, you have 24 hours to synchronize their contacts and
#: messaging history" (the onboarding page, "Synchronizing WhatsApp Business app data").
SYNC_WINDOW_SECONDS = 24 * 3600.0
#: What Graph shows for a number registered through the app from the start (the onboarding page,
#: "Check onboarding status": ``is_on_biz_app`` true and ``platform_type`` ``CLOUD_API``). Such a
#: number has a fixed throughput of 20 mps (https://developers.facebook.com/documentation/business-messaging/whatsapp/throughput,
#: "WhatsApp Business app phone numbers"); the node's ``throughput.level`` for it is not
#: documented, ``STANDARD`` is the Cloud API level that is not "pending" (an assumption).
COEXISTENCE_STATE = {
    "platform_type": "CLOUD_API",
    "status": "CONNECTED",
    "name_status": "APPROVED",
    "code_verification_status": "VERIFIED",
    "throughput_level": "STANDARD",
}
#: ``disconnection_info`` values of the ``account_update`` reference
#: (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update).
DISCONNECTION_REASONS = (
    "ACCOUNT_DISCONNECTED",
    "BUSINESS_DOWNGRADE",
    "CHANGE_NUMBER",
    "COMPANION_INACTIVITY",
    "PRIMARY_INACTIVITY",
    "USER_RE_REGISTERED",
)
DISCONNECTION_INITIATORS = ("USER", "SYSTEM")
#: The ``history`` webhook's error when the business declined to share its chat history
#: (the onboarding page, "Payload syntax — chat history sharing declined").
HISTORY_DECLINED_ERROR = {
    "code": 2593109,
    "title": "History sync is turned off by the business from the WhatsApp Business App",
    "message": "History sync is turned off by the business from the WhatsApp Business App",
    "error_data": {"details": "History sharing is turned off by the business"},
}
#: Contacts of every simulated WhatsApp Business app: the names of Meta's examples.
_CONTACTS = (("Pablo Morales", "Pablo"), ("Sheena Nelson", "Sheena"))
_DAY = 24 * 3600


class BusinessAppError(ValueError):
    """A control call that does not fit the number (not a business app number, already so)."""


def digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def start_onboarding(number: Number, now: float) -> None:
    """A (new) coexistence onboarding: the sync window restarts and nothing is synced yet."""
    number.onboarded_at = now
    number.smb_syncs.clear()
    number.app_offboarded = False


def request_id() -> str:
    return secrets.token_hex(16)


def _metadata(number: Number) -> dict[str, str]:
    return {
        "display_phone_number": digits(number.display_phone_number),
        "phone_number_id": number.phone_number_id,
    }


def _contact_number(number: Number, index: int) -> str:
    return f"1650555{(int(number.phone_number_id[-4:]) + index) % 10000:04d}"


def _queue(state: SimState, field: str, number: Number, value: dict[str, Any]) -> None:
    state.outbox.append((field, number.waba_id, value, number.phone_number_id))


def queue_sync(state: SimState, number: Number, sync_type: str) -> None:
    """The webhooks an accepted ``smb_app_data`` request leads to."""
    if sync_type == SYNC_CONTACTS:
        _queue(state, "smb_app_state_sync", number, contacts_value(state, number))
        return
    for chunk in history_values(number):
        _queue(state, "history", number, chunk)


def contacts_value(state: SimState, number: Number) -> dict[str, Any]:
    """``smb_app_state_sync``: the app's contacts, each ``add``ed
    (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/smb_app_state_sync)."""
    timestamp = str(int(state.clock.now()))
    return {
        "messaging_product": "whatsapp",
        "metadata": _metadata(number),
        "state_sync": [
            {
                "type": "contact",
                "contact": {
                    "full_name": full_name,
                    "first_name": first_name,
                    "phone_number": _contact_number(number, index),
                },
                "action": "add",
                "metadata": {"timestamp": timestamp},
            }
            for index, (full_name, first_name) in enumerate(_CONTACTS)
        ],
    }


def history_values(number: Number) -> list[dict[str, Any]]:
    """``history``: two chunks (phase 0, then phase 1 ending at progress 100), or, when the
    business declined to share, one webhook carrying error 2593109
    (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/history)."""
    metadata = _metadata(number)
    if not number.history_shared:
        return [
            {
                "messaging_product": "whatsapp",
                "metadata": metadata,
                "history": [{"errors": [HISTORY_DECLINED_ERROR]}],
            }
        ]
    onboarded = int(number.onboarding_time())
    business = metadata["display_phone_number"]
    chunks = []
    # Phase 0 covers day 0 to day 1 before onboarding, phase 1 day 1 to day 90.
    for order, (phase, progress, days_before) in enumerate(((0, 50, 0.5), (1, 100, 30)), start=1):
        customer = _contact_number(number, order - 1)
        sent = onboarded - int(days_before * _DAY)
        messages = [
            _history_message(customer, f"Hello from {customer}", sent, "READ"),
            _history_message(business, "Thanks, we will get back to you.", sent + 60, "DELIVERED"),
        ]
        chunks.append(
            {
                "messaging_product": "whatsapp",
                "metadata": metadata,
                "history": [
                    {
                        "metadata": {"phase": phase, "chunk_order": order, "progress": progress},
                        "threads": [{"id": customer, "messages": messages}],
                    }
                ],
            }
        )
    return chunks


def _history_message(sender: str, body: str, timestamp: int, status: str) -> dict[str, Any]:
    return {
        "from": sender,
        "id": _wamid(),
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": body},
        "history_context": {"status": status},
    }


def _wamid() -> str:
    return "wamid.sim" + secrets.token_urlsafe(24)


def disconnect(state: SimState, number: Number, reason: str, initiated_by: str) -> None:
    """The business taps "Disconnect Account" in the app (Settings > Account > Business Platform).

    Meta sends ``account_update`` ``PARTNER_REMOVED`` with ``disconnection_info`` (the onboarding
    page, "Offboarding business customers"); the WABA is unshared from the partner, so its token
    reaches neither the WABA nor the number any more (as for any object it cannot see: 100/33).
    The value carries ``phone_number`` (the onboarding page's payload) and ``waba_info`` (the
    ``account_update`` reference: "only included for PARTNER_* events").
    """
    _require_business_app(number)
    waba = state.wabas[number.waba_id]
    if waba.partner_removed:
        raise BusinessAppError(f"WABA {waba.waba_id} is already disconnected from the partner")
    waba.partner_removed = True
    waba.subscribed = False
    _queue(
        state,
        "account_update",
        number,
        {
            "phone_number": digits(number.display_phone_number),
            "event": "PARTNER_REMOVED",
            "waba_info": {"waba_id": waba.waba_id, "owner_business_id": waba.business_id},
            "disconnection_info": {"reason": reason, "initiated_by": initiated_by},
        },
    )


def device_change(state: SimState, number: Number, phase: str) -> None:
    """A device change offboards the Cloud API companion; the re-registration reconnects it
    (https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/reconnect-offboarded-coexistence-clients).

    The webhooks carry only ``event`` (the onboarding page's ``account_offboarded`` and
    ``account_reconnected`` payloads). While offboarded the number reads ``status``
    ``DISCONNECTED`` (an assumption: Meta does not say what the node shows meanwhile).
    """
    _require_business_app(number)
    if state.wabas[number.waba_id].partner_removed:
        raise BusinessAppError(f"number {number.phone_number_id} is disconnected from the partner")
    offboard = phase == "offboarded"
    if number.app_offboarded == offboard:
        raise BusinessAppError(f"number {number.phone_number_id} is already {phase}")
    number.app_offboarded = offboard
    number.status = "DISCONNECTED" if offboard else "CONNECTED"
    _queue(
        state,
        "account_update",
        number,
        {"event": "ACCOUNT_OFFBOARDED" if offboard else "ACCOUNT_RECONNECTED"},
    )


def echo(state: SimState, number: Number, to: str | None, text: str) -> None:
    """The business sends a text from the app: one ``smb_message_echoes`` webhook
    (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/smb_message_echoes)."""
    _require_business_app(number)
    if state.wabas[number.waba_id].partner_removed or number.app_offboarded:
        raise BusinessAppError(f"number {number.phone_number_id} is not connected to the partner")
    business = digits(number.display_phone_number)
    _queue(
        state,
        "smb_message_echoes",
        number,
        {
            "messaging_product": "whatsapp",
            "metadata": _metadata(number),
            "message_echoes": [
                {
                    "from": business,
                    "to": to or _contact_number(number, 0),
                    "id": _wamid(),
                    "timestamp": str(int(state.clock.now())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        },
    )


def _require_business_app(number: Number) -> None:
    if not number.is_on_biz_app:
        raise BusinessAppError(f"number {number.phone_number_id} is not a WhatsApp Business app number")
