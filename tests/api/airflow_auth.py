"""Real Airflow authentication for tests: SimpleAuthManager users with known passwords, a JWT secret.

Used in-process (API tests) and handed to ``airflow api-server`` subprocesses (browser test).
Roles: ``admin`` (everything), ``operator`` (SimpleAuthManager role ``user``: may trigger DAGs),
``viewer`` (read-only: may not trigger the register DAG).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

USERS = {"admin": "admin", "operator": "user", "viewer": "viewer"}
PASSWORDS = {name: f"{name}-pw-{secrets.token_hex(4)}" for name in USERS}


def auth_env(home: Path) -> dict[str, str]:
    """Environment variables configuring SimpleAuthManager's users and their known passwords."""
    passwords_file = home / "simple_auth_manager_passwords.json"
    passwords_file.write_text(json.dumps(PASSWORDS))
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
    }


def server_env(home: Path) -> dict[str, str]:
    """For separate Airflow processes, which must all sign and check JWTs with one shared secret.

    In-process tests set one only when none is configured yet (see ``tests/api/conftest.py``).
    """
    return {**auth_env(home), "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64)}


def leaked(body: str, secret_values: Iterable[str]) -> list[str]:
    """The secrets found in ``body`` (digit-only secrets such as PINs only as a whole number)."""
    found = []
    for value in secret_values:
        pattern = rf"(?<!\d){re.escape(value)}(?!\d)" if value.isdigit() else re.escape(value)
        if re.search(pattern, body):
            found.append(value)
    return found
