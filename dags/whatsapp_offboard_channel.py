"""Offboard a channel: deregister the number, deactivate the channel, unsubscribe the app.

Trigger with conf ``{"account_id": 1, "inbox_id": 7}``. ``/deregister`` is sent once (Meta
allows 10 per 72 h; recorded before it leaves). The channel is kept with its history but
skipped by audits, retries and the fleet view; the app leaves the WABA only when no other
active channel uses it. Onboarding the number again makes the channel active again.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
from whatsapp.domain.signup import ACCOUNT_ID, INBOX_ID
from whatsapp.operators.fleet import WhatsAppResolveChannelOperator
from whatsapp.operators.lifecycle import WhatsAppDeregisterOperator, WhatsAppOffboardOperator


@dag(
    dag_id="whatsapp_offboard_channel",
    schedule=None,
    catchup=False,
    tags=["whatsapp"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "account_id": Param(**ACCOUNT_ID.schema(), description=ACCOUNT_ID.description),
        "inbox_id": Param(**INBOX_ID.schema(), description="The channel's inbox"),
    },
)
def whatsapp_offboard_channel() -> None:
    channel = WhatsAppResolveChannelOperator(
        task_id="resolve_channel",
        account_id="{{ params.account_id }}",
        inbox_id="{{ params.inbox_id }}",
        retries=0,
    )
    deregister = WhatsAppDeregisterOperator(task_id="deregister", channel=channel.output)
    offboard = WhatsAppOffboardOperator(task_id="deactivate_and_unsubscribe", channel=channel.output)
    deregister >> offboard


whatsapp_offboard_channel()
