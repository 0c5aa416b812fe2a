"""WhatsApp Business app numbers ("coexistence"): the link to the app, and the two one-time syncs.

Meta, "Onboard WhatsApp Business app users"
(https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users,
docs/business-app-numbers.md): a business may sign up with the number it already uses in the
WhatsApp Business app. The number then stays on the customer's phone *and* is reachable through
Cloud API (``is_on_biz_app: true``). What that changes, and where each rule is kept:

* **No register, no deregister.** "Skip the phone number registration step, as the number is
  already registered": :func:`whatsapp.domain.registration.decide` answers ``on_business_app``;
  offboarding sends no ``/deregister`` (the customer disconnects in the app).
* **Two syncs, once each, within 24 hours of onboarding** (:data:`SYNC_WINDOW`): first the
  contacts (``POST /{phone_number_id}/smb_app_data`` with ``sync_type: smb_app_state_sync``),
  then the chat history (``sync_type: history``). Meta refuses a second request of a type, and
  after 24 hours the customer must offboard and sign up again. Each request is written ahead
  like a register call: an answer that was lost leaves the sync ``requested`` ("answer
  unknown"), and it is never sent again blindly (:meth:`Syncs.next_due`).
* **What Meta pushes** (webhooks): ``smb_app_state_sync`` carries the contacts, ``history`` the
  chat history in chunks with a progress percentage, or an error when the customer declined to
  share it (:data:`HISTORY_DECLINED_CODE`); ``smb_message_echoes`` the messages the customer
  sends from the app. The provider keeps how far each sync got and a count of echoes, never
  their content: messages and contacts belong to the partner's inbox, not to fleet health.
* **The link** (:class:`AppLink`): ``account_update`` ``ACCOUNT_OFFBOARDED`` means the customer is
  moving the app to another device (``reconnecting``), ``ACCOUNT_RECONNECTED`` that it is back;
  ``PARTNER_REMOVED`` with ``disconnection_info`` that the customer disconnected the number
  from the partner in the app: the channel is offboarded with Meta's reason, no Graph call
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update).

Pure: no Airflow, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from whatsapp.domain.health import ValueSeverity

#: "You have 24 hours after onboarding to synchronize the business customer's contacts and
#: messaging history" (Meta, Onboard WhatsApp Business app users).
SYNC_WINDOW = timedelta(hours=24)
#: The ``history`` webhook's error when the business chose not to share its chat history
#: (Meta, history webhook reference:
#: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/history).
HISTORY_DECLINED_CODE = 2593109
#: A ``history`` chunk's ``progress`` when the whole history was sent.
HISTORY_COMPLETE = 100
#: How the page, the API and the CLI name a WhatsApp Business app number.
BUSINESS_APP_LABEL = "WhatsApp Business app + API"


class SyncType(StrEnum):
    """The two syncs Meta allows, by the ``sync_type`` Meta names them with."""

    CONTACTS = "smb_app_state_sync"
    HISTORY = "history"

    @property
    def call(self) -> str:
        """The write-ahead record's call name (``lifecycle_calls.call``)."""
        return _CALL_NAMES[self]

    @property
    def label(self) -> str:
        return _LABELS[self]


_CALL_NAMES = {SyncType.CONTACTS: "contacts_sync", SyncType.HISTORY: "history_sync"}
_LABELS = {SyncType.CONTACTS: "Contacts sync", SyncType.HISTORY: "Chat history sync"}
#: Meta's order: contacts first, then the history.
SYNC_ORDER: tuple[SyncType, ...] = (SyncType.CONTACTS, SyncType.HISTORY)
SYNC_CALLS: frozenset[str] = frozenset(_CALL_NAMES.values())


class SyncState(StrEnum):
    """Where one sync stands; stored on the channel (``contacts_sync``, ``history_sync``)."""

    DUE = "due"  # may be requested, until the deadline
    REQUESTED = "requested"  # the request left; its answer is unknown (lost, or the task died)
    ACCEPTED = "accepted"  # Meta took the request; its webhooks follow
    IN_PROGRESS = "in_progress"  # history chunks are arriving
    FINISHED = "finished"  # the history arrived whole / the contacts arrived
    DECLINED = "declined"  # the customer chose not to share the chat history
    REFUSED = "refused"  # Meta refused the request
    EXPIRED = "expired"  # the 24 hours passed before it was requested


#: How each state reads (the page, the CLI); "answer unknown" tells a person why it is not resent.
SYNC_STATE_WORDS: Mapping[SyncState, str] = {
    SyncState.DUE: "due",
    SyncState.REQUESTED: "requested, answer unknown (not sent again)",
    SyncState.ACCEPTED: "requested, waiting for Meta",
    SyncState.IN_PROGRESS: "arriving",
    SyncState.FINISHED: "done",
    SyncState.DECLINED: "not shared by the customer",
    SyncState.REFUSED: "refused by Meta",
    SyncState.EXPIRED: "not requested within 24 hours",
}
SYNC_STATE_SEVERITY: Mapping[SyncState, ValueSeverity] = {
    SyncState.DUE: ValueSeverity.WARNING,
    SyncState.REQUESTED: ValueSeverity.WARNING,
    SyncState.ACCEPTED: ValueSeverity.NEUTRAL,
    SyncState.IN_PROGRESS: ValueSeverity.NEUTRAL,
    SyncState.FINISHED: ValueSeverity.OK,
    SyncState.DECLINED: ValueSeverity.NEUTRAL,
    SyncState.REFUSED: ValueSeverity.CRITICAL,
    SyncState.EXPIRED: ValueSeverity.CRITICAL,
}


