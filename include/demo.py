"""``make demo``: the whole story on embedded defaults, in about a minute.

A Graph API simulator stands in for Meta; Airflow's metadata and the channel store are SQLite
files under ``build/demo`` (made anew on every run, configured by its ``airflow.cfg`` alone, with
the DAGs unpaused: ``AIRFLOW*`` variables of the calling shell are ignored). Four customers
finish Embedded Signup:

* one whose display name is already approved: onboarded and registered at once;
* one whose name is still in review: the sensor defers, the review completes, it registers;
* one whose name Meta cannot certify yet (100/2388001): registration is scheduled, not looped;
* one already provisioned elsewhere: no register call at all.

For each, the demo says what Meta answered the register call (from the attempts the store
kept). Then a small fleet is audited in batches, the stuck registration is retried once its name
is fixed, the fleet's health table is printed, and what to look at next: ``whatsapp-fleet show``
for one channel, and ``make demo-airflow`` (``include/demo_airflow.py``) for Airflow's UI and the
WhatsApp Health page on this state. The simulator saves its state in ``build/demo`` when it stops,
so that command can start it again with the same numbers and tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from include.graph_simulator.process import SimulatorControl, SimulatorProcess, onboarding_conf

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = REPO_ROOT / "build" / "demo"
FLEET_SIZE = 16
#: Like a Meta app with "Require App Secret" on: every business-token call needs appsecret_proof.
SIMULATOR_ARGS = ("--require-appsecret-proof",)
#: Where the api-server of ``make demo-airflow`` listens unless told otherwise (Airflow's default).
AIRFLOW_PORT = 8080
GRAPH_CONN_ENV = "AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def simulator_state(home: Path) -> Path:
    """The simulator's saved numbers, tokens and clock (``--state-file``)."""
    return home / "simulator-state.pickle"


def use_home(home: Path) -> None:
    """Point this process (and the Airflow commands it runs) at ``home`` and nothing else."""
    for name in [name for name in os.environ if name.startswith("AIRFLOW")]:
        del os.environ[name]
    os.environ["AIRFLOW_HOME"] = str(home)


def prepare_home(home: Path) -> None:
    """A fresh AIRFLOW_HOME whose ``airflow.cfg`` holds every setting (SQLite metadata, the repo's
    DAGs, an empty plugins folder: the plugin comes from the installed entry point), so that
    ``AIRFLOW_HOME=build/demo`` is all a later command needs; the store defaults to SQLite beside it.
    """
    shutil.rmtree(home, ignore_errors=True)
    (home / "plugins").mkdir(parents=True)
    config = home / "airflow.cfg"
    config.write_text(
        "[core]\n"
        f"dags_folder = {REPO_ROOT / 'dags'}\n"
        f"plugins_folder = {home / 'plugins'}\n"
        "load_examples = False\n"
        # Unpaused, so that under ``make demo-airflow`` the fleet audit runs and the page's buttons work.
        "dags_are_paused_at_creation = False\n"
        f"fernet_key = {Fernet.generate_key().decode()}\n"
        "\n[database]\n"
        f"sql_alchemy_conn = sqlite:///{home / 'airflow.db'}\n"
    )
    config.chmod(0o600)  # the Fernet key that encrypts the store's tokens
    use_home(home)
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"


