"""Act on many channels at once: one ``whatsapp_fleet_action`` run for a selection, and its outcome.

The page's *Refresh from Meta* and *Complete registration* on selected rows (or on all that match
the fleet's filter) queue ONE run of ``whatsapp_fleet_action``, which maps its work over chunks
of the selection (``whatsapp.fleet_actions``): not one request, nor one run, per number. The
input is checked here, before anything is queued (422 naming what is wrong); the run's first
task checks its conf with the same model, as it may also be triggered from Airflow.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.api_fastapi.common.dagbag import DagBagDep
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.models import Log
from airflow.models.xcom import XComModel
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from whatsapp.api.deps import StoreDep
from whatsapp.api.models import (
    AirflowIdPath,
    FleetActionOutcome,
    FleetActionQueued,
    FleetActionRequest,
    FleetActionRun,
    RunRef,
    ValidationErrorResponse,
)
from whatsapp.api.runs import find_run, grid_url, run_path
from whatsapp.api.security import (
    FLEET_ACTION_DAG_ID,
    UserDep,
    requires_fleet_action_access,
    same_origin_if_cookie,
)
from whatsapp.api.trigger import fleet_action_run_id, queue_run, refuse_when_paused
from whatsapp.domain.fleet_action import MAX_CHANNELS, FleetAction
from whatsapp.fleet_actions import tally
from whatsapp.store import ChannelStore

router = APIRouter(prefix="/fleet/actions", tags=["fleet"])

#: What Airflow's event log records of a bulk action: who, which action, how many channels.
AUDIT_EVENT = "whatsapp_fleet_action"
#: The run's tasks whose return values the outcome is read from (``dags/whatsapp_fleet_action.py``).
SELECT_TASK, ACT_TASK = "select_channels", "act"

refuse_if_action_dag_paused = refuse_when_paused(
    "its run would wait unseen; unpause it (it is created unpaused) and act again"
)


def _refused(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body", field), "msg": message}])


def _selection_size(store: ChannelStore, body: FleetActionRequest) -> int:
    """How many channels the body selects now; 422 for unknown channels or an empty or too large set."""
    if body.filter is None:
        pairs = body.pairs()
        known = {(ref.account_id, ref.inbox_id) for ref in store.fleet.selection_of(pairs)}
        unknown = [f"{account}/{inbox}" for account, inbox in pairs if (account, inbox) not in known]
        if unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            raise _refused("channels", f"no channel for account/inbox {shown}")
        return len(pairs)
    count = store.fleet.count(body.filter.to_query())
    if count == 0:
        raise _refused("filter", "no channel matches this filter")
    if count > MAX_CHANNELS:
        raise _refused(
            "filter", f"{count:,} channels match: at most {MAX_CHANNELS:,} at once; narrow the filter"
        )
    return count


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FleetActionQueued,
    responses={
        status.HTTP_403_FORBIDDEN: {"description": f"the user may not trigger {FLEET_ACTION_DAG_ID}"},
        status.HTTP_409_CONFLICT: {"description": f"{FLEET_ACTION_DAG_ID} is paused: nothing queued"},
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": ValidationErrorResponse,
            "description": "bad action, unknown channels, a filter matching none or too many: nothing queued",
        },
    },
    dependencies=[Depends(same_origin_if_cookie), Depends(requires_fleet_action_access)],
)
def queue_fleet_action(
    body: FleetActionRequest,
    request: Request,
    store: StoreDep,
    user: UserDep,
    dag_bag: DagBagDep,
    session: SessionDep,
) -> FleetActionQueued:
    """Queue ONE ``whatsapp_fleet_action`` run for the channels named, or all a filter matches.

    The run re-reads the selection (a filter's matches may change meanwhile) and works on it in
    mapped chunks; ``GET /fleet/actions/{dag_run_id}`` tells each number's outcome.
    """
    count = _selection_size(store, body)
    run_id = fleet_action_run_id(body.action.value, count)
    session.add(
        Log(
            event=AUDIT_EVENT,
            owner=user.get_name(),
            owner_display_name=user.get_name(),
            dag_id=FLEET_ACTION_DAG_ID,
            run_id=run_id,
            extra=json.dumps({"action": body.action.value, "channels": count, "method": "POST"}),
        )
    )
    run = queue_run(
        dag_bag=dag_bag,
        session=session,
        user=user,
        dag_id=FLEET_ACTION_DAG_ID,
        run_id=run_id,
        conf=body.run_conf(),
        from_ui=bool(request.headers.get("referer")),
        check=refuse_if_action_dag_paused,
    )
    return FleetActionQueued(
        dag_id=FLEET_ACTION_DAG_ID,
        dag_run_id=run.run_id,
        state=run.state,
        channels=count,
        url=grid_url(run.run_id, FLEET_ACTION_DAG_ID),
    )


def _returned(session: Session, run_id: str) -> tuple[Any, list[Any]]:
    """The selection task's return value, and the act tasks' (map-index order) that have one."""
    rows = session.execute(
        select(XComModel.task_id, XComModel.map_index, XComModel.value)
        .where(
            XComModel.dag_id == FLEET_ACTION_DAG_ID,
            XComModel.run_id == run_id,
            XComModel.key == "return_value",
            XComModel.task_id.in_((SELECT_TASK, ACT_TASK)),
        )
        .order_by(XComModel.task_id, XComModel.map_index)
    ).all()
    selected = next((XComModel.deserialize_value(r) for r in rows if r.task_id == SELECT_TASK), None)
    acted = [XComModel.deserialize_value(r) for r in rows if r.task_id == ACT_TASK]
    return selected, acted


@router.get(
    "/{dag_run_id}",
    response_model=FleetActionRun,
    responses={status.HTTP_404_NOT_FOUND: {"description": f"no {FLEET_ACTION_DAG_ID} run of that id"}},
)
def get_fleet_action(dag_run_id: AirflowIdPath, session: SessionDep) -> FleetActionRun:
    """The run's state and each number's outcome so far (a chunk's numbers once its task is done).

    A chunk whose task failed altogether (its store or Graph connection unusable) leaves its
    numbers without an outcome: ``total`` is then more than the outcomes, and the run failed.
    """
    run = find_run(session, FLEET_ACTION_DAG_ID, dag_run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {FLEET_ACTION_DAG_ID} run {dag_run_id}")
    selected, acted = _returned(session, dag_run_id)
    outcomes = [outcome for chunk in acted if isinstance(chunk, list) for outcome in chunk]
    action = (run.conf or {}).get("action")
    known = {member.value for member in FleetAction}
    total = sum(len(chunk) for chunk in selected) if isinstance(selected, list) else None
    return FleetActionRun(
        run=RunRef(
            dag_id=FLEET_ACTION_DAG_ID,
            dag_run_id=dag_run_id,
            state=str(run.state),
            url=run_path(FLEET_ACTION_DAG_ID, dag_run_id),
        ),
        action=action if action in known else None,
        total=total,
        counts=tally(outcomes),
        outcomes=[FleetActionOutcome.model_validate(outcome) for outcome in outcomes],
    )
