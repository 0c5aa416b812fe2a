"""Ask Meta for a new display name for a live channel, within Meta's allowance of name changes.

Trigger with conf ``{"account_id": 1, "inbox_id": 7, "new_display_name": "Acme Support"}``.
The name is checked (its length, one line) and the allowance counted before anything is sent;
a refusal says the numbers. Meta reviews the name; once approved the number must register again
before a deadline, which the hourly fleet DAG does (the deadline shows on the page and in
``whatsapp-fleet show``).
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
from whatsapp.domain.registration_machine import DISPLAY_NAME_MAX_LENGTH, DISPLAY_NAME_MIN_LENGTH
from whatsapp.operators.channel import WhatsAppResolveChannelOperator, one_channel_params
from whatsapp.operators.lifecycle import WhatsAppChangeDisplayNameOperator


@dag(
    dag_id="whatsapp_change_display_name",
    schedule=None,
    # Only ever triggered (a signup, a button, a person): paused, its runs would wait unseen, and
    # a signup code lives 30 s. The hourly whatsapp_fleet_health stays paused until you unpause it.
    is_paused_upon_creation=False,
    catchup=False,
    tags=["whatsapp"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        **one_channel_params(),
        "new_display_name": Param(
            type="string",
            minLength=DISPLAY_NAME_MIN_LENGTH,
            maxLength=DISPLAY_NAME_MAX_LENGTH,
            description="The name Meta should review",
        ),
    },
)
def whatsapp_change_display_name() -> None:
    channel = WhatsAppResolveChannelOperator()
    WhatsAppChangeDisplayNameOperator(
        task_id="request_display_name",
        channel=channel.output,
        new_display_name="{{ params.new_display_name }}",
    )


whatsapp_change_display_name()
