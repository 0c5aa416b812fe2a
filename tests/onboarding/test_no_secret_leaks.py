"""After real onboarding runs, no code, token, PIN, verify token or app secret is anywhere it shouldn't be.

Scanned: everything the runs printed or logged, every table of Airflow's metadata database
(XCom, rendered template fields, triggers, task instances, the event log, ...), the task log
files, and a ``pg_dump`` of the store. Runs given the raw code in their conf have it in
``dag_run`` by design, so that table is left out for them; runs started from the signup intake
(conf ``{"signup_id"}``) are scanned everywhere, ``dag_run`` included, and the store's
ciphertexts of their secrets must not be in any log either.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select, table, text

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from whatsapp.domain.signup import Signup
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres


def metadata_db_text(skip: tuple[str, ...] = ("dag_run",), url: str | None = None) -> str:
    """Every row of every table of Airflow's metadata database (this process's, or at ``url``)."""
    engine = create_engine(url or os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    chunks = []
    with engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            if name in skip:
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


def log_files_text(root: Path | None = None, *, since: dict[Path, int] | None = None) -> str:
    """Every file under ``root`` (default: this process's Airflow task logs); with ``since``
    (:func:`log_sizes` taken earlier), only what was written after it (a shared stack's logs hold
    every earlier test's too)."""
    logs = root or Path(os.environ["AIRFLOW_HOME"]) / "logs"
    since = since or {}
    return "\n".join(
        p.read_bytes()[since.get(p, 0) :].decode(errors="replace")
        for p in sorted(logs.rglob("*"))
        if p.is_file()
    )


def log_sizes(root: Path) -> dict[Path, int]:
    """How long each log file under ``root`` is now (for :func:`log_files_text`'s ``since``)."""
    return {p: p.stat().st_size for p in root.rglob("*") if p.is_file()}


def number_secrets(sim: SimulatorControl, store: ChannelStore, number: dict[str, Any]) -> dict[str, str]:
    """The code, every token, the PIN and verify token Meta and the store hold for one number."""
    phone = number["phone_number_id"]
    state = sim.number(phone)
    secrets = {f"code {phone}": number["code"]}
    for i, token in enumerate(state["tokens"]):
        secrets[f"token {i} {phone}"] = token["access_token"]
    if state.get("pin"):
        secrets[f"pin {phone}"] = state["pin"]
    verify = (state.get("webhook_configuration") or {}).get("verify_token")
    if verify:
        secrets[f"verify token {phone}"] = verify
    channel = store.channels.by_phone_number(phone)
    credentials = store.channels.credentials(channel.id)
    secrets[f"stored pin {channel.id}"] = credentials.pin
    secrets[f"stored verify token {channel.id}"] = credentials.verify_token
    return secrets


def stored_ciphertexts(store: ChannelStore) -> dict[str, str]:
    """Every encrypted value in the store (tokens, PINs, verify tokens, codes still held)."""
    chunks: dict[str, str] = {}
    with store.engine.connect() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{store.target.schema}"')
        for name in inspect(conn).get_table_names():
            columns = [c["name"] for c in inspect(conn).get_columns(name) if c["name"].endswith("_enc")]
            for column in columns:
                for (value,) in conn.execute(select(text(f'"{column}"')).select_from(table(name))):
                    if value:
                        chunks[f"{name}.{column} ...{value[-12:]}"] = value
    return chunks


#: The microseconds of a datetime's repr, as Airflow's logs print them ("DateTime(2026, 12, 7, 19,
#: 17, 46, 509753, tzinfo=..."): six digits of chance, never a secret.
_REPR_MICROSECONDS = re.compile(r"(\(\d{4}(?:, \d{1,2}){5}), \d{1,6}(?=[,)])")


def leaks_in(places: dict[str, str], secrets: dict[str, str]) -> list[str]:
    """Each secret found in each place.

    A secret of digits (a 6-digit PIN) counts only as a number of its own, as a leaked PIN is
    printed: not within a longer number, a hex id or a hash (a letter beside it), nor after a dot
    (the fraction of a timestamp's seconds, a float), nor as a datetime repr's microseconds. One
    onboarding test's places held about 800 runs of six digits of those kinds, each as likely as
    any other to equal a random PIN: the check failed once by chance (2026-12-07).
    """
    found = []
    for where, body in places.items():
        digits_body = _REPR_MICROSECONDS.sub(r"\1", body)
        for what, value in secrets.items():
            if value.isdigit():
                leaked = re.search(rf"(?<![0-9A-Za-z.]){value}(?![0-9A-Za-z])", digits_body) is not None
            else:
                leaked = value in body
            if leaked:
                found.append(f"{what} in {where}")
    return found


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
        secrets.update(number_secrets(sim, pg_store_env, number))
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
    assert leaks_in(places, secrets) == []


def test_intake_signups_leave_no_secret_anywhere_dag_run_and_event_log_included(
    onboarding: Any,
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    numbers = [sim.add_number(name_status="APPROVED"), sim.add_number(name_status="APPROVED", pin="111111")]
    ciphertexts: dict[str, str] = {}
    for number in numbers:
        keys = ("code", "business_id", "waba_id", "phone_number_id")
        signup = Signup.from_mapping({"account_id": 1, **{key: number[key] for key in keys}})
        signup_id = pg_store_env.signups.receive(signup).signup_id
        ciphertexts.update(stored_ciphertexts(pg_store_env))  # the code's, before the run spends it
        onboarding(signup_id=signup_id)
    ciphertexts.update(stored_ciphertexts(pg_store_env))
    assert sum(1 for key in ciphertexts if key.startswith("signup_intake.code_enc")) == 2

    secrets: dict[str, str] = {"app secret": sim.app_secret}
    for number in numbers:
        secrets.update(number_secrets(sim, pg_store_env, number))
    logs = {
        "printed output": "".join(capfd.readouterr()),
        "logging": caplog.text,
        "task log files": log_files_text(),
    }
    places = {**logs, "metadata database": metadata_db_text(skip=()), "store dump": store_dump(pg_store_env)}
    assert "signup_id" in places["metadata database"]  # dag_run.conf is in the scan
    assert "Channel saved" in places["printed output"] + places["task log files"] + places["logging"]
    assert leaks_in(places, secrets) == []
    assert leaks_in({**logs, "metadata database": places["metadata database"]}, ciphertexts) == []


@pytest.mark.parametrize(
    "text",
    ["pin=123456 ok", '{"pin": "123456"}', "PIN 123456\n", "{'pin': '123456'}", "123456", "(123456)"],
)
def test_a_pin_printed_as_itself_is_a_leak(text: str) -> None:
    assert leaks_in({"log": text}, {"pin": "123456"}) == ["pin in log"]


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-07T19:17:46.123456Z",
        "DateTime(2026, 12, 7, 19, 17, 46, 123456, tzinfo=Timezone('UTC'))",
        "datetime.datetime(2026, 12, 7, 9, 5, 3, 123456)",
        "ti 01a2518e-b12d-7e5b-a50a-ab123456cdef",
        "duration 0.123456,",
        "pid 1234567",
    ],
)
def test_six_digits_of_a_timestamp_id_or_longer_number_are_not_a_pin(text: str) -> None:
    assert leaks_in({"log": text}, {"pin": "123456"}) == []
