"""Airflow's own processes on loopback, with SimpleAuthManager users whose passwords are known.

Shared by ``make demo-airflow`` (``include/demo_airflow.py``), the browser tests and
``bench/fleet_api.py``: one way to configure the users, to make separate processes agree on the
API's address and JWT secret, and to start and always stop ``airflow api-server``, ``scheduler``,
``dag-processor`` and ``triggerer``. Each component gets its own process group (so uvicorn
workers and executor children stop with it) and a log file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from include.graph_simulator.process import free_port

AIRFLOW = Path(sys.executable).with_name("airflow")
#: The Execution API route whose first request builds that API: Airflow's versioned routes (cadwyn)
#: are generated on the sub-app's first request, on the api-server's event loop, which answers
#: nothing else meanwhile: about 5 s on an idle 2-core machine, 23 s on a loaded one
#: (2026-12-07). Left to a task's first ``PATCH .../run``, it outlasted the task client's 5 s
#: timeout, and the onboarding's exchange then came later than a signup code's 30 s lifetime.
EXECUTION_API_PROBE = "/execution/health"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def simple_auth_env(home: Path, roles: Mapping[str, str], passwords: Mapping[str, str]) -> dict[str, str]:
    """SimpleAuthManager with these users (name -> role) and passwords, written to ``home``.

    Airflow generates a password for a user missing from the file; writing them first makes
    them known to whoever started Airflow (a test, the demo's banner).
    """
    passwords_file = home / "simple_auth_manager_passwords.json"
    passwords_file.write_text(json.dumps(dict(passwords)))
    passwords_file.chmod(0o600)
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in roles.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
    }


def server_auth_env(home: Path, roles: Mapping[str, str], passwords: Mapping[str, str]) -> dict[str, str]:
    """:func:`simple_auth_env` plus one JWT secret, which separate Airflow processes must share to
    sign and check each other's tokens (the browser's, the scheduler's task tokens)."""
    return {
        **simple_auth_env(home, roles, passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
    }


def loopback_env(port: int) -> dict[str, str]:
    """Where the API server listens, for the UI's links and the tasks' Execution API calls, and
    free ports for the scheduler's and triggerer's log servers (another Airflow on the host may
    hold the defaults)."""
    base_url = f"http://127.0.0.1:{port}"
    return {
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }


def build_execution_api(base_url: str, timeout: float) -> None:
    """Have the api-server at ``base_url`` build its Execution API now (:data:`EXECUTION_API_PROBE`),
    before a task calls it; returns once it answers."""
    httpx.get(f"{base_url}{EXECUTION_API_PROBE}", timeout=timeout).raise_for_status()


def run_airflow(env: Mapping[str, str], *args: str, timeout: float = 300) -> None:
    """One ``airflow`` CLI command to completion (``db migrate``, ``dags reserialize``)."""
    result = subprocess.run(
        [str(AIRFLOW), *args], env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )


class AirflowServers(contextlib.AbstractContextManager["AirflowServers"]):
    """``with AirflowServers(env, logs, port) as servers:`` starts ``components`` and waits for the
    API; on leaving (or a failed start) every process it started is stopped."""

    def __init__(
        self,
        env: Mapping[str, str],
        logs: Path,
        port: int,
        components: Sequence[str] = ("api-server", "scheduler"),
    ) -> None:
        self.env = dict(env)
        self.logs = logs
        self.port = port
        self.components = tuple(components)
        self.base_url = f"http://127.0.0.1:{port}"
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self._processes[name] = subprocess.Popen(
                [str(AIRFLOW), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def __enter__(self) -> AirflowServers:
        """The api-server first: the others start once it answers, since the tasks the scheduler
        launches (and the triggerer's) call its Execution API at once and fail when it is not up."""
        try:
            if "api-server" in self.components:
                host = ("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1")
                self.start("api-server", "api-server", *host)
                self.wait_for_api()
            for name in self.components:
                if name != "api-server":
                    self.start(name, name)
        except BaseException:
            self.stop()
            raise
        return self

    def check_running(self) -> None:
        """Raise (with its log's tail) if a component has exited."""
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def wait_for_api(self, timeout: float = 90) -> None:
        """The API answers, its Execution API built (:func:`build_execution_api`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    build_execution_api(self.base_url, timeout=max(deadline - time.monotonic(), 2))
                    return
            time.sleep(0.5)
        raise RuntimeError(f"api-server not up within {timeout}s:\n{self.log_tail('api-server')}")

    def pid(self, name: str) -> int:
        """The process id of a running component (benchmarks read its CPU time)."""
        return self._processes[name].pid

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def stop(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
