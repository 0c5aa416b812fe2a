"""A real Airflow on loopback for the end-to-end test: its own databases, env, processes and logs.

``dag.test()`` runs every task in one process and never goes through the scheduler, the
executor, the triggerer or the REST API; this stack does, so what only breaks there (task
serialization, deferral across processes, connections read by every component) shows up.

Everything is isolated per run: fresh PostgreSQL databases (dropped afterwards), an own
``AIRFLOW_HOME``, free ports, and an environment built from scratch (never the test
process's, whose ``AIRFLOW_*`` variables belong to the in-process tests). Every process runs
in its own session so stopping it reaches its children (executor workers, task supervisors,
API workers) too.

``executor="CeleryExecutor"`` adds ``celery_workers`` ``airflow celery worker`` processes (Redis
on 127.0.0.1:6379 as broker, the metadata database as result backend, a queue of their own so
concurrent runs never take each other's tasks). Each worker reports its own name as the task
instances' ``hostname`` (:mod:`tests.e2e.worker_identity`), as separate machines would.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
from sqlalchemy.engine import URL, make_url

from tests.support.store_fixtures import admin_execute

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_ROOT = REPO_ROOT / "test-artifacts" / "e2e"
#: Older run folders beyond this many are deleted, so repeated ``make test`` runs do not pile up.
KEEP_ARTIFACT_RUNS = 5
BIN = Path(sys.executable).parent
ADMIN_USER = "admin"
#: Lines of each process log printed when the test fails.
TAIL_LINES = 60
#: The Graph connection's ``webhook_verify_token`` (Meta's subscription check answers with it).
WEBHOOK_VERIFY_TOKEN = "e2e-webhook-verify-token"
LOCAL_EXECUTOR = "LocalExecutor"
CELERY_EXECUTOR = "CeleryExecutor"
#: The Celery settings docker-compose.yaml must share with the test (tests/deploy checks it):
#: the broker is Redis, database 0; results go to the metadata database through SQLAlchemy.
CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
CELERY_RESULT_BACKEND_SCHEME = "db+postgresql"
#: Worker processes per Celery worker: two workers x two slots on a loaded 2-core machine.
CELERY_WORKER_CONCURRENCY = 2
#: Names a worker gives itself as the task instances' hostname (see worker_identity.py).
WORKER_NAME_ENV = "WHATSAPP_E2E_WORKER"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(description: str, check: Callable[[], Any], *, timeout: float, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail with what was awaited and the last value.

    Connection errors from ``check`` count as "not yet" (a server still starting refuses
    connections) and the last one is reported, so a timeout says why rather than just "timed
    out". Any other exception (a dead component, a failed assertion) ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except (httpx.TransportError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {description}; last: {last!r}")
        time.sleep(interval)


@dataclass
class ManagedProcess:
    """One long-running Airflow (or simulator) process writing to its own log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    descendants: list[psutil.Process] = field(default_factory=list)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = TAIL_LINES) -> str:
        with contextlib.suppress(OSError):
            text_lines = self.log_path.read_text("utf-8", "replace").splitlines()
            return "\n".join(text_lines[-lines:])
        return "(no log)"

    def terminate(self) -> None:
        """SIGTERM to the whole process group (remembering descendants that might leave it)."""
        if not self.alive():
            return
        with contextlib.suppress(psutil.Error):
            self.descendants = psutil.Process(self.popen.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the group and to any remembered descendant still running, then reap."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        for proc in self.descendants:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self.log_file.close()


def stop_all(processes: list[ManagedProcess], grace: float) -> None:
    """Stop every process in parallel: SIGTERM all, wait up to ``grace`` in total, SIGKILL the rest."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes:
        process.kill()


@dataclass
class AirflowStack:
    """The running stack: where it listens, its credentials, and its processes."""

    run_dir: Path
    pg_admin_url: URL
    meta_db: str
    store_db: str
    store_schema: str
    api_port: int
    admin_password: str
    fernet_key: str
    graph_base_url: str
    callback_url: str
    env: dict[str, str] = field(default_factory=dict)
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def store_url(self) -> URL:
        return self.pg_admin_url.set(database=self.store_db)

    def start(
        self, name: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> ManagedProcess:
        """Start ``args`` in a new session (its own process group), output to ``<name>.log``.

        ``env`` adds to (or overrides) the stack's environment for this process only.
        """
        log_path = self.run_dir / f"{name}.log"
        log_file = log_path.open("ab")
        popen = subprocess.Popen(
            list(args),
            cwd=cwd or self.run_dir,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = ManagedProcess(name, popen, log_path, log_file)
        self.processes.append(process)
        return process

    def run(self, name: str, *args: str, timeout: float) -> None:
        """Run a one-shot command to completion; its output is kept as ``<name>.log``."""
        process = self.start(name, *args)
        try:
            returncode = process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_all([process], grace=5)
            raise TimeoutError(f"{name} did not finish within {timeout:.0f}s:\n{process.tail()}") from None
        process.log_file.close()
        self.processes.remove(process)
        if returncode != 0:
            raise RuntimeError(f"{name} exited with {returncode}:\n{process.tail()}")

    def check_alive(self) -> None:
        """Fail fast, with its log, when a component died instead of waiting out a timeout."""
        for process in self.processes:
            if not process.alive():
                raise RuntimeError(
                    f"{process.name} exited with {process.popen.returncode}:\n{process.tail()}"
                )

    def wait_for_log(self, name: str, needles: tuple[str, ...], timeout: float) -> str:
        """Wait for a line of ``<name>.log`` containing every needle; returns that line."""
        log_path = self.run_dir / f"{name}.log"

        def line_found() -> str | None:
            self.check_alive()
            for line in log_path.read_text("utf-8", "replace").splitlines():
                if all(needle in line for needle in needles):
                    return line
            return None

        return wait_for(f"a line with {needles} in {log_path.name}", line_found, timeout=timeout)

    def tails(self) -> str:
        return "\n\n".join(
            f"===== {p.name} ({p.log_path}) last {TAIL_LINES} lines =====\n{p.tail()}" for p in self.processes
        )


def _new_run_dir() -> Path:
    ARTIFACTS_ROOT.mkdir(parents=True, exist_ok=True)
    old_runs = sorted(p for p in ARTIFACTS_ROOT.iterdir() if p.is_dir())
    for stale in old_runs[: max(0, len(old_runs) - KEEP_ARTIFACT_RUNS + 1)]:
        shutil.rmtree(stale, ignore_errors=True)
    run_dir = ARTIFACTS_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir()
    return run_dir


def _base_env() -> dict[str, str]:
    """Only what a process needs from the outside world; nothing Airflow- or test-specific."""
    # PYTHONPATH: a git worktree puts its own ``plugins`` before the venv's editable install.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "PYTHONPATH")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONUNBUFFERED"] = "1"
    # This checkout's provider and test helpers, whatever the venv's editable install points at.
    env["PYTHONPATH"] = f"{REPO_ROOT / 'plugins'}{os.pathsep}{REPO_ROOT}"
    return env


def celery_env(stack: AirflowStack, queue: str) -> dict[str, str]:
    """What CeleryExecutor adds for every component (the same settings as docker-compose.yaml)."""
    meta = stack.pg_admin_url.set(drivername="postgresql", database=stack.meta_db)
    backend = f"db+{meta.render_as_string(hide_password=False)}"
    assert backend.startswith(f"{CELERY_RESULT_BACKEND_SCHEME}://"), backend
    return {
        "AIRFLOW__CORE__EXECUTOR": CELERY_EXECUTOR,
        "AIRFLOW__CELERY__BROKER_URL": CELERY_BROKER_URL,
        "AIRFLOW__CELERY__RESULT_BACKEND": backend,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CELERY_WORKER_CONCURRENCY),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.e2e.worker_identity.hostname",
    }


def _forget_queue(queue: str) -> None:
    """Drop what kombu leaves in Redis for a queue (its binding set); the queue itself is empty."""
    import redis

    client = redis.Redis.from_url(CELERY_BROKER_URL, socket_timeout=5)
    try:
        client.delete(queue, f"_kombu.binding.{queue}")
    finally:
        client.close()


def airflow_env(stack: AirflowStack, home: Path, plugins: Path) -> dict[str, str]:
    """The configuration every component shares, as a deployment would set it (env vars only)."""
    meta_url = stack.pg_admin_url.set(database=stack.meta_db).render_as_string(hide_password=False)
    store = stack.store_url
    api = stack.api_url
    return {
        **_base_env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        # The provider is installed; its plugin comes from the entry point, never this (empty) folder.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__FERNET_KEY": stack.fernet_key,
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(stack.api_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        # Default log-server ports (8793/8794) may be taken by another Airflow on this machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(stack.run_dir / "task-logs"),
        # Pick the DAG files up within seconds instead of minutes; parse them once.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
        "AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT": json.dumps(
            {
                "conn_type": "whatsapp_graph",
                "host": stack.graph_base_url,
                "login": "1234567890123456",
                "password": "sim-app-secret",
                "extra": {
                    "api_version": "v24.0",
                    "callback_url": stack.callback_url,
                    "webhook_verify_token": WEBHOOK_VERIFY_TOKEN,
                },
            }
        ),
        "AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT": json.dumps(
            {
                "conn_type": "postgres",
                "host": store.host,
                "port": store.port,
                "login": store.username,
                "password": store.password,
                "schema": store.database,
                "extra": {"schema": stack.store_schema},
            }
        ),
    }


@contextlib.contextmanager
def airflow_stack(
    pg_url: str,
    callback_url: str,
    *,
    fernet_key: str,
    executor: str = LOCAL_EXECUTOR,
    celery_workers: int = 2,
    extra_env: dict[str, str] | None = None,
    simulator_args: tuple[str, ...] = (),
) -> Iterator[AirflowStack]:
    """Start the simulator, create and migrate the databases, start the four Airflow components.

    With ``executor=CELERY_EXECUTOR`` also ``celery_workers`` Celery workers (``worker-1``, ...).
    ``extra_env`` is added to every component's environment (e.g. StatsD settings);
    ``simulator_args`` go to the simulator (e.g. ``("--latency-ms", "100")``).

    Cleanup is in ``finally`` here (not in a fixture finalizer) so it also runs on a failed
    assertion, a pytest-timeout and Ctrl-C: every process stopped, both databases dropped. On
    any failure the tail of every log is printed; the full logs stay under ``test-artifacts/e2e/``.
    ``pg_url`` is the test server (its databases host the new ones); ``fernet_key`` is shared with
    the test process so it can read the store's secrets.
    """
    suffix = uuid.uuid4().hex[:10]
    run_dir = _new_run_dir()
    sim_port = _free_port()
    stack = AirflowStack(
        run_dir=run_dir,
        pg_admin_url=make_url(pg_url).set(drivername="postgresql+psycopg2"),
        meta_db=f"wa_e2e_{suffix}_airflow",
        store_db=f"wa_e2e_{suffix}_store",
        store_schema="whatsapp",
        api_port=_free_port(),
        admin_password=secrets.token_urlsafe(12),
        fernet_key=fernet_key,
        graph_base_url=f"http://127.0.0.1:{sim_port}",
        callback_url=callback_url,
    )
    home = run_dir / "airflow-home"
    plugins = home / "plugins"
    plugins.mkdir(parents=True)
    # SimpleAuthManager reads passwords from this file and only generates ones for missing users.
    (home / "passwords.json").write_text(json.dumps({ADMIN_USER: stack.admin_password}))
    if executor not in (LOCAL_EXECUTOR, CELERY_EXECUTOR):
        raise ValueError(f"unsupported executor {executor!r}")
    queue = f"wa_e2e_{suffix}"
    stack.env = airflow_env(stack, home, plugins)
    if executor == CELERY_EXECUTOR:
        stack.env.update(celery_env(stack, queue))
    stack.env.update(extra_env or {})
    created: list[str] = []
    try:
        for database in (stack.meta_db, stack.store_db):
            admin_execute(stack.pg_admin_url, f'CREATE DATABASE "{database}"')
            created.append(database)
        stack.start(
            "graph-simulator",
            sys.executable,
            "-m",
            "include.graph_simulator",
            "--port",
            str(sim_port),
            *simulator_args,
            cwd=REPO_ROOT,
        )
        airflow = str(BIN / "airflow")
        stack.run("airflow-db-migrate", airflow, "db", "migrate", timeout=180)
        stack.run("whatsapp-fleet-migrate", str(BIN / "whatsapp-fleet"), "migrate", timeout=60)
        stack.start("api-server", airflow, "api-server", "--port", str(stack.api_port))
        stack.start("scheduler", airflow, "scheduler")
        stack.start("dag-processor", airflow, "dag-processor")
        stack.start("triggerer", airflow, "triggerer")
        if executor == CELERY_EXECUTOR:
            for number in range(1, celery_workers + 1):
                name = f"worker-{number}"
                stack.start(
                    name,
                    airflow,
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"{name}@{queue}",
                    "--without-mingle",
                    "--without-gossip",
                    # Two workers on one machine: each serves its task logs on its own port.
                    env={
                        WORKER_NAME_ENV: name,
                        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
                    },
                )
        yield stack
    except BaseException:
        print(f"\nend-to-end stack logs: {run_dir}\n{stack.tails()}", file=sys.stderr)
        raise
    finally:
        try:
            stop_all(stack.processes, grace=15)
        finally:
            for database in created:
                admin_execute(stack.pg_admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            if executor == CELERY_EXECUTOR:
                _forget_queue(queue)
