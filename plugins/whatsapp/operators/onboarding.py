"""The onboarding steps before registration: validate, exchange + save, phone info, access, webhooks.

Each operator does one step of the onboarding (docs/dags-and-operators.md), is safe to retry and
to re-run, and passes only ids on. A run's signup is either stored by the intake (conf
``{"signup_id"}``: the code is read from the store, encrypted there, only by the exchange step)
or given raw in the conf; the code is read at execute time, never as a template field, so it is
not rendered into Airflow's rendered-fields table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk.exceptions import AirflowSkipException

from whatsapp.domain.business_app import BUSINESS_APP_LABEL
from whatsapp.domain.registration import ReauthorizationReason
from whatsapp.domain.registration_machine import CustomerMustReauthorize
from whatsapp.domain.signup import CODE_LIFETIME, InvalidSignupError, OnboardingConf, SignupEvent, SignupIds
from whatsapp.errors import GraphApiError
from whatsapp.operators.base import MANAGER_LINK, WhatsAppBaseOperator, WhatsAppChannelOperator, channel_ref

if TYPE_CHECKING:
    from airflow.sdk import Context

    from whatsapp.store import ChannelStore
    from whatsapp.store.signups import PendingSignup


def _onboarding_conf(operator: WhatsAppBaseOperator, context: Context) -> OnboardingConf:
    try:
        return OnboardingConf.from_params(context["params"])
    except InvalidSignupError as error:
        operator.fail("invalid onboarding conf", error)


def _pending_signup(operator: WhatsAppBaseOperator, store: ChannelStore, signup_id: str) -> PendingSignup:
    pending = store.signups.pending(signup_id)
    if pending is None:
        operator.fail("unknown signup", f"no signup {signup_id} in the channel store")
    return pending


def _signup_ids(operator: WhatsAppBaseOperator, conf: OnboardingConf, store: ChannelStore) -> SignupIds:
    """The signup's ids: from the conf, or from the intake's row for a ``signup_id``."""
    if conf.signup is not None:
        return conf.signup.ids
    return _pending_signup(operator, store, str(conf.signup_id)).ids


class WhatsAppValidateSignupOperator(WhatsAppBaseOperator):
    """Step 1: reject a bad conf before any Graph call or store write, naming the param.

    For a ``signup_id`` it also checks the intake stored that signup (the intake validated
    its fields with the same rules).
    """

    operator_extra_links = MANAGER_LINK

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.log import mask_secret

        conf = _onboarding_conf(self, context)
        if conf.signup is not None:
            mask_secret(conf.signup.code)
            ids = conf.signup.ids
        else:
            with self.open_store() as store:
                ids = _signup_ids(self, conf, store)
        self.log.info(
            "Onboarding account %s, WABA %s (business %s), number %s, signup ended %s%s%s",
            ids.account_id,
            ids.waba_id,
            ids.business_id,
            ids.phone_number_id or "(found on the WABA)",
            ids.event.value,
            f", reauthorizing inbox {ids.inbox_id}" if ids.inbox_id else "",
            f", signup {conf.signup_id} from the intake" if conf.signup_id else "",
        )
        self.publish_link(context, ids.business_id, ids.waba_id)
        return {"account_id": ids.account_id, "waba_id": ids.waba_id, "business_id": ids.business_id}


class WhatsAppSignupOperator(WhatsAppBaseOperator):
    """Step 2: exchange the single-use code for a token and save it encrypted, once.

    The store remembers the token under the code's digest, so a retry after a successful
    exchange, or a second run for the same signup, never spends the code again. An intake
    signup's code is deleted from the store once spent or refused by Meta, and when read more
    than Meta's 30 s lifetime after it arrived (the task then fails: the customer must sign up
    again). Returns the code's digest (not a secret: a one-way hash of a spent code).
    """

    operator_extra_links = MANAGER_LINK

    def execute(self, context: Context) -> str:
        from airflow.sdk.log import mask_secret

        from whatsapp.store import code_digest

        conf = _onboarding_conf(self, context)
        with self.open_store() as store:
            code: str | None
            if conf.signup is not None:
                ids, code, digest = conf.signup.ids, conf.signup.code, code_digest(conf.signup.code)
            else:
                pending = _pending_signup(self, store, str(conf.signup_id))
                ids, code, digest = pending.ids, None, pending.code_digest  # code read only if needed
            if store.signups.get(digest) is not None:
                self.log.info("Signup code already exchanged by an earlier try: reusing its saved token")
            else:
                if code is None:
                    code = self._stored_code(store, str(conf.signup_id))
                mask_secret(code)
                try:
                    token = self.hook.exchange_code(code)
                except GraphApiError as error:
                    if conf.signup_id is not None and not error.retryable:
                        store.signups.forget_code(conf.signup_id)  # Meta refused it: it is of no use
                    self.graph_failure("exchanging the signup code", error)
                store.signups.save(
                    digest,
                    account_id=ids.account_id,
                    waba_id=ids.waba_id,
                    business_id=ids.business_id,
                    access_token=token,
                    event=ids.event,
                )
                self.log.info("Exchanged the signup code and saved the token (encrypted)")
            if conf.signup_id is not None:
                store.signups.forget_code(conf.signup_id)
        self.publish_link(context, ids.business_id, ids.waba_id)
        return digest

    def _stored_code(self, store: ChannelStore, signup_id: str) -> str:
        code = store.signups.take_code(signup_id)
        if code is None:
            self.fail(
                "signup code unavailable",
                f"the code of signup {signup_id} is gone: not exchanged within Meta's "
                f"{int(CODE_LIFETIME.total_seconds())} s lifetime, or refused by Meta earlier "
                "(it is deleted then); the customer must complete Embedded Signup again",
            )
        return code


class WhatsAppPhoneInfoOperator(WhatsAppBaseOperator):
    """Step 3: find the number on the WABA (``GET /{waba_id}/phone_numbers``) and save the channel.

    Without a ``phone_number_id`` (a WhatsApp Business app signup's message carries only the
    WABA id) the WABA's only number is taken, or among several the one no active channel holds.
    A ``phone_number_id`` that is not on the WABA, several candidates, or a reauthorization whose
    inbox holds another number, fails before anything is written (the token stays saved, so a
    re-run exchanges nothing). A ``FINISH_ONLY_WABA`` signup added no number: the token and WABA
    are saved, no channel is made, and the run ends here (the later steps are skipped).
    A number Graph reads ``is_on_biz_app`` is saved as a WhatsApp Business app number.
    """

    operator_extra_links = MANAGER_LINK

    template_fields = ("signup",)

    def __init__(self, *, signup: str | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.signup = signup

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.store import ChannelConflictError, ChannelNotFoundError

        conf = _onboarding_conf(self, context)
        with self.open_store() as store:
            request = _signup_ids(self, conf, store)
            stored = store.signups.get(str(self.signup))
            if stored is None:
                self.fail("no saved signup", "the signup step has not saved a token for this run's code")
            if not request.number_expected:
                message = (
                    f"Embedded Signup ended with FINISH_ONLY_WABA: the token and WABA {request.waba_id} "
                    "are saved, but the customer added no phone number, so there is no channel yet. "
                    "The customer adds a number in WhatsApp Manager, then signs up again to onboard it"
                )
                self.log.warning(message)
                raise AirflowSkipException(message)
            try:
                numbers = self.hook.list_phone_numbers(request.waba_id, stored.access_token)
            except GraphApiError as error:
                # A reauthorization whose new token is already dead keeps its channel flagged.
                existing = (
                    store.channels.get(request.account_id, request.inbox_id) if request.inbox_id else None
                )
                self.graph_failure(
                    f"listing the phone numbers of WABA {request.waba_id}",
                    error,
                    store=store,
                    channel_id=existing.id if existing else None,
                )
            number = self._pick(numbers, request, store)
            on_app = number.get("is_on_biz_app") is True
            if request.event is SignupEvent.FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING and not on_app:
                self.log.warning(
                    "The signup says WhatsApp Business app, but Graph reads %s as is_on_biz_app false: "
                    "onboarding it as a Cloud API number",
                    number.get("id"),
                )
            try:
                channel = store.channels.upsert(
                    account_id=request.account_id,
                    phone_number_id=str(number["id"]),
                    waba_id=request.waba_id,
                    business_id=request.business_id,
                    access_token=stored.access_token,
                    display_phone_number=number.get("display_phone_number"),
                    verified_name=number.get("verified_name"),
                    inbox_id=request.inbox_id,
                    on_business_app=on_app,
                )
            except (ChannelConflictError, ChannelNotFoundError) as error:
                self.fail("cannot save the channel", error)
            store.signups.set_phone_number(stored.code_digest, channel.phone_number_id)
        self.publish_link(context, channel.business_id, channel.waba_id)
        self.log.info(
            "Channel saved: account %s inbox %s, number %s (%s), name status %s%s",
            channel.account_id,
            channel.inbox_id,
            channel.phone_number_id,
            channel.display_phone_number,
            number.get("name_status"),
            f", {BUSINESS_APP_LABEL} (syncs until {channel.sync_deadline:%Y-%m-%d %H:%M} UTC)"
            if channel.business_app and channel.sync_deadline
            else "",
        )
        return channel_ref(channel)

    def _pick(self, numbers: list[dict[str, Any]], request: SignupIds, store: ChannelStore) -> dict[str, Any]:
        if not numbers:
            self.fail("no phone number", f"WABA {request.waba_id} has no phone numbers")
        if request.phone_number_id is None:
            return self._unclaimed(numbers, request, store)
        for number in numbers:
            if str(number.get("id")) == request.phone_number_id:
                return number
        on_waba = ", ".join(str(n.get("id")) for n in numbers[:10])
        self.fail(
            "phone number not on the WABA",
            f"param 'phone_number_id' {request.phone_number_id} is not on WABA {request.waba_id}"
            f" (it has: {on_waba})",
        )

    def _unclaimed(
        self, numbers: list[dict[str, Any]], request: SignupIds, store: ChannelStore
    ) -> dict[str, Any]:
        """The WABA's only number, or the only one no active channel holds; else fail, listing them."""
        if len(numbers) == 1:
            return numbers[0]
        held = store.channels.held_numbers([str(n.get("id")) for n in numbers])
        free = [n for n in numbers if str(n.get("id")) not in held]
        if len(free) == 1:
            self.log.info(
                "WABA %s has %d numbers; %s is the one no channel holds yet",
                request.waba_id,
                len(numbers),
                free[0]["id"],
            )
            return free[0]
        listed = ", ".join(
            f"{n.get('id')} ({n.get('display_phone_number') or 'no number shown'}"
            f"{', held by a channel' if str(n.get('id')) in held else ''})"
            for n in numbers[:20]
        )
        self.fail(
            "which phone number?",
            f"the signup names no phone number and WABA {request.waba_id} has {len(numbers)}, "
            f"{len(free)} of them held by no channel: {listed}. Nothing was saved but the token; run the "
            "onboarding again with param 'phone_number_id' set to one of them",
        )


