"""One Airflow stack for every end-to-end test, started once and put back to a clean world per test.

Starting a stack (``tests/e2e/stack.py``: migrations, api-server, scheduler, dag-processor,
triggerer, two Celery workers) costs more CPU than most scenarios run on it, so the tests of this
package share one (``e2e_stack`` in ``conftest.py``; pytest-xdist keeps them on one worker). It
runs on CeleryExecutor, as ``docker-compose.yaml`` does: every task runs in a worker process with
an environment of its own, so what only breaks across processes (task serialization, deferral,
connections read by every component) shows up. LocalExecutor still runs tasks under the browser
suite (``tests/ui``) and ``make demo-airflow`` (``tests/ui/test_demo.py``).

Before each test :meth:`SharedStack.reset` gives it what a stack of its own would have: no DAG run
active, every DAG paused (as at creation), an empty channel store (migrated, no rows), a
simulator in its start state (no numbers, calls, webhooks or settings changed; clock at start),
no StatsD metric received yet. What stays is Airflow's own history (earlier tests' runs, logs,
task instances), so a test compares run ids with those it took before acting
(:meth:`~tests.e2e.rest.AirflowApi.run_ids`) instead of counting every run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from include.graph_simulator.process import SimulatorControl
from tests.e2e.rest import AirflowApi
from tests.e2e.stack import CELERY_EXECUTOR, AirflowStack, airflow_stack, wait_for
from whatsapp.store import ChannelStore, StoreTarget

CALLBACK_URL = "https://hooks.example.test/whatsapp"
#: Generous bounds for a loaded 2-core machine (other test workers run beside the stack).
STARTUP_TIMEOUT = 150.0
TASKS_TIMEOUT = 180.0
#: Every DAG of the repository (``dags/<dag_id>.py``): parsed before the first test starts.
DAG_IDS = tuple(
    sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "dags").glob("*.py") if p.name[0] != "_")
)
#: Names the two Celery workers give themselves as task instances' ``hostname``.
WORKERS = frozenset({"worker-1", "worker-2"})
#: Task instance states still in flight: a reset waits until no task instance is in one.
UNFINISHED_TI_STATES = ("queued", "scheduled", "running", "deferred", "up_for_retry", "up_for_reschedule")


def store_of(stack: AirflowStack) -> ChannelStore:
    """The stack's channel store, opened by the test process (the caller disposes of it)."""
    return ChannelStore.from_target(StoreTarget(stack.store_url, stack.store_schema))


