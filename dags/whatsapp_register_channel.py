"""Register one channel now (the *Complete registration* button): bypasses backoff, never the 72 h budget.

Trigger with conf ``{"account_id": 1, "inbox_id": 7}``.
"""

from __future__ import annotations

from airflow.sdk import dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
from whatsapp.operators.channel import WhatsAppResolveChannelOperator, one_channel_params
from whatsapp.operators.health import WhatsAppHealthCheckOperator
from whatsapp.operators.registration import WhatsAppRegisterOperator


@dag(
    dag_id="whatsapp_register_channel",
    schedule=None,
    # Only ever triggered (a signup, a button, a person): paused, its runs would wait unseen, and
    # a signup code lives 30 s. The hourly whatsapp_fleet_health stays paused until you unpause it.
    is_paused_upon_creation=False,
    catchup=False,
    tags=["whatsapp"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params=one_channel_params(),
)
def whatsapp_register_channel() -> None:
    channel = WhatsAppResolveChannelOperator()
    register = WhatsAppRegisterOperator(task_id="register", channel=channel.output, respect_backoff=False)
    health = WhatsAppHealthCheckOperator(task_id="check_health", channel=channel.output)
    register >> health


whatsapp_register_channel()
