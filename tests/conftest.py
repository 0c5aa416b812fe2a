"""Test-wide setup: an isolated Airflow home, configured before anything imports Airflow.

Fixtures live in ``tests/support/*_fixtures.py`` modules, one per area, loaded below.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

REPO_ROOT = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="whatsapp-tests-airflow-"))
_EMPTY_PLUGINS = _AIRFLOW_HOME / "plugins"
_EMPTY_PLUGINS.mkdir()

os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        # The provider is installed; its plugin comes from the entry point, never the folder.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(_EMPTY_PLUGINS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__FERNET_KEY": os.environ.get("WHATSAPP_TEST_FERNET_KEY")
        or Fernet.generate_key().decode(),
    }
)
os.environ.setdefault("WHATSAPP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

pytest_plugins = [
    "tests.support.simulator_fixtures",
    "tests.support.store_fixtures",
    "tests.support.airflow_fixtures",
]
