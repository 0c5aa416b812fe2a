"""Real Airflow authentication for tests: SimpleAuthManager users with known passwords, a JWT secret.

Used in-process (API tests) and handed to ``airflow api-server`` subprocesses (browser test).
Roles: ``admin`` (everything), ``operator`` (SimpleAuthManager role ``user``: may trigger DAGs),
``viewer`` (read-only: may not trigger the register DAG).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from include.airflow_processes import server_auth_env, simple_auth_env

USERS = {"admin": "admin", "operator": "user", "viewer": "viewer"}
PASSWORDS = {name: f"{name}-pw-{secrets.token_hex(4)}" for name in USERS}


def auth_env(home: Path) -> dict[str, str]:
    """Environment variables configuring SimpleAuthManager's users and their known passwords."""
    return simple_auth_env(home, USERS, PASSWORDS)


def server_env(home: Path) -> dict[str, str]:
    """For separate Airflow processes, which must all sign and check JWTs with one shared secret.

    In-process tests set one only when none is configured yet (see ``tests/api/conftest.py``).
    """
    return server_auth_env(home, USERS, PASSWORDS)


def leaked(body: str, secret_values: Iterable[str]) -> list[str]:
    """The secrets found in ``body`` (digit-only secrets such as PINs only as a whole number)."""
    found = []
    for value in secret_values:
        pattern = rf"(?<!\d){re.escape(value)}(?!\d)" if value.isdigit() else re.escape(value)
        if re.search(pattern, body):
            found.append(value)
    return found
