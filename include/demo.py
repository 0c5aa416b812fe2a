"""``make demo``: the whole story on embedded defaults, in about a minute.

A Graph API simulator stands in for Meta; Airflow's metadata and the channel store are SQLite
files under ``build/demo`` (made anew on every run). Four customers finish Embedded Signup:

* one whose display name is already approved: onboarded and registered at once;
* one whose name is still in review: the sensor defers, the review completes, it registers;
* one whose name Meta cannot certify yet (100/2388001): registration is scheduled, not looped;
* one already provisioned elsewhere: no register call at all.

Then a small fleet is audited in batches, the stuck registration is retried once its name is
fixed, and the fleet's health table is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from include.graph_simulator.process import SimulatorControl, SimulatorProcess, onboarding_conf

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_HOME = REPO_ROOT / "build" / "demo"
FLEET_SIZE = 16


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def prepare_home() -> dict[str, str]:
    """A fresh AIRFLOW_HOME with SQLite metadata; the store defaults to SQLite beside it."""
    shutil.rmtree(DEMO_HOME, ignore_errors=True)
    (DEMO_HOME / "plugins").mkdir(parents=True)
    env = {
        "AIRFLOW_HOME": str(DEMO_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(DEMO_HOME / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{DEMO_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    }
    os.environ.update(env)
    return env


def migrate_airflow() -> None:
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.exit(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def graph_connection(base_url: str, control: SimulatorControl) -> None:
    os.environ["AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT"] = json.dumps(
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


def onboard(dag: Any, control: SimulatorControl, account_id: int, label: str, **state: Any) -> dict[str, Any]:
    number = control.add_number(**state)
    say(f"Signup {account_id} ({label}): phone number {number['phone_number_id']}")
    conf = onboarding_conf(number, account_id=account_id, name_poke_interval=1)
    watcher = None
    if state.get("name_status") == "PENDING_REVIEW":
        watcher = complete_review_when_polled(control, number["phone_number_id"])
    started = time.monotonic()
    dag_run = dag.test(run_conf=conf)
    if watcher is not None:
        watcher.join(timeout=5)
    tasks = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    register_calls = len(control.calls(f"/{number['phone_number_id']}/register$"))
    say(
        f"   run {dag_run.state} in {time.monotonic() - started:.1f}s; "
        f"sensor {tasks.get('wait_for_display_name')}, register {tasks.get('register')}; "
        f"register calls sent: {register_calls}"
    )
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


def make_retry_due(phone_number_id: str) -> None:
    """Fast-forward the backoff (15 minutes) so the fleet run retries now."""
    from dataclasses import replace

    import pendulum

    from whatsapp.store import ChannelStore

    with ChannelStore.from_conn_id("whatsapp_store_default") as store:
        channel = store.channels.by_phone_number(phone_number_id)
        due_now = replace(channel.registration, next_attempt_at=pendulum.now("UTC"))
        store.channels.save_registration(channel.id, due_now)


def main() -> int:
    started = time.monotonic()
    prepare_home()
    say("Migrating Airflow's metadata database (SQLite) ...")
    migrate_airflow()
    # Like a Meta app with "Require App Secret" on: every business-token call needs appsecret_proof.
    with SimulatorProcess("--require-appsecret-proof") as simulator:
        control = simulator.control
        say(f"Graph API simulator at {simulator.base_url}")
        graph_connection(simulator.base_url, control)

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

        say(f"Seeding {FLEET_SIZE} channels onboarded earlier, then running whatsapp_fleet_health ...")
        seed_fleet(control)
        control.update_number(stuck["phone_number_id"], name_status="APPROVED")
        say(f"   (the display name of {stuck['phone_number_id']} is fixed; its retry is due)")
        make_retry_due(stuck["phone_number_id"])
        fleet_run = bag.get_dag("whatsapp_fleet_health").test()
        retried = len(control.calls(f"/{stuck['phone_number_id']}/register$"))
        batches = len([c for c in control.calls() if c["path"].rstrip("/").endswith("v24.0")])
        outcome = f"{batches} batch request(s); the stuck one's register calls: {retried}"
        say(f"   fleet run {fleet_run.state}: {outcome}")

        print()
        say("Fleet health (whatsapp-fleet status):")
        fleet_cli(["status"])
    say(f"Demo finished in {time.monotonic() - started:.0f}s (state under {DEMO_HOME})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
