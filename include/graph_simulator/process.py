"""Run the Graph API simulator as a real subprocess and drive its ``/_sim`` control API.

Shared by the tests, the benchmarks and ``make demo``.

Tests talk to the simulator over loopback exactly as the hook talks to Meta, so the
process is real (``python -m include.graph_simulator``), not an in-process ASGI app.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from include.graph_simulator.state import DEFAULT_APP_ID, DEFAULT_APP_SECRET

REPO_ROOT = Path(__file__).resolve().parents[2]  # include/graph_simulator/process.py -> repo


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SimulatorControl:
    """Typed helpers for every control route (see include/graph_simulator/README.md)."""

    def __init__(self, base_url: str, *, app_id: str = DEFAULT_APP_ID, app_secret: str = DEFAULT_APP_SECRET):
        self.base_url = base_url
        self.app_id = app_id
        self.app_secret = app_secret
        self.http = httpx.Client(base_url=base_url, timeout=30.0)

    @property
    def app_token(self) -> str:
        return f"{self.app_id}|{self.app_secret}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"/_sim{path}", **kwargs)
        if response.is_error:
            raise AssertionError(f"{method} /_sim{path} -> {response.status_code}: {response.text}")
        return response.json()

    def reset(self) -> None:
        self._call("POST", "/reset")

    def add_number(self, **state: Any) -> dict[str, Any]:
        """``{"business_id", "waba_id", "phone_number_id", "display_phone_number", "code"}``."""
        return self._call("POST", "/numbers", json=state)

    def add_numbers(self, count: int | None = None, **options: Any) -> dict[str, Any]:
        """Bulk create: ``{"numbers": [...], "tokens": {waba_id: token}}``."""
        body = {"count": count, **options} if count is not None else options
        return self._call("POST", "/numbers/bulk", json=body)

    def update_number(self, phone_number_id: str, **state: Any) -> dict[str, Any]:
        return self._call("POST", f"/numbers/{phone_number_id}", json=state)

    def number(self, phone_number_id: str) -> dict[str, Any]:
        return self._call("GET", f"/numbers/{phone_number_id}")

    def new_code(self, waba_id: str) -> str:
        return self._call("POST", "/codes", json={"waba_id": waba_id})["code"]

    def new_token(self, waba_id: str) -> str:
        return self._call("POST", "/tokens", json={"waba_id": waba_id})["access_token"]

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/clock", json={"advance_seconds": seconds})

    def clock(self) -> dict[str, Any]:
        return self._call("GET", "/clock")

    def configure(self, **settings: Any) -> dict[str, Any]:
        return self._call("POST", "/config", json=settings)

    def webhooks(self) -> list[dict[str, Any]]:
        return self._call("GET", "/webhooks")

    def account_update(self, waba_id: str, event: str, **details: Any) -> dict[str, Any]:
        return self._call(
            "POST", "/webhooks/account_update", json={"waba_id": waba_id, "event": event, **details}
        )

    def app_disconnect(self, phone_number_id: str, **disconnection: Any) -> dict[str, Any]:
        """The business disconnects its WhatsApp Business app number (``reason``, ``initiated_by``)."""
        return self._call("POST", f"/numbers/{phone_number_id}/app_disconnect", json=disconnection)

    def app_device_change(self, phone_number_id: str, phase: str) -> dict[str, Any]:
        """``phase``: ``offboarded`` or ``reconnected``."""
        return self._call("POST", f"/numbers/{phone_number_id}/app_device_change", json={"phase": phase})

    def echo(self, phone_number_id: str, **message: Any) -> dict[str, Any]:
        """A text sent from the WhatsApp Business app (``to``, ``text``)."""
        return self._call("POST", f"/numbers/{phone_number_id}/echo", json=message)

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", json=spec)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/calls", params={"path": path} if path else None)

    def clear_calls(self) -> None:
        self._call("DELETE", "/calls")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def close(self) -> None:
        self.http.close()


@dataclass(frozen=True)
class RunningSimulator:
    base_url: str
    control: SimulatorControl
    pid: int


class SimulatorProcess(contextlib.AbstractContextManager["RunningSimulator"]):
    """``with SimulatorProcess() as sim:`` starts the server, waits for it, always stops it.

    ``args`` are command-line options; ``http2=True`` adds ``--http2`` (Hypercorn: HTTP/2 with
    prior knowledge and HTTP/1.1 on one port, instead of uvicorn's HTTP/1.1).

    The start-up wait is generous: on a busy 2-core machine (parallel test workers, each starting
    Airflow processes) importing the simulator took more than 20 s.
    """

    def __init__(
        self, *args: str, port: int | None = None, http2: bool = False, startup_timeout: float = 60.0
    ) -> None:
        self.port = port or free_port()
        self.args = [*args, "--http2"] if http2 else list(args)
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        self._control: SimulatorControl | None = None

    def __enter__(self) -> RunningSimulator:
        command = [sys.executable, "-m", "include.graph_simulator", "--port", str(self.port), *self.args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Output goes to a file, not a pipe nobody drains, which could stall the server.
        self._process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=self._output, stderr=subprocess.STDOUT, env=env
        )
        base_url = f"http://127.0.0.1:{self.port}"
        try:
            self._wait_until_up(base_url)
        except BaseException:
            self._stop()
            raise
        app_id = self._arg("--app-id", DEFAULT_APP_ID)
        app_secret = self._arg("--app-secret", DEFAULT_APP_SECRET)
        self._control = SimulatorControl(base_url, app_id=app_id, app_secret=app_secret)
        return RunningSimulator(base_url, self._control, self._process.pid)

    def _arg(self, name: str, default: str) -> str:
        return self.args[self.args.index(name) + 1] if name in self.args else default

    def _wait_until_up(self, base_url: str) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"simulator exited with {self._process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{base_url}/_sim/clock", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"simulator did not answer within {self.startup_timeout}s:\n{self.output()}")

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode("utf-8", "replace")

    def _stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._control is not None:
                self._control.close()
        finally:
            self._stop()
            self._output.close()

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode


def onboarding_conf(number: dict[str, Any], *, account_id: int = 1, **extra: Any) -> dict[str, Any]:
    """A signup the simulator created (``add_number``): the body of the signup intake, and the raw
    ``whatsapp_onboarding`` conf that ``dag.test()`` takes (Airflow's REST API refuses it)."""
    return {
        "account_id": account_id,
        "code": number["code"],
        "business_id": number["business_id"],
        "waba_id": number["waba_id"],
        "phone_number_id": number["phone_number_id"],
        **extra,
    }
