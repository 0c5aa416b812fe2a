"""``make demo`` then ``make demo-airflow`` as a user runs them, and the WhatsApp Health page they lead to.

Both entry points run from the repository as subprocesses (in a home of the test's, on a free
port); the demo's printed next step ``whatsapp-fleet show`` is run as printed; Chromium logs in
with the user and password ``demo-airflow`` printed and finds the demo's fleet on the page. One
Airflow start; everything started is stopped, also when an assertion fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from include.graph_simulator.process import free_port
from tests.ui.browser import FIRST_PAGE_WAIT_S, Browser, new_driver, require_browser

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_WIDTH = 160
#: The demo's 5 signups plus its 16 channels onboarded earlier.
DEMO_CHANNELS = 21
PHONE = re.compile(r"\+1 555-\d{3}-\d{4}")


def user_env() -> dict[str, str]:
    """A user's shell: none of the test session's Airflow settings."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW")}


def run_demo(home: Path) -> str:
    demo = subprocess.run(
        [sys.executable, "-m", "include.demo", "--home", str(home)],
        cwd=REPO_ROOT,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, f"demo failed:\n{demo.stdout[-4000:]}\n{demo.stderr[-4000:]}"
    return demo.stdout


class Lines:
    """A subprocess's output read on a thread, so waiting for a line never blocks on the pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Iterator[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, marker: str, process: subprocess.Popen[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.text:
                return self.text
            assert process.poll() is None, f"demo-airflow exited with {process.returncode}:\n{self.text}"
            time.sleep(0.5)
        raise AssertionError(f"no {marker!r} within {timeout}s:\n{self.text}")


@contextlib.contextmanager
def demo_airflow(home: Path, port: int) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """``python -m include.demo_airflow``, stopped by SIGTERM (as Ctrl-C) on leaving; whatever of
    its process tree outlives that is killed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "include.demo_airflow", "--home", str(home), "--port", str(port)],
        cwd=REPO_ROOT,
        env={**user_env(), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = Lines(process)
    try:
        yield process, lines
    finally:
        descendants: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            descendants = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        for leftover in descendants:
            with contextlib.suppress(psutil.Error):
                leftover.kill()


# `make demo`, then four Airflow components and a new Chromium: 286 s of the default 300 on a
# slow day's loaded 2-core machine (2026-12-07); its own steps wait up to 600 + 300 s.
@pytest.mark.timeout(900)
def test_demo_then_demo_airflow_show_the_fleet_on_the_health_page(tmp_path: Path) -> None:
    require_browser()
    home = tmp_path / "demo"
    out = run_demo(home)

    widest = max(out.splitlines(), key=len)
    assert len(widest) <= MAX_WIDTH, f"{len(widest)} columns: {widest}"
    assert "Meta refused: display name not ready (100/2388001) — next try " in out
    assert "no register call needed" in out and "register success" not in out
    phones = set(PHONE.findall(out))
    assert len(phones) == DEMO_CHANNELS, phones

    # The printed next step, as printed (relative paths are the repository's).
    [show] = [line.strip() for line in out.splitlines() if "whatsapp-fleet show " in line]
    name, _, command = show.partition(" ")
    assert name.startswith("AIRFLOW_HOME="), show
    shown = subprocess.run(
        shlex.split(command),
        cwd=REPO_ROOT,
        env={**user_env(), "AIRFLOW_HOME": name.removeprefix("AIRFLOW_HOME=")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "display_name_not_ready" in shown.stdout and "success" in shown.stdout, shown.stdout

    port = free_port()
    with demo_airflow(home, port) as (process, lines):
        banner = lines.wait_for("Ctrl-C stops everything", process, timeout=300)
        assert max(len(line) for line in banner.splitlines()) <= MAX_WIDTH, banner
        url = re.search(r"URL:\s+(\S+)", banner)
        login = re.search(r"login:\s+(\S+) / (\S+)", banner)
        page = re.search(r"WhatsApp Health:\s+(\S+)", banner)
        assert url and login and page, banner
        assert url[1] == f"http://127.0.0.1:{port}" and page[1].startswith(url[1])

        driver = new_driver()
        try:
            browser = Browser(driver, url[1])
            browser.login(login[1], login[2])
            driver.get(page[1])
            # The page's first load in this Chromium: Airflow's bundle, then the plugin's, then the
            # fleet (over 30 s on a loaded machine, 2026-12-07).
            assert len(browser.wait_rows(timeout=FIRST_PAGE_WAIT_S)) > 0

            def all_listed(_: object) -> bool:
                text = driver.execute_script("return document.body.innerText")
                return all(phone in text for phone in phones)

            browser.wait(all_listed, message=f"not every demo number listed: {sorted(phones)}")
            browser.screenshot("demo-health-page.png")
        finally:
            driver.quit()
    assert process.returncode == 0, lines.text
    assert "Stopped Airflow and the simulator" in lines.text
