"""What every benchmark needs before Airflow is first imported; each bench imports this first.

The checkout goes on ``sys.path`` and on ``PYTHONPATH`` (the Airflow servers a bench starts must
load this checkout's plugin), and Airflow gets a throw-away home and Fernet key unless the
environment already names them. Importing it again changes nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

REPO_ROOT = Path(__file__).resolve().parent.parent
_PATHS = [str(REPO_ROOT / "plugins"), str(REPO_ROOT)]

sys.path[:0] = [path for path in _PATHS if path not in sys.path]
_inherited = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
os.environ["PYTHONPATH"] = os.pathsep.join([*_PATHS, *(p for p in _inherited if p not in _PATHS)])
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="whatsapp-bench-"))
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

#: The PostgreSQL the benches seed throw-away schemas or databases in (the test suite's).
DATABASE_URL = os.environ.get("WHATSAPP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