class AppLink(StrEnum):
    """The number's link to the customer's WhatsApp Business app; ``None`` for other numbers."""

    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # ACCOUNT_OFFBOARDED: the customer moves the app to a new device
    DISCONNECTED = "disconnected"  # PARTNER_REMOVED with disconnection_info: offboarded


APP_LINK_SEVERITY: Mapping[AppLink, ValueSeverity] = {
    AppLink.CONNECTED: ValueSeverity.OK,
    AppLink.RECONNECTING: ValueSeverity.WARNING,
    AppLink.DISCONNECTED: ValueSeverity.CRITICAL,
}


@dataclass(frozen=True, slots=True)
class Syncs:
    """A WhatsApp Business app number's two syncs and the deadline Meta gives them."""

    contacts: SyncState | None = None
    history: SyncState | None = None
    deadline: datetime | None = None

    @classmethod
    def opened(cls, at: datetime) -> Syncs:
        """A new link: both syncs due until ``at`` + :data:`SYNC_WINDOW`."""
        return cls(SyncState.DUE, SyncState.DUE, at + SYNC_WINDOW)

    def state(self, sync: SyncType) -> SyncState | None:
        return self.contacts if sync is SyncType.CONTACTS else self.history

    def with_state(self, sync: SyncType, state: SyncState) -> Syncs:
        return replace(self, contacts=state) if sync is SyncType.CONTACTS else replace(self, history=state)

    def next_due(self, now: datetime) -> SyncType | None:
        """The sync to request now, in Meta's order; ``None`` when none may be sent.

        Only a ``due`` sync is sent, and only before the deadline: one already requested (whatever
        came back, an unknown answer included) is never sent again.
        """
        if self.deadline is None or now >= self.deadline:
            return None
        return next((sync for sync in SYNC_ORDER if self.state(sync) is SyncState.DUE), None)

    def expired(self, now: datetime) -> Syncs:
        """Past the deadline, a sync still ``due`` can no longer be requested."""
        if self.deadline is None or now < self.deadline:
            return self
        syncs = self
        for sync in SYNC_ORDER:
            if syncs.state(sync) is SyncState.DUE:
                syncs = syncs.with_state(sync, SyncState.EXPIRED)
        return syncs

    @property
    def waiting(self) -> bool:
        """A sync is still due: the deadline matters (the page shows it)."""
        return SyncState.DUE in (self.contacts, self.history)


def answered(*, accepted: bool, answer_known: bool) -> SyncState:
    """A sync request's state after the call: Meta's answer, or ``requested`` when it was lost."""
    if not answer_known:
        return SyncState.REQUESTED
    return SyncState.ACCEPTED if accepted else SyncState.REFUSED


#: States a webhook no longer moves: the customer's refusal and Meta's refusal are final.
_SETTLED = frozenset({SyncState.DECLINED, SyncState.REFUSED, SyncState.FINISHED})


def history_seen(current: SyncState | None, *, progress: int | None, declined: bool) -> SyncState | None:
    """The history sync after a ``history`` webhook (``None``: the number has no history sync)."""
    if current is None:
        return None
    if declined:
        return SyncState.DECLINED
    if current in _SETTLED:
        return current
    if progress is not None and progress >= HISTORY_COMPLETE:
        return SyncState.FINISHED
    return SyncState.IN_PROGRESS


def contacts_seen(current: SyncState | None) -> SyncState | None:
    """The contacts sync after an ``smb_app_state_sync`` webhook: the contacts arrived.

    Later webhooks (the customer edits a contact in the app) change nothing.
    """
    if current is None or current in _SETTLED:
        return current
    return SyncState.FINISHED


@dataclass(frozen=True, slots=True)
class Disconnection:
    """``PARTNER_REMOVED``'s ``disconnection_info``: why the number left the partner, and who did it."""

    reason: str | None
    initiated_by: str | None

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> Disconnection | None:
        """From an ``account_update`` value; ``None`` when it carries no ``disconnection_info``."""
        info = value.get("disconnection_info")
        if not isinstance(info, Mapping):
            return None
        return cls(
            _text(info.get("reason"), REASON_MAX_LENGTH),
            _text(info.get("initiated_by"), INITIATOR_MAX_LENGTH),
        )

    def describe(self) -> str:
        by = f" by {self.initiated_by}" if self.initiated_by else ""
        why = f": {self.reason}" if self.reason else ""
        return f"disconnected from the WhatsApp Business app{by}{why}"


#: What the store keeps of Meta's words (``channels.offboard_reason``, ``channels.offboarded_by``).
REASON_MAX_LENGTH = 255
INITIATOR_MAX_LENGTH = 64


def _text(value: Any, limit: int) -> str | None:
    return None if value is None or value == "" else str(value)[:limit]


#: ``account_update`` events about the app's link (Meta, account_update webhook reference).
LINK_EVENTS: Mapping[str, AppLink] = {
    "ACCOUNT_OFFBOARDED": AppLink.RECONNECTING,
    "ACCOUNT_RECONNECTED": AppLink.CONNECTED,
}


def link_after(current: AppLink | None, event: str, disconnection: Disconnection | None) -> AppLink | None:
    """The link after an ``account_update`` for the number's WABA (unchanged for other events).

    Only a WhatsApp Business app number has a link; a disconnection is final (the customer signs
    up again to come back, which opens a new link).
    """
    if current is None or current is AppLink.DISCONNECTED:
        return current
    if event == "PARTNER_REMOVED" and disconnection is not None:
        return AppLink.DISCONNECTED
    return LINK_EVENTS.get(event, current)
