"""``[core] hostname_callable`` for the Celery end-to-end test: each worker names itself.

Two ``airflow celery worker`` processes on one machine share its FQDN, so task instances could
not tell which worker ran them; this reads the name the stack gives each worker (and falls back
to the FQDN in the scheduler, API server and other components, which have none).
"""

from __future__ import annotations

import os
import socket

from tests.e2e.stack import WORKER_NAME_ENV


def hostname() -> str:
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()
