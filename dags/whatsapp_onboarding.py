"""One run per Embedded Signup: exchange, save, check, subscribe, wait for the name, register, verify.

Trigger with conf ``{"account_id", "code", "business_id", "waba_id"[, "phone_number_id",
"inbox_id", "name_poke_interval", "name_wait_timeout"]}``. This file only wires: the
steps live in the ``whatsapp`` provider.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
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

DIGITS = "^[0-9]+$"


@dag(
    dag_id="whatsapp_onboarding",
    schedule=None,
    catchup=False,
    max_active_runs=16,
    tags=["whatsapp"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "account_id": Param(type="integer", minimum=1, description="Tenant that owns the channel"),
        "code": Param(type="string", minLength=1, description="Embedded Signup code (secret, single use)"),
        "business_id": Param(type="string", pattern=DIGITS, description="Meta business portfolio id"),
        "waba_id": Param(type="string", pattern=DIGITS, description="WhatsApp Business Account id"),
        "phone_number_id": Param(
            None,
            type=["null", "string"],
            pattern=DIGITS,
            description="Number to onboard (default: the WABA's first)",
        ),
        "inbox_id": Param(
            None, type=["null", "integer"], minimum=1, description="Reauthorize this existing channel"
        ),
        "name_poke_interval": Param(
            600, type="integer", minimum=1, description="Seconds between name checks"
        ),
        "name_wait_timeout": Param(
            172800,
            type="integer",
            minimum=1,
            description="Seconds to wait before handing over to the fleet DAG",
        ),
    },
    render_template_as_native_obj=True,
)
def whatsapp_onboarding() -> None:
    validate = WhatsAppValidateSignupOperator(task_id="validate", retries=0)
    signup = WhatsAppSignupOperator(task_id="exchange_and_save")
    phone = WhatsAppPhoneInfoOperator(task_id="phone_info", signup=signup.output)
    access = WhatsAppTokenAccessOperator(task_id="check_token_access", channel=phone.output)
    webhooks = WhatsAppWebhookSubscriptionOperator(task_id="subscribe_webhooks", channel=phone.output)
    display_name = WhatsAppDisplayNameSensor(
        task_id="wait_for_display_name",
        channel=phone.output,
        name_poke_interval="{{ params.name_poke_interval }}",
        name_wait_timeout="{{ params.name_wait_timeout }}",
    )
    register = WhatsAppRegisterOperator(task_id="register", channel=phone.output)
    health = WhatsAppHealthCheckOperator(task_id="check_health", channel=phone.output)

    validate >> signup >> phone >> access >> webhooks >> display_name >> register >> health


whatsapp_onboarding()
