"""Registration backlog benchmark: N due numbers drained by the fleet DAG on a real Airflow.

Usage::

    .venv/bin/python bench/registration_backlog.py --due 5000
    .venv/bin/python bench/registration_backlog.py --due 500 --latency-ms 100

Starts the end-to-end stack of ``tests/e2e/stack.py`` (api-server, scheduler, dag-processor,
triggerer, LocalExecutor, fresh PostgreSQL databases of ``WHATSAPP_TEST_DATABASE_URL``, all
dropped afterwards) and the Graph API simulator with ``--latency-ms`` on every request. Seeds N
numbers that were never registered (name approved, so each needs exactly one ``/register``),
then unpauses ``whatsapp_fleet_health`` (its hourly schedule starts a run with the default
params at once) and triggers follow-up runs while numbers are still due. Prints ONE JSON line on stdout::

    {"due": N, "wall_s": ..., "register_calls": ..., "tasks": ..., "runs": ..., "registered": ...}

``wall_s`` runs from the unpause to the end of the last run; ``tasks`` counts the mapped
``retry_registration`` task instances; ``register_calls`` is what the simulator received.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# The checkout importable, then bench/_bootstrap.py: Airflow's settings in the environment
# before Airflow is first imported (it sorts before the other project imports).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._bootstrap import DATABASE_URL
from include.graph_simulator.process import SimulatorControl
from tests.e2e.rest import FINISHED_RUN_STATES, AirflowApi
from tests.e2e.stack import airflow_stack, wait_for
from tests.fleet.fleet_mix import SPECS, Kind
from whatsapp.store import ChannelStore, StoreTarget

FLEET = "whatsapp_fleet_health"
#: Follow-up runs allowed before the benchmark gives up on a backlog that does not drain.
MAX_RUNS = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--due", type=int, default=5000, help="never-registered numbers to drain")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="simulator latency per request")
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="give up after this long")
    return parser.parse_args()


def seed(store: ChannelStore, sim: SimulatorControl, count: int) -> None:
    created = sim.add_numbers(numbers=[SPECS[Kind.PENDING]] * count)
    for index, number in enumerate(created["numbers"]):
        store.channels.upsert(
            account_id=1 + index // 1000,
            phone_number_id=number["phone_number_id"],
            waba_id=number["waba_id"],
            business_id=number["business_id"],
            access_token=created["tokens"][number["waba_id"]],
            display_phone_number=number["display_phone_number"],
        )


def wait_until_idle(api: AirflowApi, timeout: float) -> set[str]:
    """Wait until the fleet DAG has at least one run and none unfinished; returns the run ids."""

    def idle() -> set[str] | None:
        runs = api.dag_runs(FLEET)
        finished = runs and all(run["state"] in FINISHED_RUN_STATES for run in runs)
        return {run["dag_run_id"] for run in runs} if finished else None

    return wait_for("the fleet runs to finish", idle, timeout=max(timeout, 1.0), interval=2.0)


def main() -> None:
    args = parse_args()
    with airflow_stack(
        DATABASE_URL,
        "https://hooks.example.test/whatsapp",
        fernet_key=os.environ["AIRFLOW__CORE__FERNET_KEY"],
        simulator_args=("--latency-ms", str(args.latency_ms)),
    ) as stack:
        sim = SimulatorControl(stack.graph_base_url)
        api = AirflowApi(stack)
        store = ChannelStore.from_target(StoreTarget(stack.store_url, stack.store_schema))
        try:
            wait_for("the Graph API simulator", lambda: sim.clock(), timeout=60)
            api.wait_until_up(180)
            api.login()
            api.wait_for_dag(FLEET, 180)
            seed(store, sim, args.due)
            started = time.monotonic()
            api.unpause(FLEET)  # the hourly schedule starts the first run at once
            runs: set[str] = set()
            while True:
                runs |= wait_until_idle(api, args.timeout_s - (time.monotonic() - started))
                if not store.attempts.due(limit=1) or len(runs) >= MAX_RUNS:
                    break
                runs.add(api.trigger_ok(FLEET, {}))  # a follow-up run while numbers are due
            tasks = sum(
                1
                for run in runs
                for ti in api.task_instances(FLEET, run)
                if ti["task_id"] == "retry_registration"
            )
            wall_s = time.monotonic() - started
            registered = sum(
                1
                for status in store.fleet.statuses()
                if status.channel.registration_state.value == "registered"
            )
            print(
                json.dumps(
                    {
                        "due": args.due,
                        "wall_s": round(wall_s, 1),
                        "register_calls": len(sim.calls("/register$")),
                        "tasks": tasks,
                        "runs": len(runs),
                        "registered": registered,
                        "latency_ms": args.latency_ms,
                    }
                ),
                flush=True,
            )
        finally:
            store.dispose()
            api.close()
            sim.close()


if __name__ == "__main__":
    main()
