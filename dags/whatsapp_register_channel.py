"""Register one channel now (the *Complete registration* button): bypasses backoff, never the 72 h budget.

Trigger with conf ``{"account_id": 1, "inbox_id": 7}``.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
from whatsapp.domain.signup import ACCOUNT_ID, INBOX_ID
from whatsapp.operators.fleet import WhatsAppResolveChannelOperator
from whatsapp.operators.health import WhatsAppHealthCheckOperator
from whatsapp.operators.registration import WhatsAppRegisterOperator


@dag(
    dag_id="whatsapp_register_channel",
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
def whatsapp_register_channel() -> None:
    channel = WhatsAppResolveChannelOperator(
        task_id="resolve_channel",
        account_id="{{ params.account_id }}",
        inbox_id="{{ params.inbox_id }}",
        retries=0,
    )
    register = WhatsAppRegisterOperator(task_id="register", channel=channel.output, respect_backoff=False)
    health = WhatsAppHealthCheckOperator(task_id="check_health", channel=channel.output)
    register >> health


whatsapp_register_channel()
