"""The *WhatsApp Health* page in a real headless Chromium, inside a real Airflow.

``airflow api-server`` and ``airflow scheduler`` run on loopback with their own AIRFLOW_HOME
(SQLite metadata, DAGs serialized up front); the channel store is a fresh PostgreSQL schema
seeded through the simulator. The browser logs in on Airflow's login page, sees the fleet card on
Airflow's home, opens *WhatsApp Health* from Airflow's navigation (a React app in Airflow's own
page), completes a pending registration and follows the run link into Airflow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from include.graph_simulator.process import RunningSimulator, SimulatorControl, free_port
from tests.api.airflow_auth import PASSWORDS, server_env
from tests.api.fleet_seed import SPECS, SeededChannel, seed_fleet
from tests.support.simulator_fixtures import graph_connection
from tests.support.store_fixtures import connection_env_value
from tests.ui.airflow_servers import AirflowServers, run_airflow
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1500,1100",
)
WAIT_S = 30


def _require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python package selenium")
    if not missing:
        return
    reason = (
        f"browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver; pip selenium)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(f"!!! SKIPPING THE REAL-BROWSER TEST !!! {reason}")


@pytest.fixture
def seeded(
    pg_store: ChannelStore, sim: SimulatorControl, graph_conn_env: str
) -> Iterator[dict[str, SeededChannel]]:
    hook = WhatsAppGraphHook()
    try:
        yield seed_fleet(pg_store, sim, hook)
    finally:
        hook.close()


@pytest.fixture
def airflow(
    tmp_path: Path,
    pg_store: ChannelStore,
    simulator_process: RunningSimulator,
    sim: SimulatorControl,
    seeded: dict[str, SeededChannel],
) -> Iterator[AirflowServers]:
    _require_browser()
    home = tmp_path / "airflow-home"
    (home / "plugins").mkdir(parents=True)
    port = free_port()
    env = {
        **os.environ,
        **server_env(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT": connection_env_value(pg_store.target),
        "AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT": graph_connection(simulator_process.base_url, sim),
    }
    run_airflow(env, "db", "migrate")
    run_airflow(env, "dags", "reserialize")
    # Only the DAG under test runs: the hourly fleet audit stays paused and leaves the seed alone.
    run_airflow(env, "dags", "unpause", "whatsapp_register_channel")
    with AirflowServers(env, tmp_path, port) as servers:
        try:
            yield servers
        finally:  # shown by pytest when the test fails
            for name in ("api-server", "scheduler"):
                print(f"--- airflow {name} (tail) ---\n{servers.log_tail(name, 3000)}")


@pytest.fixture
def browser() -> Iterator[object]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path


def _console_errors(driver: object) -> list[str]:
    """Severe browser console entries (script errors, failed requests) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[attr-defined]


def test_health_page_in_airflow(
    airflow: AirflowServers, browser: object, seeded: dict[str, SeededChannel]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, WAIT_S)

    def testid(name: str) -> str:
        return f"[data-testid='{name}']"

    try:
        # 1. Airflow's own login page (SimpleAuthManager), as a user allowed to trigger DAGs.
        driver.get(f"{airflow.base_url}/")
        password = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "input[type=password]")))
        username = driver.find_element(By.CSS_SELECTOR, "input:not([type=password]):not([type=hidden])")
        username.send_keys("operator")
        password.send_keys(PASSWORDS["operator"], Keys.ENTER)

        # 2. Airflow's home shows the fleet card (a React app on the dashboard).
        card = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, testid("wa-card"))))
        wait.until(lambda d: f"{len(SPECS)} channels" in card.text)

        # 3. WhatsApp Health from Airflow's navigation: a native page, no frame.
        nav = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a[href$='plugin/whatsapp-health']")))
        nav.click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, testid("wa-fleet-row"))) == len(SPECS))
        assert not driver.find_elements(By.TAG_NAME, "iframe")
        _screenshot(driver, "whatsapp-health-fleet.png")

        # 4. The pending channel: its banner, WhatsApp Manager in a new tab, Complete registration.
        pending = seeded["pending"]
        key = f"{pending.account_id}-{pending.inbox_id}"
        driver.find_element(By.CSS_SELECTOR, f"{testid('wa-fleet-row')}[data-channel='{key}']").click()
        banner = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, testid("wa-banner"))))
        assert driver.current_url.endswith(f"plugin/whatsapp-health?channel={key}")
        manager = driver.find_element(By.CSS_SELECTOR, testid("wa-manager-link"))
        assert manager.get_attribute("href").startswith(
            "https://business.facebook.com/latest/whatsapp_manager/phone_numbers/"
        )
        assert manager.get_attribute("target") == "_blank"

        banner.find_element(By.CSS_SELECTOR, testid("wa-register-button")).click()
        outcome = wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, testid("wa-register-outcome")))
        )
        link = outcome.find_element(By.CSS_SELECTOR, testid("wa-run-link"))
        run_id = link.get_attribute("href").rsplit("/", 1)[1]
        assert run_id.startswith(f"register__{pending.account_id}_{pending.inbox_id}__")
        assert link.get_attribute("href").endswith(f"/dags/whatsapp_register_channel/runs/{run_id}")
        # The scheduler runs it: the page polls the run's outcome at Meta until it is final.
        WebDriverWait(driver, 90).until(
            lambda d: (
                d.find_element(By.CSS_SELECTOR, testid("wa-register-outcome")).get_attribute("data-kind")
                != "running"
            )
        )
        result = driver.find_element(By.CSS_SELECTOR, testid("wa-register-outcome")).text
        assert "null" not in result and "undefined" not in result, result
        shot = _screenshot(driver, "whatsapp-health-complete-registration.png")
        assert shot.stat().st_size > 10_000

        # 5. The run link navigates Airflow itself to the run.
        link.click()
        wait.until(lambda d: f"/dags/whatsapp_register_channel/runs/{run_id}" in d.current_url)
        assert _console_errors(driver) == []
    except BaseException:
        _screenshot(driver, "whatsapp-health-failure.png")
        raise

    # 6. The run exists in Airflow with the channel's ids, seen through Airflow's public API.
    token = httpx.post(
        f"{airflow.base_url}/auth/token", json={"username": "operator", "password": PASSWORDS["operator"]}
    ).json()["access_token"]
    run = httpx.get(
        f"{airflow.base_url}/api/v2/dags/whatsapp_register_channel/dagRuns/{run_id}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert run["conf"] == {"account_id": pending.account_id, "inbox_id": pending.inbox_id}
    assert run["triggered_by"] == "ui"
