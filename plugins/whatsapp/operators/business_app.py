"""WhatsApp Business app numbers: request the contacts and chat-history syncs, once each.

Thin glue over :func:`whatsapp.request_syncs.request_due_syncs` (which syncs, in which order,
until when, each written ahead in the store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from whatsapp.operators.base import WhatsAppChannelOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class WhatsAppBusinessAppSyncOperator(WhatsAppChannelOperator):
    """``POST /{phone_number_id}/smb_app_data``: the contacts, then the chat history, once each.

    Meta allows one request of each within 24 hours of onboarding
    (https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users).
    A retry, a second onboarding of the number or a task killed mid-call sends nothing again: a
    request whose answer was lost stays "requested, answer unknown". Any other number has
    nothing to sync and passes through; a refused sync is recorded on the channel and does not
    stop the onboarding (the number works without it).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.request_syncs import request_due_syncs

        with self.open_store() as store:
            channel = self.load_channel(store, context)
            report = request_due_syncs(self.hook, store, channel.id, run_id=context["run_id"])
        self.log.info("%s: %s", channel.phone_number_id, report.message)
        return report.to_dict()
