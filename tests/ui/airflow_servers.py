"""Real Airflow processes for the browser test: ``api-server`` and ``scheduler`` on loopback.

Each gets its own process group (so uvicorn workers and executor children stop with it) and a
log file that a failing test prints. :class:`AirflowServers` always stops what it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

AIRFLOW = Path(sys.executable).with_name("airflow")


def run_airflow(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    """One ``airflow`` CLI command to completion (``db migrate``, ``dags reserialize``)."""
    result = subprocess.run([str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )


class AirflowServers(contextlib.AbstractContextManager["AirflowServers"]):
    def __init__(self, env: dict[str, str], logs: Path, port: int) -> None:
        self.env = env
        self.logs = logs
        self.port = port
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
        try:
            self.start(
                "api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"
            )
            self.start("scheduler", "scheduler")
            self.wait_for_api()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_api(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"airflow {name} exited with {process.returncode}:\n{self.log_tail(name)}"
                    )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"api-server not up within {timeout}s:\n{self.log_tail('api-server')}")

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
