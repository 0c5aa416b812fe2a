"""After onboarding: ask Meta for a new display name; offboard a channel.

Thin glue: the rules live in :mod:`whatsapp.domain.registration_machine` (name validation, what an approved
change leads to), the allowances and their write-ahead records in
:mod:`whatsapp.store.lifecycle_calls`, the requests in the hook. The follow-up of a name change
(Meta's review, the re-registration before the deadline) belongs to the fleet DAG (and the webhook).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk.exceptions import AirflowSkipException

from whatsapp.domain.registration import DEREGISTER_DONE_CODES, NAME_CHANGE_WINDOW, span_words
from whatsapp.domain.registration_machine import (
    DisplayNameInvalid,
    NameChangeRequested,
    validate_display_name,
)
from whatsapp.errors import GraphApiError
from whatsapp.operators.base import WhatsAppChannelOperator

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import Context

    from whatsapp.store import Channel, ChannelStore


class WhatsAppChangeDisplayNameOperator(WhatsAppChannelOperator):
    """``POST /{phone_number_id}`` with ``new_display_name``, within Meta's ``NAME_CHANGE_ALLOWANCE``.

    The name is validated and the allowance checked before any Graph call. Once Meta approves,
    the fleet DAG registers the number again within ``NAME_CHANGE_WINDOW`` (see the lifecycle).
    """

    template_fields = ("channel", "new_display_name")

    def __init__(self, *, new_display_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.new_display_name = new_display_name

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.store.lifecycle_calls import NAME_CHANGE  # the store is not imported at parse time

        try:
            name = validate_display_name(str(self.new_display_name))
        except DisplayNameInvalid as invalid:
            self.fail("invalid display name", invalid)
        with self.open_store() as store:
            channel = self.load_channel(store, context)
            token = store.channels.credentials(channel.id).access_token
            _spend(
                self,
                store,
                channel,
                NAME_CHANGE,
                context["run_id"],
                name,
                lambda: self.hook.request_display_name(channel.phone_number_id, token, name),
            )
            store.channels.apply(channel.id, NameChangeRequested(pendulum.now("UTC")))
        message = (
            f"asked Meta to rename {channel.phone_number_id} to {name!r}: once approved, the fleet DAG "
            f"registers the number again within {span_words(NAME_CHANGE_WINDOW)}"
        )
        self.log.info(message)
        return {"channel_id": channel.id, "new_display_name": name, "message": message}


class WhatsAppDeregisterOperator(WhatsAppChannelOperator):
    """``POST /{phone_number_id}/deregister`` once, recorded write-ahead within ``DEREGISTER_ALLOWANCE``.

    One run offboards a channel: the deregister claims it in the store before the call (see
    :mod:`whatsapp.store.lifecycle_calls`). A run that finds another run's call in flight, or
    the number deregistered already (the channel offboarded), sends nothing and is skipped with
    its downstream task, so neither ``/deregister`` nor the unsubscription goes out twice. A
    number Meta says is not registered (133010) counts as deregistered.

    A WhatsApp Business app number is never sent ``/deregister``: Meta does not support it for
    these numbers, the customer disconnects from the partner in the app
    (https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users).
    The task says so and the run goes on to deactivate the channel and unsubscribe the app.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.store.lifecycle_calls import DEREGISTER, OffboardingTakenError

        with self.open_store() as store:
            channel = self.load_channel(store, context)
            if channel.business_app is not None:
                self.log.warning("Offboarding of %s: %s", channel.phone_number_id, APP_NUMBER_OFFBOARDING)
                return {"channel_id": channel.id, "deregister_calls": 0, "message": APP_NUMBER_OFFBOARDING}
            token = store.channels.credentials(channel.id).access_token
            try:
                _spend(
                    self,
                    store,
                    channel,
                    DEREGISTER,
                    context["run_id"],
                    None,
                    lambda: self.hook.deregister(channel.phone_number_id, token),
                    done_codes=DEREGISTER_DONE_CODES,
                )
            except OffboardingTakenError as taken:
                if taken.in_flight or taken.run_id != context["run_id"]:
                    self.log.info("Offboarding of %s: %s", channel.phone_number_id, taken)
                    raise AirflowSkipException(f"offboarding of {channel.phone_number_id}: {taken}") from None
                message = "deregistered by an earlier try of this run: nothing sent"
                self.log.info("Offboarding of %s: %s", channel.phone_number_id, message)
                return {"channel_id": channel.id, "deregister_calls": 0, "message": message}
        return {"channel_id": channel.id, "deregister_calls": 1, "message": "deregistered"}


#: What offboarding does for a WhatsApp Business app number, in the run's words.
APP_NUMBER_OFFBOARDING = (
    "a WhatsApp Business app number: Meta takes no /deregister for it, so none was sent. The number "
    "stays on the customer's phone; to disconnect it from this partner the customer opens the WhatsApp "
    "Business app > Settings > Account > Business Platform and disconnects. The provider deactivates "
    "the channel (its history is kept) and unsubscribes the app from the WABA when no other active "
    "channel uses it, so no more webhooks arrive"
)


class WhatsAppOffboardOperator(WhatsAppChannelOperator):
    """Mark the channel inactive, then unsubscribe the app from its WABA if no other active
    channel uses that WABA. Safe to retry: both steps are idempotent."""

    def execute(self, context: Context) -> dict[str, Any]:
        with self.open_store() as store:
            channel = self.load_channel(store, context)
            if channel.active or channel.offboarded_at is None:
                channel = store.channels.offboard(channel.id)
            others = store.channels.others_active_on_waba(channel.waba_id, channel.id)
            unsubscribed = others == 0
            if unsubscribed:
                token = store.channels.credentials(channel.id).access_token
                try:
                    self.hook.unsubscribe_app(channel.waba_id, token)
                except GraphApiError as error:
                    self.graph_failure(f"unsubscribing from WABA {channel.waba_id}", error)
        assert channel.offboarded_at is not None
        message = f"offboarded on {channel.offboarded_at.isoformat()}; " + (
            "app unsubscribed from the WABA"
            if unsubscribed
            else f"WABA kept: {others} other active channel(s)"
        )
        self.log.info(message)
        return {"channel_id": channel.id, "unsubscribed": unsubscribed, "message": message}


def _spend(
    operator: WhatsAppChannelOperator,
    store: ChannelStore,
    channel: Channel,
    call: str,
    run_id: str,
    detail: str | None,
    send: Callable[[], None],
    *,
    done_codes: frozenset[int] = frozenset(),
) -> None:
    """Record the intent (refused: fail, nothing sent), send, record the answer, map errors."""
    from whatsapp.store.lifecycle_calls import CallRefusedError

    try:
        call_id = store.lifecycle_calls.begin(channel.id, call, detail=detail, run_id=run_id)
    except CallRefusedError as refused:
        operator.fail(f"{call} of {channel.phone_number_id} not sent", refused)
    try:
        send()
    except GraphApiError as error:
        store.lifecycle_calls.complete(call_id, error)
        if error.code in done_codes:
            operator.log.info("%s of %s: %s (nothing left to do)", call, channel.phone_number_id, error)
            return
        operator.graph_failure(
            f"{call} of {channel.phone_number_id}", error, store=store, channel_id=channel.id
        )
    except BaseException as exc:  # sent, answer unknown: it still counts
        store.lifecycle_calls.complete(call_id, GraphApiError.transport(type(exc).__name__, operation=call))
        raise
    store.lifecycle_calls.complete(call_id, None)
