"""The register DAG's runs as the tests see them, read straight from Airflow's metadata database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REGISTER_DAG_ID = "whatsapp_register_channel"


@dataclass(frozen=True)
class RunView:
    run_id: str
    state: str
    conf: dict[str, Any]
    run_type: str
    triggering_user_name: str | None


def _query() -> Any:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    return select(DagRun).where(DagRun.dag_id == REGISTER_DAG_ID)


def register_runs_in_db() -> list[RunView]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return [
            RunView(r.run_id, str(r.state), dict(r.conf or {}), str(r.run_type), r.triggering_user_name)
            for r in session.scalars(_query())
        ]


def delete_register_runs() -> None:
    """ORM deletes, so the runs' task instances go with them."""
    from airflow.utils.session import create_session

    with create_session() as session:
        for run in session.scalars(_query()):
            session.delete(run)
