"""The provider's DAG runs as the API links them: where a run is in Airflow's UI, which DAG sent
a stored register call, and which channel a run was about.

Runs live in Airflow's metadata database (read through the request's ``SessionDep``); the store
only keeps a call's ``run_id``, so the DAG behind it is looked up here, among the provider's DAGs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow.configuration import conf
from airflow.models.dagrun import DagRun
from sqlalchemy import select

from whatsapp.api.security import FLEET_ACTION_DAG_ID, ONBOARDING_DAG_ID, REGISTER_DAG_ID

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CHANGE_NAME_DAG_ID = "whatsapp_change_display_name"
OFFBOARD_DAG_ID = "whatsapp_offboard_channel"
FLEET_DAG_ID = "whatsapp_fleet_health"
#: DAGs whose runs are about one channel (the DAG-run panel shows it).
CHANNEL_DAG_IDS = (ONBOARDING_DAG_ID, REGISTER_DAG_ID, CHANGE_NAME_DAG_ID, OFFBOARD_DAG_ID)
#: DAGs that send register calls and store health reads (the fleet, a bulk action): where the run
#: of an attempt or a health check is looked for.
ATTEMPT_DAG_IDS = (*CHANNEL_DAG_IDS, FLEET_DAG_ID, FLEET_ACTION_DAG_ID)


def dag_path(dag_id: str) -> str:
    """The DAG's page in Airflow's UI, relative to Airflow's base URL; its Trigger button opens the
    trigger form (Airflow 3.3 has no URL of the form itself: apache/airflow#54800)."""
    return f"/dags/{quote(dag_id, safe='')}"


def run_path(dag_id: str, run_id: str) -> str:
    """The run in Airflow's UI, relative to Airflow's base URL (what the page's router links to)."""
    return f"{dag_path(dag_id)}/runs/{quote(run_id, safe='')}"


def ui_path(path: str) -> str:
    """``path`` of Airflow's UI under ``[api] base_url``'s path, for when Airflow is not at the root."""
    root = urlsplit(conf.get("api", "base_url", fallback="") or "/").path.rstrip("/")
    return f"{root}{path}"


def grid_url(run_id: str, dag_id: str = REGISTER_DAG_ID) -> str:
    """The run in the Airflow UI grid, under Airflow's base path."""
    return ui_path(run_path(dag_id, run_id))


def find_run(session: Session, dag_id: str, run_id: str) -> DagRun | None:
    return session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))


def dag_ids_of_runs(session: Session, run_ids: Iterable[str | None]) -> dict[str, str]:
    """The provider DAG each run id belongs to (runs Airflow no longer has are left out)."""
    wanted = sorted({run_id for run_id in run_ids if run_id})
    if not wanted:
        return {}
    query = select(DagRun.run_id, DagRun.dag_id).where(
        DagRun.run_id.in_(wanted), DagRun.dag_id.in_(ATTEMPT_DAG_IDS)
    )
    return {run_id: dag_id for run_id, dag_id in session.execute(query)}


def run_link(run_id: str | None, dag_ids: Mapping[str, str]) -> dict[str, str | None]:
    """``dag_id`` and ``run_url`` of a stored call's run, ``None`` when Airflow does not know it."""
    dag_id = dag_ids.get(run_id) if run_id else None
    return {
        "dag_id": dag_id,
        "run_url": None if dag_id is None or run_id is None else run_path(dag_id, run_id),
    }


def conf_ids(run_conf: Mapping[str, Any] | None) -> tuple[int, int] | None:
    """``(account_id, inbox_id)`` when the run's conf names a channel (register, name change, offboard)."""
    values = run_conf or {}
    account_id, inbox_id = values.get("account_id"), values.get("inbox_id")
    if isinstance(account_id, int) and isinstance(inbox_id, int):
        return account_id, inbox_id
    return None
