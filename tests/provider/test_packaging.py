"""The editable install registers the provider once, so Airflow loads the plugin once.

setuptools' editable install wrote ``airflow_provider_whatsapp.egg-info`` into ``plugins/`` and put
that folder on ``sys.path``: ``importlib.metadata`` then saw two distributions, Airflow read the
``airflow.plugins`` entry point twice and its home page showed "Plugin 'whatsapp' already
registered". These tests hold in a fresh clone after ``make install``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import whatsapp
from tests.conftest import REPO_ROOT

DISTRIBUTION = "airflow-provider-whatsapp"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
PLUGINS_DIR = REPO_ROOT / "plugins"


def _airflow(*args: str) -> str:
    """Run an Airflow command in a fresh process: the plugins manager caches what it loaded once."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=180, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_one_distribution_is_installed() -> None:
    found = [
        str(dist._path)  # type: ignore[attr-defined]  # where it lives, for the failure message
        for dist in importlib.metadata.distributions()
        if (dist.metadata["Name"] or "").lower().replace("_", "-") == DISTRIBUTION
    ]
    assert len(found) == 1, found


def test_no_build_metadata_in_the_plugins_folder() -> None:
    leftovers = [*PLUGINS_DIR.rglob("*.egg-info"), *PLUGINS_DIR.rglob("*.dist-info")]
    assert leftovers == []


def test_the_package_is_imported_from_the_plugins_folder() -> None:
    """The demo, the tests and the benchmarks run this checkout's code, not a copy."""
    assert Path(whatsapp.__file__).resolve().is_relative_to(PLUGINS_DIR.resolve())


def test_airflow_lists_the_plugin_once() -> None:
    plugins = json.loads(_airflow(AIRFLOW, "plugins", "--output", "json"))
    assert [plugin["name"] for plugin in plugins].count("whatsapp") == 1


def test_airflow_reports_no_plugin_import_error() -> None:
    """What the home page's "Plugin Import Error" banner reads (``/api/v2/plugins/importErrors``)."""
    script = (
        "import json; from airflow import plugins_manager; "
        "print(json.dumps(plugins_manager.get_import_errors()))"
    )
    errors = json.loads(_airflow(sys.executable, "-c", script).strip().splitlines()[-1])
    assert errors == {}
