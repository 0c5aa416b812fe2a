"""Every DAG file imports cleanly, quickly, and without touching the network or a database."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.support.airflow_fixtures import DAGS_FOLDER
from whatsapp.operators.fleet import RETRY_MAP_INDEX_TEMPLATE

EXPECTED_DAGS = {
    "whatsapp_onboarding",
    "whatsapp_fleet_health",
    "whatsapp_register_channel",
    "whatsapp_change_display_name",
    "whatsapp_offboard_channel",
    "whatsapp_fleet_action",
}


def test_dagbag_has_no_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= EXPECTED_DAGS


def test_onboarding_dag_shape(dagbag: Any) -> None:
    dag = dagbag.get_dag("whatsapp_onboarding")
    assert dag.schedule is None
    assert [t.task_id for t in dag.topological_sort()] == [
        "validate",
        "exchange_and_save",
        "phone_info",
        "check_token_access",
        "subscribe_webhooks",
        "sync_business_app",
        "wait_for_display_name",
        "register",
        "check_health",
    ]
    sensor = dag.get_task("wait_for_display_name")
    assert sensor.deferrable is True
    assert dag.get_task("register").retry_exponential_backoff == 2.0
    assert set(dag.params.keys()) >= {
        "account_id",
        "code",
        "business_id",
        "waba_id",
        "phone_number_id",
        "inbox_id",
        "event",
    }


def test_dag_files_import_nothing_heavy() -> None:
    """Parse-time cost: no store/SQL driver, no simulator, no network client created."""
    probe = (
        "import sys, runpy, pathlib\n"
        f"for path in sorted(pathlib.Path({str(DAGS_FOLDER)!r}).glob('*.py')):\n"
        "    runpy.run_path(str(path))\n"
        "heavy = [m for m in ('whatsapp.store', 'psycopg2', 'include.graph_simulator', 'fastapi') "
        "if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("HEAVY=")]
    assert line == "HEAVY=", f"heavy imports at DAG parse time: {line}"


def test_fleet_dag_shape(dagbag: Any) -> None:
    dag = dagbag.get_dag("whatsapp_fleet_health")
    assert dag.max_active_runs == 1 and dag.catchup is False
    retry = dag.get_task("retry_registration")
    assert retry.map_index_template == RETRY_MAP_INDEX_TEMPLATE
    # The audit's shard count follows the fleet's size unless a run asks for a number.
    assert dag.params["audit_shards"] == 0
    assert dag.get_task("audit").upstream_task_ids == {"audit_shards"}
    # A backlog drains in one run: up to 10,000 numbers over at most 200 mapped tasks (< max_map_length).
    assert dag.params["max_registrations"] == 10_000
    assert dag.params["max_retry_tasks"] == 200
    manual = dagbag.get_dag("whatsapp_register_channel")
    assert manual.schedule is None and manual.get_task("register").respect_backoff is False


def test_only_the_hourly_dag_is_created_paused(dagbag: Any) -> None:
    """A trigger-only DAG created paused would answer the signup intake with 409 until someone found
    the switch; the hourly audit waits for an operator to unpause it."""
    paused = {dag_id: dag.is_paused_upon_creation for dag_id, dag in dagbag.dags.items()}
    assert paused == {
        "whatsapp_onboarding": False,
        "whatsapp_register_channel": False,
        "whatsapp_change_display_name": False,
        "whatsapp_offboard_channel": False,
        "whatsapp_fleet_action": False,
        "whatsapp_fleet_health": None,
        "whatsapp_fleet_digest": None,
    }