class WhatsAppTokenAccessOperator(WhatsAppChannelOperator):
    """Step 4: ``debug_token`` proves the business token may manage this WABA.

    Newer Embedded Signup tokens carry ``whatsapp_business_manage_events`` instead of
    ``whatsapp_business_management``; either one naming the WABA is enough.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        with self.open_store() as store:
            channel = self.load_channel(store, context)
            token = store.channels.credentials(channel.id).access_token
            now = pendulum.now("UTC")
            try:
                info = self.hook.debug_token(token)
            except GraphApiError as error:
                self.graph_failure("checking the token's access", error, store=store, channel_id=channel.id)
            if not info.is_valid:
                store.channels.apply(
                    channel.id, CustomerMustReauthorize(ReauthorizationReason.TOKEN_INVALID, now)
                )
                self.fail("token check", "debug_token says the business token is not valid")
            if not info.has_waba_access(channel.waba_id):
                store.channels.apply(
                    channel.id, CustomerMustReauthorize(ReauthorizationReason.PERMISSION_REVOKED, now)
                )
                self.fail(
                    "token check",
                    f"the token has no whatsapp_business_management or whatsapp_business_manage_events "
                    f"scope on WABA {channel.waba_id} (scopes: {', '.join(info.scopes) or 'none'})",
                )
        scopes = sorted(s for s, ids in info.granular_scopes.items() if channel.waba_id in ids)
        self.log.info("Token may manage WABA %s through %s", channel.waba_id, ", ".join(scopes))
        return {"waba_id": channel.waba_id, "scopes": scopes}


class WhatsAppWebhookSubscriptionOperator(WhatsAppChannelOperator):
    """Step 5: subscribe the app to the WABA, then point the number's webhooks at us.

    The order matters: Meta refuses an override (#100) until the app is subscribed. Without a
    ``callback_url`` on the connection, the app-level callback is used and no override is set.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        with self.open_store() as store:
            channel = self.load_channel(store, context)
            credentials = store.channels.credentials(channel.id)
            callback_base = self.hook.settings.callback_url
            try:
                self.hook.subscribe_app(channel.waba_id, credentials.access_token)
                self.log.info("App subscribed to WABA %s", channel.waba_id)
                if callback_base:
                    callback = f"{callback_base.rstrip('/')}/{channel.phone_number_id}"
                    self.hook.set_webhook_override(
                        channel.phone_number_id, credentials.access_token, callback, credentials.verify_token
                    )
                    self.log.info("Webhooks of %s routed to %s", channel.phone_number_id, callback)
                else:
                    callback = None
                    self.log.warning("Connection has no callback_url: the app-level callback stays in use")
            except GraphApiError as error:
                self.graph_failure("subscribing webhooks", error, store=store, channel_id=channel.id)
        return {"waba_id": channel.waba_id, "override_callback_uri": callback}
