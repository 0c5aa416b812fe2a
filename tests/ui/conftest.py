"""One real stack for every browser test of this package, started once (package scope).

A Graph simulator process, a fresh PostgreSQL store schema seeded with one channel per situation
(:mod:`tests.ui.seed_situations`), ``airflow api-server`` and ``airflow scheduler`` on loopback
(own AIRFLOW_HOME, SQLite metadata, DAGs serialized up front, only the register DAG unpaused),
and one headless Chromium. Everything stops when the package's last test has run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from include.airflow_processes import AirflowServers, loopback_env
from include.graph_simulator.process import RunningSimulator, SimulatorProcess, free_port
from tests.api.airflow_auth import PASSWORDS, server_env
from tests.support.airflow_fixtures import copy_metadata_db, set_dag_paused
from tests.support.simulator_fixtures import GRAPH_CONN_ENV, graph_connection
from tests.support.store_fixtures import connection_env_value
from tests.ui.browser import Browser, new_driver, require_browser
from tests.ui.seed_situations import Situated, seed_situations
from whatsapp.store import ChannelStore, StoreTarget

REGISTER_DAG = "whatsapp_register_channel"


@dataclass
class UiStack:
    """What the browser tests reach: Airflow, the seeded store, the simulator, the seed's channels."""

    airflow: AirflowServers
    store: ChannelStore
    simulator: RunningSimulator
    channels: dict[str, Situated]

    @property
    def base_url(self) -> str:
        return self.airflow.base_url

    def delete_channel(self, channel_id: int) -> None:
        """Remove a channel a test added (raw SQL: the store deletes none, it offboards)."""
        with self.store.engine.begin() as conn:
            if self.store.target.schema:
                conn.execute(text(f'SET LOCAL search_path TO "{self.store.target.schema}"'))
            conn.execute(text("DELETE FROM channels WHERE id = :id"), {"id": channel_id})

    def api(self, user: str = "admin") -> httpx.Client:
        """Airflow's API (the plugin's routes too) with a JWT of ``user``; the caller closes it."""
        token = httpx.post(
            f"{self.base_url}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=30
        ).raise_for_status()
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=30,
        )


@pytest.fixture(scope="package")
def ui_store(pg_url: str) -> Iterator[ChannelStore]:
    """A migrated store in a fresh PostgreSQL schema of its own, dropped afterwards."""
    url = make_url(pg_url).set(drivername="postgresql+psycopg2")
    schema = f"wa_ui_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = ChannelStore.from_target(StoreTarget(url, schema))
    try:
        store.migrate()
        yield store
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="package")
def ui_simulator() -> Iterator[RunningSimulator]:
    """A simulator process of this package alone (other tests reset the session's one)."""
    with SimulatorProcess() as running:
        running.control.configure(require_appsecret_proof=True)
        yield running


@pytest.fixture(scope="package")
def ui_stack(
    tmp_path_factory: pytest.TempPathFactory,
    ui_store: ChannelStore,
    ui_simulator: RunningSimulator,
    airflow_db_serialized_template: Path,
) -> Iterator[UiStack]:
    require_browser()
    graph_conn = graph_connection(ui_simulator.base_url, ui_simulator.control)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(GRAPH_CONN_ENV, graph_conn)  # the seed's hook talks to this simulator
        from whatsapp.hooks.graph import WhatsAppGraphHook

        hook = WhatsAppGraphHook()
        try:
            channels = seed_situations(ui_store, ui_simulator.control, hook)
        finally:
            hook.close()

    tmp = tmp_path_factory.mktemp("airflow")
    home = tmp / "airflow-home"
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
        **loopback_env(port),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT": connection_env_value(ui_store.target),
        GRAPH_CONN_ENV: graph_conn,
    }
    # `airflow db migrate` and `airflow dags reserialize`, done once a run.
    copy_metadata_db(airflow_db_serialized_template, home / "airflow.db")
    # Only the DAG under test runs: the hourly fleet audit stays paused and leaves the seed alone.
    set_dag_paused(home / "airflow.db", REGISTER_DAG, paused=False)
    with AirflowServers(env, tmp, port) as servers:
        try:
            yield UiStack(servers, ui_store, ui_simulator, channels)
        finally:  # shown by pytest when a test fails
            for name in ("api-server", "scheduler"):
                print(f"--- airflow {name} (tail) ---\n{servers.log_tail(name, 3000)}")


@pytest.fixture(scope="package")
def chromium(ui_stack: UiStack) -> Iterator[Browser]:
    driver = new_driver()
    try:
        yield Browser(driver, ui_stack.base_url)
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """The suite's Chromium on its first window; each test leaves the plugin's page unmounted
    (:meth:`Browser.leave_page`), or after a failure a blank page.

    A failing test leaves ``failure-<test>.png`` next to the other screenshots.
    """
    driver = chromium.driver
    chromium.drain_console()  # drop what earlier tests left
    yield chromium
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    if failed:
        chromium.screenshot(f"failure-{request.node.name}.png")
    for handle in driver.window_handles[1:]:  # tabs a test opened (WhatsApp Manager)
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(driver.window_handles[0])
    # Leave the page: its 10 s refresh would otherwise keep asking for what this test
    # has since deleted, and the next test would read those 404s as its own console errors.
    # A failed test may have left the UI in any state: the next one starts from a blank page.
    if failed or not chromium.leave_page():
        driver.get("about:blank")
    chromium.drain_console()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
