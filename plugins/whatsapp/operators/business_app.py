"""WhatsApp Business app numbers: request the contacts and chat-history syncs, once each.

Thin glue over :mod:`whatsapp.domain.business_app` (which sync, in which order, until when) and
:mod:`whatsapp.store.business_app` (each request written ahead, refused when it may not be sent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum

from whatsapp.domain.business_app import SYNC_STATE_WORDS, SyncState
from whatsapp.errors import GraphApiError
from whatsapp.operators.base import WhatsAppChannelOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from whatsapp.store import Channel, ChannelStore


class WhatsAppBusinessAppSyncOperator(WhatsAppChannelOperator):
    """``POST /{phone_number_id}/smb_app_data``: the contacts, then the chat history, once each.

    Meta allows one request of each within 24 hours of onboarding
    (https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users).
    Each request is committed in the store before it leaves, so a retry, a second onboarding of
    the number or a task killed mid-call sends nothing again: a request whose answer was lost
    stays "requested, answer unknown". Any other number has nothing to sync and passes through;
    a refused sync is recorded on the channel and does not stop the onboarding (the number works
    without it).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        with self.open_store() as store:
            channel = self.load_channel(store, context)
            if channel.business_app is None:
                message = "not a WhatsApp Business app number: nothing to sync"
                self.log.info("%s (%s)", message, channel.phone_number_id)
                return {"channel_id": channel.id, "sync_calls": 0, "message": message}
            sent = self._request_due_syncs(store, channel, context["run_id"])
            channel = store.channels.by_id(channel.id) or channel
        states = {"contacts": channel.contacts_sync, "history": channel.history_sync}
        words = ", ".join(
            f"{name} {SYNC_STATE_WORDS[state] if state else 'not tracked'}" for name, state in states.items()
        )
        message = f"{sent} sync request(s) sent; {words}"
        self.log.info("WhatsApp Business app number %s: %s", channel.phone_number_id, message)
        return {
            "channel_id": channel.id,
            "sync_calls": sent,
            **{f"{name}_sync": None if state is None else state.value for name, state in states.items()},
            "message": message,
        }

    def _request_due_syncs(self, store: ChannelStore, channel: Channel, run_id: str) -> int:
        """Send every sync still due, contacts first; how many requests left."""
        from whatsapp.store.business_app import SyncRefusedError

        token = store.channels.credentials(channel.id).access_token
        sent = 0
        syncs = channel.syncs
        while (sync := syncs.next_due(pendulum.now("UTC"))) is not None:
            try:
                intent = store.business_app.begin_sync(channel.id, sync, run_id=run_id)
            except SyncRefusedError as refused:
                self.log.info("%s not requested: %s", sync.label, refused)
                break
            sent += 1
            try:
                request_id = self.hook.request_sync(channel.phone_number_id, token, sync.value)
            except GraphApiError as error:
                state = store.business_app.complete_sync(intent, error)
                syncs = syncs.with_state(sync, state)
                if state is SyncState.REQUESTED:
                    self.log.warning(
                        "%s requested, answer unknown (%s): it is not sent again", sync.label, error
                    )
                else:
                    self.log.warning("%s refused by Meta: %s", sync.label, error)
                continue
            except BaseException as exc:  # sent, answer unknown: recorded as such, never resent
                lost = GraphApiError.transport(type(exc).__name__, operation="request_sync")
                store.business_app.complete_sync(intent, lost)
                raise
            syncs = syncs.with_state(sync, store.business_app.complete_sync(intent, None))
            self.log.info("%s requested (Meta's request id %s)", sync.label, request_id)
        return sent