class StatsdListener:
    """Collects the StatsD datagrams sent to a UDP port on loopback (``name:value|type`` lines)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.lines.extend(data.decode("utf-8", "replace").splitlines())

    def airflow_env(self) -> dict[str, str]:
        """What makes every Airflow component send its metrics here."""
        return {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(self.port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        }

    def clear(self) -> None:
        self.lines.clear()

    def whatsapp(self) -> list[tuple[str, str, str]]:
        """``(name, value, type)`` of every ``airflow.whatsapp.*`` metric received so far."""
        found = []
        for line in list(self.lines):
            name, _, rest = line.partition(":")
            if name.startswith("airflow.whatsapp."):
                value, _, kind = rest.partition("|")
                found.append((name.removeprefix("airflow."), value, kind.split("|")[0]))
        return found

    @contextlib.contextmanager
    def running(self) -> Iterator[StatsdListener]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=5)
            self.sock.close()


@dataclass
class SharedStack:
    """The running stack and the clients a test drives it with."""

    stack: AirflowStack
    api: AirflowApi
    sim: SimulatorControl
    statsd: StatsdListener
    #: Store tables the migrations fill (the Alembic version): kept by :meth:`reset`.
    seeded_tables: frozenset[str] = frozenset()

    def wait_until_ready(self) -> None:
        """Simulator and API answer, every DAG is parsed, both Celery workers take tasks."""
        wait_for("the Graph API simulator", self.sim.clock, timeout=30)
        self.api.wait_until_up(STARTUP_TIMEOUT)
        self.api.login()
        for dag_id in DAG_IDS:
            self.api.wait_for_dag(dag_id, STARTUP_TIMEOUT)
        for worker in sorted(WORKERS):
            self.stack.wait_for_log(worker, ("ready",), timeout=STARTUP_TIMEOUT)
        self.seeded_tables = frozenset(name for name, rows in self._store_tables().items() if rows)

    def reset(self) -> None:
        """Put the stack back to what a fresh one shows a test (see the module docstring)."""
        self.stack.check_alive()
        self.api.login()
        self._settle_runs()
        self._empty_store()
        self.sim.reset()
        self.statsd.clear()

    def _active_runs(self) -> list[dict[str, str]]:
        return [run for run in self.api.dag_runs("~") if run["state"] in ("queued", "running")]

    def _settle_runs(self) -> None:
        """Let runs an earlier test left going (a schedule's run, an asset-triggered one) finish,
        then pause every DAG, so nothing writes to the store once it is emptied.

        Runs only go on while their DAG is unpaused (the scheduler leaves a paused DAG's runs
        alone), so the wait comes first; a run still active after it (a test that failed midway),
        or one created just before the pause, is failed and its tasks stopped.
        """
        with contextlib.suppress(TimeoutError):
            wait_for("no active DAG run", lambda: not self._active_runs(), timeout=60, interval=1.0)
        for dag_id in self.api.unpaused_dags():
            self.api.pause(dag_id)
        for run in self._active_runs():
            print(f"failing {run['dag_id']} {run['dag_run_id']} ({run['state']}): left by an earlier test")
            self.api.fail_run(run["dag_id"], run["dag_run_id"])
        in_flight = [("state", state) for state in UNFINISHED_TI_STATES]

        def settled() -> bool:
            path = "/api/v2/dags/~/dagRuns/~/taskInstances"
            return self.api.ok("GET", path, params=[*in_flight, ("limit", 1)])["total_entries"] == 0

        wait_for("no task instance in flight", settled, timeout=60, interval=1.0)

    def _store_tables(self) -> dict[str, bool]:
        """``{table: has rows}`` for the store's schema."""
        engine = create_engine(self.stack.store_url)
        try:
            with engine.connect() as conn:
                tables = conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
                    {"s": self.stack.store_schema},
                ).scalars()
                return {
                    t: conn.exec_driver_sql(
                        f'SELECT 1 FROM "{self.stack.store_schema}"."{t}" LIMIT 1'
                    ).first()
                    is not None
                    for t in tables
                }
        finally:
            engine.dispose()

    def _empty_store(self) -> None:
        """Every row the tests wrote goes; the schema and its Alembic version stay."""
        schema = self.stack.store_schema
        tables = ", ".join(f'"{schema}"."{t}"' for t in self._store_tables() if t not in self.seeded_tables)
        engine = create_engine(self.stack.store_url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
                conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
        finally:
            engine.dispose()


@contextlib.contextmanager
def shared_stack(pg_url: str) -> Iterator[SharedStack]:
    """Start the stack (CeleryExecutor, StatsD to a listener here) and wait until it is ready."""
    # Same Fernet key as this process (tests/conftest.py), so the tests can open the store too.
    fernet_key = os.environ["AIRFLOW__CORE__FERNET_KEY"]
    with (
        StatsdListener().running() as statsd,
        airflow_stack(
            pg_url,
            CALLBACK_URL,
            fernet_key=fernet_key,
            executor=CELERY_EXECUTOR,
            extra_env=statsd.airflow_env(),
        ) as stack,
    ):
        api = AirflowApi(stack)
        sim = SimulatorControl(stack.graph_base_url)
        try:
            shared = SharedStack(stack, api, sim, statsd)
            shared.wait_until_ready()
            yield shared
        finally:
            api.close()
            sim.close()
