"""One run per Embedded Signup: exchange, save, check, subscribe, sync, wait for the name, register, verify.

Started by the signup intake (``POST /whatsapp/api/v1/signups``) with conf ``{"signup_id"}``:
the code stays encrypted in the channel store. Airflow's REST API (the trigger form included)
takes only that form: the plugin refuses a conf with a ``code`` there, before Airflow keeps it in
the run's conf and its event log, where every user who may read this DAG's runs would read it.
``dag.test()`` and ``airflow dags trigger -c`` also take the signup itself, conf
``{"account_id", "code", "business_id", "waba_id"[, "phone_number_id", "inbox_id", "event"]}``.
Either form takes ``name_poke_interval`` and ``name_wait_timeout``. ``event`` says how Embedded
Signup ended: a ``FINISH_ONLY_WABA`` run ends after saving the token (no number, no channel); a
WhatsApp Business app number (``FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING``, or any number Graph
reads ``is_on_biz_app``) gets its contacts and chat-history syncs requested once each and is never
sent ``/register`` (docs/business-app-numbers.md). This file only wires: the steps live in the
``whatsapp`` provider.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
from whatsapp.domain.signup import ONBOARDING_FIELDS
from whatsapp.operators.business_app import WhatsAppBusinessAppSyncOperator
from whatsapp.operators.health import WhatsAppHealthCheckOperator
from whatsapp.operators.onboarding import (
    WhatsAppPhoneInfoOperator,
    WhatsAppSignupOperator,
    WhatsAppTokenAccessOperator,
    WhatsAppValidateSignupOperator,
    WhatsAppWebhookSubscriptionOperator,
)
from whatsapp.operators.registration import WhatsAppRegisterOperator
from whatsapp.sensors.display_name import WhatsAppDisplayNameSensor


@dag(
    dag_id="whatsapp_onboarding",
    schedule=None,
    # Only ever triggered (a signup, a button, a person): paused, its runs would wait unseen, and
    # a signup code lives 30 s. The hourly whatsapp_fleet_health stays paused until you unpause it.
    is_paused_upon_creation=False,
    catchup=False,
    max_active_runs=16,
    tags=["whatsapp"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    # One Param per accepted key, its JSON schema built from the rules the first task enforces
    # (whatsapp.domain.signup). Airflow validates each key on its own and takes undeclared keys
    # without a schema; the rules across keys (required fields, no extra key, signup_id alone)
    # are applied at the REST door by whatsapp.api.conf_guard, and by the first task.
    params={
        rule.name: Param(
            rule.default, **rule.schema(nullable=rule.default is None), description=rule.description
        )
        for rule in ONBOARDING_FIELDS
    },
    render_template_as_native_obj=True,
)
def whatsapp_onboarding() -> None:
    validate = WhatsAppValidateSignupOperator(task_id="validate", retries=0)
    signup = WhatsAppSignupOperator(task_id="exchange_and_save")
    phone = WhatsAppPhoneInfoOperator(task_id="phone_info", signup=signup.output)
    access = WhatsAppTokenAccessOperator(task_id="check_token_access", channel=phone.output)
    webhooks = WhatsAppWebhookSubscriptionOperator(task_id="subscribe_webhooks", channel=phone.output)
    syncs = WhatsAppBusinessAppSyncOperator(task_id="sync_business_app", channel=phone.output)
    display_name = WhatsAppDisplayNameSensor(
        task_id="wait_for_display_name",
        channel=phone.output,
        name_poke_interval="{{ params.name_poke_interval }}",
        name_wait_timeout="{{ params.name_wait_timeout }}",
    )
    register = WhatsAppRegisterOperator(task_id="register", channel=phone.output)
    health = WhatsAppHealthCheckOperator(task_id="check_health", channel=phone.output)

    validate >> signup >> phone >> access >> webhooks >> syncs >> display_name >> register >> health


whatsapp_onboarding()
