"""A person's action on many channels at once: pick the channels, act on a chunk, summarise.

The work is :mod:`whatsapp.fleet_actions` (the same paths as the single *Refresh from Meta* and
*Complete registration*); these operators only read the run's conf, map over chunks and hand
outcomes on. An outcome that goes wrong for one number is that number's outcome, not the task's
failure: the page shows every number's outcome, and a failed task would hide its chunk's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pendulum
from pydantic import ValidationError

from whatsapp.operators.base import WhatsAppBaseOperator
from whatsapp.operators.fleet import chunk_evenly, mapped_refs

if TYPE_CHECKING:
    from airflow.sdk import Context


class WhatsAppFleetSelectionOperator(WhatsAppBaseOperator):
    """The run's channels, in chunks of ``chunk_size``, to map :class:`WhatsAppFleetActionOperator` over.

    Checks the run's conf with the API's own model (``FleetActionRequest``: the action, either
    ``channels`` or a ``filter`` as ``GET /fleet`` takes it, no other key), so a run triggered from
    Airflow's UI or REST API is held to what the page's route checks; a refusal fails the task
    without retry. A filter is resolved now, on the store as it is when the run starts; named
    channels no longer in the store are left out (and logged).
    """

    def execute(self, context: Context) -> list[list[dict[str, Any]]]:
        from whatsapp.api.models import FleetActionRequest
        from whatsapp.domain.fleet_action import MAX_CHANNELS

        try:
            request = FleetActionRequest.model_validate(context["dag_run"].conf or {})
        except ValidationError as error:
            self.fail("bad run conf", error)
        with self.open_store() as store:
            if request.filter is not None:
                refs = store.fleet.selection(request.filter.to_query(), limit=MAX_CHANNELS + 1)
                if len(refs) > MAX_CHANNELS:
                    self.fail("too many channels", f"the filter matches more than {MAX_CHANNELS:,}")
            else:
                refs = store.fleet.selection_of(request.pairs())
                missing = len(request.pairs()) - len(refs)
                if missing:
                    self.log.warning("%d channel(s) named are no longer in the store", missing)
        chunks = chunk_evenly(mapped_refs(refs), max(1, math.ceil(len(refs) / request.chunk_size)))
        self.log.info(
            "%s on %d channel(s), in %d task(s) of up to %d",
            request.action.value,
            len(refs),
            len(chunks),
            request.chunk_size,
        )
        return chunks


class WhatsAppFleetActionOperator(WhatsAppBaseOperator):
    """The action on one chunk of channels; returns each number's outcome (no secret)."""

    template_fields = ("action", "channels")

    def __init__(self, *, action: str, channels: list[dict[str, Any]] | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.channels = channels

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from whatsapp.domain.fleet_action import FleetAction
        from whatsapp.fleet_actions import run_action
        from whatsapp.store import DueChannel

        try:
            action = FleetAction(self.action)
        except ValueError:
            self.fail("bad action", f"one of {', '.join(FleetAction)}, got {self.action!r}")
        refs = self.channels if isinstance(self.channels, list) else [self.channels]
        if not refs or not all(isinstance(ref, dict) and "channel_id" in ref for ref in refs):
            self.fail("bad channel references", f"expected a list of channel refs, got {self.channels!r}")
        channels = [
            DueChannel(
                ref["channel_id"],
                ref["account_id"],
                ref["inbox_id"],
                ref["phone_number_id"],
                ref["display_phone_number"],
            )
            for ref in refs
        ]
        with self.open_store() as store:
            outcomes = run_action(
                action, self.hook, store, channels, now=pendulum.now("UTC"), run_id=context["run_id"]
            )
        return [outcome.to_dict() for outcome in outcomes]


class WhatsAppFleetActionSummaryOperator(WhatsAppBaseOperator):
    """How many numbers ended each way, and each one's outcome (the run's result in one XCom).

    Runs whatever its upstream did, and fails (so the run does) when the selection failed or a
    chunk's task ended without outcomes: those numbers were not acted on, or not all of them.
    """

    def __init__(
        self, *, select_task_id: str = "select_channels", act_task_id: str = "act", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.select_task_id = select_task_id
        self.act_task_id = act_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.fleet_actions import tally

        ti = context["ti"]
        selected = ti.xcom_pull(task_ids=self.select_task_id)
        if not isinstance(selected, list):
            self.fail("no selection", f"{self.select_task_id} failed: nothing was acted on")
        chunks = ti.xcom_pull(task_ids=self.act_task_id) or []
        if isinstance(chunks, list) and chunks and isinstance(chunks[0], dict):
            chunks = [chunks]  # a single (unmapped) return value
        outcomes = [outcome for chunk in chunks if isinstance(chunk, list) for outcome in chunk]
        counts = tally(outcomes)
        self.log.info("Outcome by number: %s", counts)
        for outcome in (o for o in outcomes if o["outcome"] != "done"):
            self.log.info(
                "%s: %s: %s", outcome["display_phone_number"], outcome["outcome"], outcome["message"]
            )
        missing = sum(len(chunk) for chunk in selected) - len(outcomes)
        if missing:
            self.fail(
                "chunks failed", f"{missing} number(s) have no outcome: their {self.act_task_id} task failed"
            )
        return {"counts": counts, "outcomes": outcomes}
