"""Queue a DAG run exactly as Airflow's ``POST /api/v2/dags/{id}/dagRuns`` does.

Same checks (DAG known, not stale, no import errors, manual runs allowed), same
``TriggerDAGRunPostBody.validate_context`` for run id and data interval, same
``SerializedDAG.create_dagrun`` call. On top of it, for ``whatsapp_register_channel``, the one
rule Airflow cannot know: at most one queued or running run per channel. The check and the
insert happen under a row lock on the DAG (``SELECT ... FOR UPDATE`` where the metadata database
has row locks), so two clicks on *Complete registration* cannot both start a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.api_fastapi.common.dagbag import get_latest_version_of_dag
from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.utils.sqlalchemy import with_row_locks
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunTriggeredByType, DagRunType
from fastapi import HTTPException, status
from sqlalchemy import select

from whatsapp.api.security import REGISTER_DAG_ID

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from airflow.models.dagbag import DBDagBag
    from sqlalchemy.orm import Session

ACTIVE_STATES = (DagRunState.QUEUED, DagRunState.RUNNING)


@dataclass(frozen=True, slots=True)
class QueuedRun:
    """The created run, and whether it will wait: a paused DAG keeps its queued runs queued."""

    run_id: str
    state: str
    dag_paused: bool


def register_run_id(account_id: int, inbox_id: int, now: datetime | None = None) -> str:
    """Readable in the grid (which channel, when), unique per channel and microsecond."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"register__{account_id}_{inbox_id}__{stamp}"


def signup_run_id(account_id: int, signup_id: str, now: datetime | None = None) -> str:
    """An intake's onboarding run: which account, which signup (a prefix of its id), when."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"signup__{account_id}_{signup_id[:8]}__{stamp}"


def fleet_action_run_id(action: str, count: int, now: datetime | None = None) -> str:
    """A bulk action's run: which action, on how many channels, when."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{action}__{count}_channels__{stamp}"


def active_run_for(session: Session, account_id: int, inbox_id: int) -> DagRun | None:
    """A queued or running register run for this channel (matched on its conf), if any."""
    runs = session.scalars(
        select(DagRun).where(DagRun.dag_id == REGISTER_DAG_ID, DagRun.state.in_(ACTIVE_STATES))
    )
    for run in runs:
        conf = run.conf or {}
        if conf.get("account_id") == account_id and conf.get("inbox_id") == inbox_id:
            return run
    return None


def _lock_dag_model(session: Session, dag_id: str) -> DagModel:
    query = select(DagModel).where(~DagModel.is_stale, DagModel.dag_id == dag_id).limit(1)
    dag_model = session.scalar(with_row_locks(query, session=session, key_share=False))
    if dag_model is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"DAG {dag_id} is not known to Airflow yet: is the dag-processor running?",
        )
    if dag_model.has_import_errors:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"DAG {dag_id} has import errors")
    if dag_model.allowed_run_types is not None and DagRunType.MANUAL not in dag_model.allowed_run_types:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"DAG {dag_id} allows no manual runs")
    return dag_model


def trigger_register_run(
    *,
    dag_bag: DBDagBag,
    session: Session,
    user: BaseUser,
    account_id: int,
    inbox_id: int,
    from_ui: bool,
) -> QueuedRun:
    """Create the QUEUED run (the scheduler starts it); 409 if the channel already has one."""

    def one_per_channel(_: DagModel) -> None:
        running = active_run_for(session, account_id, inbox_id)
        if running is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"a registration run for this channel is already {running.state}: {running.run_id}",
            )

    return queue_run(
        dag_bag=dag_bag,
        session=session,
        user=user,
        dag_id=REGISTER_DAG_ID,
        run_id=register_run_id(account_id, inbox_id),
        conf={"account_id": account_id, "inbox_id": inbox_id},
        from_ui=from_ui,
        check=one_per_channel,
    )


def refuse_when_paused(consequence: str) -> Callable[[DagModel], None]:
    """A ``queue_run`` check: 409 when the DAG is paused, saying what its waiting run would cause."""

    def check(dag_model: DagModel) -> None:
        if dag_model.is_paused:
            raise HTTPException(status.HTTP_409_CONFLICT, f"DAG {dag_model.dag_id} is paused: {consequence}")

    return check


#: For the intake: a run of a paused DAG would start after the signup code expired (30 s).
refuse_if_paused = refuse_when_paused(
    "its run would start after the signup code expired; unpause it and have the customer sign up again"
)


def queue_run(
    *,
    dag_bag: DBDagBag,
    session: Session,
    user: BaseUser,
    dag_id: str,
    run_id: str,
    conf: dict[str, Any],
    from_ui: bool,
    check: Callable[[DagModel], None] | None = None,
) -> QueuedRun:
    """Create a QUEUED manual run under the DAG's row lock, after ``check`` (which may raise)."""
    dag_model = _lock_dag_model(session, dag_id)
    if check is not None:
        check(dag_model)
    dag = get_latest_version_of_dag(dag_bag, dag_id, session)
    body = TriggerDAGRunPostBody(dag_run_id=run_id, logical_date=None, conf=conf)
    params = body.validate_context(dag)
    run = dag.create_dagrun(
        run_id=params["run_id"],
        logical_date=params["logical_date"],
        data_interval=params["data_interval"],
        run_after=params["run_after"],
        conf=params["conf"],
        run_type=DagRunType.MANUAL,
        triggered_by=DagRunTriggeredByType.UI if from_ui else DagRunTriggeredByType.REST_API,
        triggering_user_name=user.get_name(),
        state=DagRunState.QUEUED,
        partition_key=params["partition_key"],
        partition_date=params["partition_date"],
        session=session,
    )
    queued = QueuedRun(run.run_id, DagRunState(run.state).value, bool(dag_model.is_paused))
    session.commit()
    return queued
