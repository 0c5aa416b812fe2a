"""Offboard a channel: deregister the number, deactivate the channel, unsubscribe the app.

Trigger with conf ``{"account_id": 1, "inbox_id": 7}``. ``/deregister`` is sent once (within Meta's
allowance; recorded before it leaves). The channel is kept with its history but
skipped by audits, retries and the fleet view; the app leaves the WABA only when no other
active channel uses it. Onboarding the number again makes the channel active again.
"""

from __future__ import annotations

from airflow.sdk import dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
from whatsapp.operators.channel import WhatsAppResolveChannelOperator, one_channel_params
from whatsapp.operators.lifecycle import WhatsAppDeregisterOperator, WhatsAppOffboardOperator


@dag(
    dag_id="whatsapp_offboard_channel",
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
def whatsapp_offboard_channel() -> None:
    channel = WhatsAppResolveChannelOperator()
    deregister = WhatsAppDeregisterOperator(task_id="deregister", channel=channel.output)
    offboard = WhatsAppOffboardOperator(task_id="deactivate_and_unsubscribe", channel=channel.output)
    deregister >> offboard


whatsapp_offboard_channel()
