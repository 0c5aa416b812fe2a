"""CPU seconds of a command's whole process tree: ``python bench/tree_cpu.py [--pg-pidfile F] -- CMD``.

``/usr/bin/time`` counts only the descendants their parents waited for: Chromium's helper
processes and the children of a killed Airflow component are re-parented to init and drop out of
it. This process makes itself the tree's child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so
every orphan is re-parented here and reaped, and ``RUSAGE_CHILDREN`` covers the whole tree.

Prints one JSON line on stderr: wall, user, sys and cpu seconds, the load averages before and
after (on a shared machine the load shows in wall times, and in the CPU of components that poll
on a timer), and with ``--pg-pidfile`` (e.g. ``/var/run/postgresql/15-main.pid``) the CPU the
PostgreSQL server spent meanwhile, for every client of it, not only this command. Exits with the
command's status. Linux only.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
#: How long to wait for orphans still running after the command exited before giving up on them.
ORPHAN_GRACE_S = 60.0


def postgres_cpu(pidfile: Path) -> float:
    """The server's CPU so far: the postmaster, the backends it reaped, and the live ones."""
    import psutil

    postmaster = psutil.Process(int(pidfile.read_text().splitlines()[0]))
    times = postmaster.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in postmaster.children():
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue
        total += child_times.user + child_times.system
    return total


def reap_orphans() -> bool:
    """Reap what the tree left running (re-parented here); False if some outlived the grace."""
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-pidfile", type=Path, help="PostgreSQL's postmaster.pid or <cluster>.pid")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    pg_before = postgres_cpu(args.pg_pidfile) if args.pg_pidfile else None
    load_before = os.getloadavg()
    started = time.monotonic()
    returncode = subprocess.call(command)
    wall = time.monotonic() - started
    all_reaped = reap_orphans()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures: dict[str, object] = {
        "wall_s": round(wall, 1),
        "user_s": round(usage.ru_utime, 1),
        "sys_s": round(usage.ru_stime, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "orphans_left_running": not all_reaped,
        "returncode": returncode,
    }
    if pg_before is not None:
        figures["postgres_cpu_s_all_clients"] = round(postgres_cpu(args.pg_pidfile) - pg_before, 1)
    print(json.dumps(figures), file=sys.stderr)
    return returncode


if __name__ == "__main__":
    sys.exit(main())
