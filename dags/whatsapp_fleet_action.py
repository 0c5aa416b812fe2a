"""Act on many channels at once (the health page's selection): refresh from Meta, or register.

Queued by ``POST /whatsapp/api/v1/fleet/actions`` (the page's action bar), or triggered with conf
``{"action": "refresh", "channels": [{"account_id": 1, "inbox_id": 7}, ...]}`` or
``{"action": "register", "filter": {"situation": ["registration_pending"]}}`` (the filters of
``GET /fleet``). ``select_channels`` resolves the selection and splits it into chunks of
``chunk_size``; ``act`` maps over the chunks (named by their first and last number), each number
going the way the single action goes: a refresh reads health in Graph batches and stores it; a
registration skips provisioned, WhatsApp Business app and blocked (133016) numbers with the
reason and otherwise takes the one register path (live health first, never beyond the budget).
``summary`` returns each number's outcome.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from whatsapp.defaults import GRAPH_TASK_DEFAULTS
from whatsapp.domain.fleet_action import DEFAULT_CHUNK_SIZE, MAX_CHANNELS, MAX_CHUNK_SIZE, FleetAction
from whatsapp.operators.fleet import RETRY_MAP_INDEX_TEMPLATE
from whatsapp.operators.fleet_action import (
    WhatsAppFleetActionOperator,
    WhatsAppFleetActionSummaryOperator,
    WhatsAppFleetSelectionOperator,
)


@dag(
    dag_id="whatsapp_fleet_action",
    schedule=None,
    # Only ever triggered (a person's selection on the page): paused, its runs would wait unseen.
    is_paused_upon_creation=False,
    catchup=False,
    tags=["whatsapp"],
    doc_md=__doc__,
    default_args=GRAPH_TASK_DEFAULTS,
    params={
        "action": Param(
            FleetAction.REFRESH.value, enum=[action.value for action in FleetAction], description="What to do"
        ),
        "channels": Param(
            None,
            type=["null", "array"],
            maxItems=MAX_CHANNELS,
            description="The channels, as [{account_id, inbox_id}]; or give filter",
        ),
        "filter": Param(
            None, type=["null", "object"], description="Every channel this matches (GET /fleet's filters)"
        ),
        "chunk_size": Param(
            DEFAULT_CHUNK_SIZE,
            type="integer",
            minimum=1,
            maximum=MAX_CHUNK_SIZE,
            description="Channels per mapped task",
        ),
    },
)
def whatsapp_fleet_action() -> None:
    selection = WhatsAppFleetSelectionOperator(task_id="select_channels")
    act = WhatsAppFleetActionOperator.partial(
        task_id="act", action="{{ params.action }}", map_index_template=RETRY_MAP_INDEX_TEMPLATE
    ).expand(channels=selection.output)
    summary = WhatsAppFleetActionSummaryOperator(task_id="summary", trigger_rule="all_done")
    act >> summary


whatsapp_fleet_action()
