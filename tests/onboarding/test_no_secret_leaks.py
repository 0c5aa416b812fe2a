"""After real onboarding runs, no code, token, PIN, verify token or app secret is anywhere it shouldn't be.

Scanned: everything the runs printed or logged, every table of Airflow's metadata database
(XCom, rendered template fields, triggers, task instances, ...) except ``dag_run``, whose
``conf`` is how the single-use code arrives, the task log files, and a ``pg_dump`` of the store.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select, table, text

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres


def metadata_db_text() -> str:
    engine = create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    chunks = []
    with engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            if name == "dag_run":
                continue
            columns = [c["name"] for c in inspect(conn).get_columns(name)]
            rows = conn.execute(select(*(text(f'"{c}"') for c in columns)).select_from(table(name))).all()
            chunks.append(f"{name}: {rows!r}")
    engine.dispose()
    return "\n".join(chunks)


def store_dump(store: ChannelStore) -> str:
    url = store.target.url
    command = ["pg_dump", "--no-owner", "-h", url.host, "-p", str(url.port or 5432), "-U", url.username]
    command += ["-n", store.target.schema, url.database]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout


def log_files_text() -> str:
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return "\n".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file())


def test_secrets_appear_nowhere(
    onboarding: Any,
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    approved = sim.add_number(name_status="APPROVED")
    wrong_pin = sim.add_number(name_status="APPROVED", pin="111111")
    declined = sim.add_number(name_status="DECLINED")
    for number in (approved, wrong_pin, declined):
        onboarding(**onboarding_conf(number))

    secrets: dict[str, str] = {"app secret": sim.app_secret}
    for number in (approved, wrong_pin, declined):
        state = sim.number(number["phone_number_id"])
        secrets[f"code {number['phone_number_id']}"] = number["code"]
        for i, token in enumerate(state["tokens"]):
            secrets[f"token {i} {number['phone_number_id']}"] = token["access_token"]
        if state.get("pin"):
            secrets[f"pin {number['phone_number_id']}"] = state["pin"]
        verify = (state.get("webhook_configuration") or {}).get("verify_token")
        if verify:
            secrets[f"verify token {number['phone_number_id']}"] = verify
        channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
        credentials = pg_store_env.channels.credentials(channel.id)
        secrets[f"stored pin {channel.id}"] = credentials.pin
        secrets[f"stored verify token {channel.id}"] = credentials.verify_token
    assert len(secrets) >= 12  # codes, tokens, PINs, verify tokens: the scan has something to find

    output = "".join(capfd.readouterr())
    places = {
        "printed output": output,
        "logging": caplog.text,
        "task log files": log_files_text(),
        "metadata database": metadata_db_text(),
        "store dump": store_dump(pg_store_env),
    }
    assert "exchange_and_save" in places["metadata database"]  # the scan reads real rows
    task_logs = places["printed output"] + places["task log files"] + places["logging"]
    assert "Graph register: POST" in task_logs and "Channel saved" in task_logs  # ... and the tasks' logs
    assert "CREATE TABLE" in places["store dump"]
    leaks = [
        f"{what} in {where}"
        for where, body in places.items()
        for what, value in secrets.items()
        if value in body
    ]
    assert leaks == []
