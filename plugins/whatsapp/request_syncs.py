"""A WhatsApp Business app number's contacts and chat-history syncs: the one path that sends them.

``POST /{phone_number_id}/smb_app_data``, contacts first, then the history, each at most once per
onboarding and only within 24 hours of it (Meta, "Onboard WhatsApp Business app users":
https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users).
Each request is committed in the store before it leaves (:meth:`BusinessAppRepository.begin_sync`)
and completed with its answer after, so a retry, a second onboarding or a worker killed mid-call
never sends one again: a request whose answer was lost stays "requested, answer unknown".
Airflow-free, as :mod:`whatsapp.register_channel` is: the operator logs and returns the report.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pendulum

from whatsapp.domain.business_app import SYNC_ORDER, SYNC_STATE_WORDS, SyncState
from whatsapp.errors import GraphApiError

if TYPE_CHECKING:
    from whatsapp.hooks.graph import WhatsAppGraphHook
    from whatsapp.store import ChannelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync step did, small and secret-free: returned by the task, shown in its log."""

    channel_id: int
    phone_number_id: str
    sync_calls: int
    contacts_sync: str | None
    history_sync: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def request_due_syncs(
    hook: WhatsAppGraphHook, store: ChannelStore, channel_id: int, *, run_id: str | None = None
) -> SyncReport:
    """Request every sync of the channel still due, in Meta's order; what was done.

    Another number has nothing to sync. A refusal (by the store: not due, past the deadline; or
    by Meta) is recorded and logged, never raised: the number works without its history.
    """
    from whatsapp.store.business_app import SyncRefusedError

    channel = store.channels.by_id(channel_id)
    if channel is None:
        raise LookupError(f"no channel with id {channel_id}")
    if channel.business_app is None:
        return _report(store, channel_id, 0, "not a WhatsApp Business app number: nothing to sync")
    token = store.channels.credentials(channel_id).access_token
    syncs, sent = channel.syncs, 0
    while (sync := syncs.next_due(pendulum.now("UTC"))) is not None:
        try:
            intent = store.business_app.begin_sync(channel_id, sync, run_id=run_id)
        except SyncRefusedError as refused:
            log.info("%s not requested: %s", sync.label, refused)
            break
        sent += 1
        try:
            request_id = hook.request_sync(channel.phone_number_id, token, sync.value)
        except GraphApiError as error:
            state = store.business_app.complete_sync(intent, error)
            if state is SyncState.REQUESTED:
                log.warning("%s requested, answer unknown (%s): it is not sent again", sync.label, error)
            else:
                log.warning("%s refused by Meta: %s", sync.label, error)
        except BaseException as exc:  # sent, answer unknown: recorded as such, never resent
            store.business_app.complete_sync(
                intent, GraphApiError.transport(type(exc).__name__, operation="request_sync")
            )
            raise
        else:
            state = store.business_app.complete_sync(intent, None)
            log.info("%s requested (Meta's request id %s)", sync.label, request_id)
        syncs = syncs.with_state(sync, state)
    return _report(store, channel_id, sent, f"{sent} sync request(s) sent")


def _report(store: ChannelStore, channel_id: int, sent: int, what: str) -> SyncReport:
    channel = store.channels.by_id(channel_id)
    assert channel is not None
    states = {sync: channel.syncs.state(sync) for sync in SYNC_ORDER}
    words = "; ".join(
        f"{sync.label}: {SYNC_STATE_WORDS[state]}" for sync, state in states.items() if state is not None
    )
    return SyncReport(
        channel_id=channel.id,
        phone_number_id=channel.phone_number_id,
        sync_calls=sent,
        contacts_sync=None if channel.contacts_sync is None else channel.contacts_sync.value,
        history_sync=None if channel.history_sync is None else channel.history_sync.value,
        message=f"{what}; {words}" if words else what,
    )