def migrate_airflow() -> None:
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.exit(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def graph_connection(base_url: str, control: SimulatorControl) -> str:
    """The ``whatsapp_graph_default`` connection to the simulator, in Airflow's JSON env format."""
    return json.dumps(
        {
            "conn_type": "whatsapp_graph",
            "host": base_url,
            "login": control.app_id,
            "password": control.app_secret,
            "extra": {"api_version": "v24.0", "callback_url": "https://hooks.example.test/whatsapp"},
        }
    )


def complete_review_when_polled(control: SimulatorControl, phone_number_id: str) -> threading.Thread:
    """Stand-in for Meta's reviewers: approve the name once the trigger has polled a few times."""

    def approve() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(control.calls(f"/{phone_number_id}$")) >= 3:
                say(f"   (Meta approves the display name of {phone_number_id})")
                control.advance(3601)
                return
            time.sleep(0.2)

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    return thread


def hh_mm(iso_time: str) -> str:
    return datetime.fromisoformat(iso_time).strftime("%H:%M UTC")


def meta_answer(phone_number_id: str, run: Any) -> str:
    """What Meta answered the register call of ``run`` for this number, or why none was sent.

    Read from the store as the WhatsApp Health page reads it (the run's attempt and the
    channel's situation), not from Airflow's task states: a register task that scheduled a retry
    after Meta's refusal succeeded all the same.
    """
    from whatsapp.store import ChannelStore
    from whatsapp.store.views import business_app_dict, channel_situation, register_outcome_dict

    with ChannelStore.from_conn_id("whatsapp_store_default") as store:
        channel = store.channels.by_phone_number(phone_number_id)
        if channel is None:
            return f"no channel stored (the run ended {run.state})"
        attempts = store.attempts.recent(channel.id, limit=1, run_id=run.run_id)
        status = store.fleet.channel_status(channel.account_id, channel.inbox_id)
        assert status is not None  # the channel was just read
        outcome = register_outcome_dict(
            run.state, attempts[0] if attempts else None, channel_situation(status)
        )
        app = business_app_dict(channel)
    if app is not None:
        texts = {name: sync["text"] for name, sync in app["syncs"].items()}
        if len(set(texts.values())) == 1:
            syncs = f"{' and '.join(texts)} syncs {next(iter(texts.values()))}"
        else:
            syncs = ", ".join(f"{name} sync {text}" for name, text in texts.items())
        return f"{app['label']}: no register call; {syncs}"
    error, next_try = outcome["error"], outcome["next_try"]
    if outcome["kind"] == "registered":
        return "registered: Meta accepted the register call"
    if outcome["kind"] == "not_needed":
        return "no register call needed: the number is already registered"
    if outcome["kind"] == "refused":
        codes = "/".join(str(c) for c in (error["code"], error["subcode"]) if c is not None)
        retry = f" — next try {hh_mm(next_try)}" if next_try else ""
        return f"Meta refused: {error['type'].replace('_', ' ')} ({codes}){retry}"
    return outcome["text"]


def onboard(
    dag: Any,
    control: SimulatorControl,
    account_id: int,
    label: str,
    *,
    event: str | None = None,
    **state: Any,
) -> dict[str, Any]:
    number = control.add_number(**state)
    say(f"Signup {account_id} ({label}): phone number {number['phone_number_id']}")
    conf = onboarding_conf(number, account_id=account_id, name_poke_interval=1)
    if event is not None:  # the popup's message for this end names the WABA only (explicit None:
        # dag.test() keeps the params of the DAG's previous run for the keys a conf leaves out)
        conf = {**conf, "event": event, "phone_number_id": None}
    watcher = None
    if state.get("name_status") == "PENDING_REVIEW":
        watcher = complete_review_when_polled(control, number["phone_number_id"])
    started = time.monotonic()
    dag_run = dag.test(run_conf=conf)
    if watcher is not None:
        watcher.join(timeout=5)
    answer = meta_answer(number["phone_number_id"], dag_run)
    say(f"   {answer} ({time.monotonic() - started:.1f}s)")
    return number


def seed_fleet(control: SimulatorControl) -> None:
    """Channels onboarded earlier: mostly healthy, some pending, one token expired, some YELLOW/RED."""
    from whatsapp.store import ChannelStore

    templates = [
        {
            "name_status": "APPROVED",
            "platform_type": "CLOUD_API",
            "throughput_level": "STANDARD",
            "status": "CONNECTED",
        },
        {
            "name_status": "APPROVED",
            "platform_type": "CLOUD_API",
            "throughput_level": "STANDARD",
            "status": "CONNECTED",
            "quality_rating": "YELLOW",
        },
        {
            "name_status": "APPROVED",
            "platform_type": "CLOUD_API",
            "throughput_level": "STANDARD",
            "status": "FLAGGED",
            "quality_rating": "RED",
        },
        {"name_status": "PENDING_REVIEW", "review_seconds": 10**7},
    ]
    created = control.add_numbers(numbers=[templates[i % len(templates)] for i in range(FLEET_SIZE)])
    store = ChannelStore.from_conn_id("whatsapp_store_default")
    try:
        for i, number in enumerate(created["numbers"]):
            store.channels.upsert(
                account_id=100 + i,
                phone_number_id=number["phone_number_id"],
                waba_id=number["waba_id"],
                business_id=number["business_id"],
                access_token=created["tokens"][number["waba_id"]],
                display_phone_number=number["display_phone_number"],
            )
        control.update_number(created["numbers"][0]["phone_number_id"], token_state="expired")
    finally:
        store.dispose()


def make_retry_due(phone_number_id: str) -> tuple[int, int]:
    """Fast-forward the backoff (15 minutes) so the fleet run retries now; the channel's ids."""
    from dataclasses import replace

    import pendulum

    from whatsapp.store import ChannelStore

    with ChannelStore.from_conn_id("whatsapp_store_default") as store:
        channel = store.channels.by_phone_number(phone_number_id)
        due_now = replace(channel.registration, next_attempt_at=pendulum.now("UTC"))
        store.channels.save_registration(channel.id, due_now)
        return channel.account_id, channel.inbox_id


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (shorter to copy)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def next_steps(home: Path, account_id: int, inbox_id: int) -> None:
    fleet = shown_path(Path(sys.executable).with_name("whatsapp-fleet"))
    airflow_command = (
        "make demo-airflow"
        if home == DEFAULT_HOME and Path.cwd() == REPO_ROOT
        else f"{shown_path(Path(sys.executable))} -m include.demo_airflow --home {shown_path(home)}"
    )
    from whatsapp.ui import PAGE_ROUTE

    page = f"http://127.0.0.1:{AIRFLOW_PORT}/plugin/{PAGE_ROUTE}"
    print("\nWhat to look at next:")
    print(f"  AIRFLOW_HOME={shown_path(home)} {fleet} show {account_id} {inbox_id}")
    print(f"      signup {account_id} in detail: Meta's refusal, the retry that registered it, health checks")
    print(f"  {airflow_command}")
    print(f"      Airflow and the simulator on this state; it prints the login, then open {page}")
    print("      (the WhatsApp Health page: every channel of the demo, its situation and next step)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m include.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="AIRFLOW_HOME, made anew")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    home = parse_args(argv).home.resolve()
    started = time.monotonic()
    prepare_home(home)
    say("Migrating Airflow's metadata database (SQLite) ...")
    migrate_airflow()
    with SimulatorProcess(*SIMULATOR_ARGS, "--state-file", str(simulator_state(home))) as simulator:
        control = simulator.control
        say(f"Graph API simulator at {simulator.base_url}")
        os.environ[GRAPH_CONN_ENV] = graph_connection(simulator.base_url, control)

        from airflow.dag_processing.dagbag import DagBag

        from whatsapp.cli import main as fleet_cli

        fleet_cli(["migrate"])
        bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
        if bag.import_errors:
            sys.exit(f"DAG import errors: {bag.import_errors}")
        onboarding = bag.get_dag("whatsapp_onboarding")

        onboard(onboarding, control, 1, "display name approved", name_status="APPROVED")
        onboard(
            onboarding,
            control,
            2,
            "display name in review",
            name_status="PENDING_REVIEW",
            review_seconds=3600,
        )
        stuck = onboard(onboarding, control, 3, "certificate not ready", name_status="NONE")
        onboard(
            onboarding,
            control,
            4,
            "already provisioned",
            name_status="APPROVED",
            platform_type="CLOUD_API",
            throughput_level="STANDARD",
            status="CONNECTED",
        )
        onboard(
            onboarding,
            control,
            5,
            "WhatsApp Business app number",
            event="FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING",
            is_on_biz_app=True,
        )

        say(f"Seeding {FLEET_SIZE} channels onboarded earlier, then running whatsapp_fleet_health ...")
        seed_fleet(control)
        control.update_number(stuck["phone_number_id"], name_status="APPROVED")
        say(f"   (the display name of {stuck['phone_number_id']} is fixed; its retry is due)")
        stuck_ids = make_retry_due(stuck["phone_number_id"])
        fleet_run = bag.get_dag("whatsapp_fleet_health").test()
        batches = len([c for c in control.calls() if c["path"].rstrip("/").endswith("v24.0")])
        retried = meta_answer(stuck["phone_number_id"], fleet_run)
        say(f"   fleet audit: {batches} batch request(s); signup 3 retried — {retried}")

        print()
        say("Fleet health (whatsapp-fleet status):")
        fleet_cli(["status"])
    say(f"Demo finished in {time.monotonic() - started:.0f}s; its state is in {shown_path(home)}")
    next_steps(home, *stuck_ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
