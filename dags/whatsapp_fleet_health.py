"""Hourly: audit every channel's health, retry stuck registrations with backoff, summarise.

The audit maps over shards so several workers share a large fleet: ``audit_shards`` of them, or
by default (0) one per 50,000 active channels. Due
registrations (up to ``max_registrations``) map over at most ``max_retry_tasks`` tasks: one per
number (named by it) while they fit, chunks of consecutive numbers (named by the first and last)
beyond that, so a backlog of thousands drains in one run. Retried by Airflow on transient Graph
errors, never beyond the provider's share of Meta's register allowance per number.

The summary is published as the ``whatsapp_fleet_summary`` Asset (DAGs scheduled on it run after
each fleet run) and as ``whatsapp.*`` metrics; channels that newly need a person are announced
once through the configured notifiers (``whatsapp.notifiers``); health history older than
``history_days`` is pruned.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
from whatsapp.operators.fleet import (
    AUDIT_MAP_INDEX_TEMPLATE,
    RETRY_MAP_INDEX_TEMPLATE,
    WhatsAppAuditShardsOperator,
    WhatsAppDueRegistrationsOperator,
    WhatsAppFleetAuditOperator,
    WhatsAppFleetSummaryOperator,
    WhatsAppNotifyFlagsOperator,
    WhatsAppPruneHistoryOperator,
    WhatsAppRegisterChannelsOperator,
)


@dag(
    dag_id="whatsapp_fleet_health",
    schedule=timedelta(hours=1),
    start_date=None,
    catchup=False,
    max_active_runs=1,
    tags=["whatsapp"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "stale_after_minutes": Param(
            0,
            type="integer",
            minimum=0,
            description="Audit only channels not checked within this window (0: all)",
        ),
        "audit_shards": Param(
            0,
            type="integer",
            minimum=0,
            maximum=64,
            description="Mapped audit tasks (0: one per 50,000 active channels)",
        ),
        "max_registrations": Param(
            10_000, type="integer", minimum=0, description="Registration retries per run"
        ),
        "max_retry_tasks": Param(
            200,
            type="integer",
            minimum=1,
            maximum=1024,  # Airflow's [core] max_map_length
            description="Mapped retry tasks per run; more due numbers are chunked across them",
        ),
        "history_days": Param(
            90,
            type="integer",
            minimum=1,
            description="Days of health history, summaries and signup intake rows to keep",
        ),
    },
)
def whatsapp_fleet_health() -> None:
    shards = WhatsAppAuditShardsOperator(task_id="audit_shards", shards="{{ params.audit_shards }}")
    audit = WhatsAppFleetAuditOperator.partial(
        task_id="audit",
        stale_after_minutes="{{ params.stale_after_minutes }}",
        map_index_template=AUDIT_MAP_INDEX_TEMPLATE,
    ).expand_kwargs(shards.output)
    # A failed audit shard must not stop the retries: each one re-reads live health anyway.
    due = WhatsAppDueRegistrationsOperator(
        task_id="due_registrations",
        limit="{{ params.max_registrations }}",
        max_tasks="{{ params.max_retry_tasks }}",
        trigger_rule="all_done",
    )
    retry = WhatsAppRegisterChannelsOperator.partial(
        task_id="retry_registration", map_index_template=RETRY_MAP_INDEX_TEMPLATE
    ).expand(channels=due.output)
    summary = WhatsAppFleetSummaryOperator(task_id="summary", trigger_rule="all_done")
    notify = WhatsAppNotifyFlagsOperator(task_id="notify_flags")
    prune = WhatsAppPruneHistoryOperator(
        task_id="prune_history", history_days="{{ params.history_days }}", trigger_rule="all_done"
    )

    audit >> due
    retry >> summary >> [notify, prune]


whatsapp_fleet_health()
