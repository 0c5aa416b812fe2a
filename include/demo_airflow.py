"""``make demo-airflow``: Airflow's UI and the WhatsApp Health page on what ``make demo`` left.

Starts, on loopback, the Graph API simulator again on the state the demo's simulator saved (the
same numbers, tokens and clock) and Airflow's ``api-server``, ``scheduler``, ``dag-processor``
and ``triggerer`` on the demo's home (``build/demo``: SQLite metadata and channel store, the
repository's DAGs, the plugin from the installed entry point, an empty plugins folder). Runs the
demo first when that home holds no demo yet. Prints the URL and the login: SimpleAuthManager's
``admin``, whose password is kept in the home (so a restart keeps it). Each component logs to
``logs/demo-airflow/`` in the home. Ctrl-C (or SIGTERM) stops everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from include.airflow_processes import AirflowServers, loopback_env, server_auth_env
from include.demo import (
    AIRFLOW_PORT,
    DEFAULT_HOME,
    GRAPH_CONN_ENV,
    REPO_ROOT,
    SIMULATOR_ARGS,
    graph_connection,
    say,
    shown_path,
    simulator_state,
    use_home,
)
from include.graph_simulator.process import SimulatorProcess
from whatsapp.ui import PAGE_ROUTE

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ADMIN = "admin"
PASSWORDS_FILE = "simple_auth_manager_passwords.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    description = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m include.demo_airflow", description=description)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="the demo's AIRFLOW_HOME")
    parser.add_argument("--port", type=int, default=AIRFLOW_PORT, help="the api-server's port on 127.0.0.1")
    return parser.parse_args(argv)


def has_demo(home: Path) -> bool:
    needed = ("airflow.cfg", "airflow.db", "whatsapp_store.db", simulator_state(home).name)
    return all((home / name).exists() for name in needed)


def admin_password(home: Path) -> str:
    """The one kept in the home from an earlier start, else a new one."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        return str(json.loads((home / PASSWORDS_FILE).read_text())[ADMIN])
    return secrets.token_urlsafe(12)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def banner(servers: AirflowServers, home: Path, password: str, simulator_url: str) -> None:
    page = f"{servers.base_url}/plugin/{PAGE_ROUTE}"
    say("Airflow is up:")
    print(f"      URL:             {servers.base_url}")
    print(f"      login:           {ADMIN} / {password}")
    print(f'      WhatsApp Health: {page}   ("WhatsApp" in Airflow\'s navigation)')
    print(f"      Graph simulator: {simulator_url}")
    print(f"      home:            {shown_path(home)}   (keeps the password and the simulator's state)")
    print(f"      logs:            {shown_path(servers.logs)}/")
    print("      The DAGs are unpaused: whatsapp_fleet_health audits the fleet now, then hourly.")
    print("    Ctrl-C stops everything.", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = args.home.resolve()
    if not port_is_free(args.port):
        say(f"port {args.port} on 127.0.0.1 is taken: choose another (make demo-airflow DEMO_PORT=8081)")
        return 2
    if not has_demo(home):
        say(f"No demo in {shown_path(home)} yet: running it first")
        demo = subprocess.run([sys.executable, "-m", "include.demo", "--home", str(home)], cwd=REPO_ROOT)
        if demo.returncode != 0:
            return demo.returncode
    use_home(home)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    password = admin_password(home)
    logs = home / "logs" / "demo-airflow"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        with SimulatorProcess(*SIMULATOR_ARGS, "--state-file", str(simulator_state(home))) as simulator:
            say(f"Graph API simulator at {simulator.base_url}, on the demo's saved state")
            env = {
                **os.environ,
                **server_auth_env(home, {ADMIN: "admin"}, {ADMIN: password}),
                **loopback_env(args.port),
                GRAPH_CONN_ENV: graph_connection(simulator.base_url, simulator.control),
            }
            say(f"Starting Airflow ({', '.join(COMPONENTS)}) on {shown_path(home)} ...")
            with AirflowServers(env, logs, args.port, COMPONENTS) as servers:
                banner(servers, home, password, simulator.base_url)
                while True:
                    servers.check_running()
                    time.sleep(1)
    except KeyboardInterrupt:
        say("Stopped Airflow and the simulator.")
    except RuntimeError as failed:  # a component did not start or exited: its log's tail says why
        say(f"Stopped everything: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
