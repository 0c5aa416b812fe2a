"""When the fleet DAG acts next, read from Airflow: paused, its next run, its interval, its last audit.

The page's "next try" is when the fleet will actually act on a channel: the first run of
``whatsapp_fleet_health`` at or after the channel's backoff, not the backoff itself. While the DAG
is paused nothing is retried, and its banners must not say "the fleet retries by itself"; when its
last audit (the newest ``fleet_summaries`` row) is older than two of its intervals, the fleet is
not keeping up (the scheduler is down, or runs fail before the summary), and the page says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.models.dag import DagModel
from airflow.models.dagbag import DBDagBag
from airflow.timetables.base import TimeRestriction
from sqlalchemy import select
from sqlalchemy.orm import Session

from whatsapp.api.models import FleetSchedule
from whatsapp.api.runs import FLEET_DAG_ID, dag_path
from whatsapp.store.views import isoformat

#: The last audit is overdue once it is older than this many of the DAG's intervals.
OVERDUE_AFTER_INTERVALS = 2


def fleet_schedule(
    session: Session, dag_bag: DBDagBag, last_audit_at: datetime | None, now: datetime
) -> FleetSchedule:
    """The fleet DAG's state as Airflow's metadata has it (``DagModel``), with the last audit's age.

    The interval is the length of a run's data interval as the DAG's timetable infers it
    (``schedule=timedelta(hours=1)`` gives an hour); the next run is when the scheduler creates it
    (``next_dagrun_create_after``). A DAG Airflow does not know (not parsed yet, or removed) reads
    as paused: nothing runs it.
    """
    dag = _fleet_dag(session)
    interval = _interval(dag_bag, session, now) if dag is not None else None
    paused = _paused(dag)
    next_run = None if paused or dag is None else dag.next_dagrun_create_after
    overdue = (
        not paused
        and interval is not None
        and (last_audit_at is None or now - last_audit_at > OVERDUE_AFTER_INTERVALS * interval)
    )
    return FleetSchedule(
        dag_id=FLEET_DAG_ID,
        dag_path=dag_path(FLEET_DAG_ID),
        paused=paused,
        next_run=isoformat(next_run),
        interval_seconds=None if interval is None else int(interval.total_seconds()),
        last_audit_at=isoformat(last_audit_at),
        audit_overdue=overdue,
    )


def fleet_paused(session: Session) -> bool:
    """Whether the fleet DAG runs at all (paused, stale or unknown: it does not), for the words."""
    return _paused(_fleet_dag(session))


def _interval(dag_bag: DBDagBag, session: Session, now: datetime) -> timedelta | None:
    """The time between two runs: two consecutive runs the DAG's timetable plans from ``now`` (a
    ``timedelta`` schedule is a ``DeltaTriggerTimetable`` in Airflow 3, whose data interval is
    empty, so the runs' times tell, for a cron schedule as well)."""
    serialized = dag_bag.get_latest_version_of_dag(FLEET_DAG_ID, session=session)
    if serialized is None:
        return None
    timetable = serialized.timetable
    restriction = TimeRestriction(earliest=now, latest=None, catchup=True)
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    if first is None:
        return None
    second = timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    if second is None or second.run_after <= first.run_after:
        return None
    return timedelta(seconds=(second.run_after - first.run_after).total_seconds())


def _fleet_dag(session: Session) -> DagModel | None:
    return session.scalars(select(DagModel).where(DagModel.dag_id == FLEET_DAG_ID)).one_or_none()


def _paused(dag: DagModel | None) -> bool:
    return dag is None or bool(dag.is_paused) or bool(dag.is_stale)
