"""The provider's DAG runs as the tests see them, read straight from Airflow's metadata database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REGISTER_DAG_ID = "whatsapp_register_channel"
ONBOARDING_DAG_ID = "whatsapp_onboarding"


@dataclass(frozen=True)
class RunView:
    run_id: str
    state: str
    conf: dict[str, Any]
    run_type: str
    triggering_user_name: str | None


def _query(dag_id: str) -> Any:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    return select(DagRun).where(DagRun.dag_id == dag_id)


def register_runs_in_db(dag_id: str = REGISTER_DAG_ID) -> list[RunView]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return [
            RunView(r.run_id, str(r.state), dict(r.conf or {}), str(r.run_type), r.triggering_user_name)
            for r in session.scalars(_query(dag_id))
        ]


def delete_register_runs(dag_id: str = REGISTER_DAG_ID) -> None:
    """ORM deletes, so the runs' task instances go with them."""
    from airflow.utils.session import create_session

    with create_session() as session:
        for run in session.scalars(_query(dag_id)):
            session.delete(run)


def set_paused(dag_id: str, paused: bool) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))
