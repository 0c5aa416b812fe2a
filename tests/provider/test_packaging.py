"""The editable install registers the provider once, so Airflow loads the plugin once.

setuptools' editable install wrote ``airflow_provider_whatsapp.egg-info`` into ``plugins/`` and put
that folder on ``sys.path``: ``importlib.metadata`` then saw two distributions, Airflow read the
``airflow.plugins`` entry point twice and its home page showed "Plugin 'whatsapp' already
registered". These tests hold in a fresh clone after ``make install``, and also with the
repository's ``plugins/`` as Airflow's plugins folder (``plugins/.airflowignore``).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import whatsapp
from tests.conftest import REPO_ROOT

DISTRIBUTION = "airflow-provider-whatsapp"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
PLUGINS_DIR = REPO_ROOT / "plugins"
REPOSITORY_PLUGINS = {"AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR)}


def _airflow(*args: str, **env: str) -> str:
    """Run an Airflow command in a fresh process: the plugins manager caches what it loaded once."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=180, env=os.environ | env)
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


@pytest.mark.parametrize(
    "plugins_folder",
    [
        pytest.param({}, id="empty-folder"),
        # Airflow's docker-compose convention: the repository's ./plugins as the plugins folder.
        # plugins/.airflowignore keeps Airflow from importing the package's files one by one.
        pytest.param(REPOSITORY_PLUGINS, id="repository-plugins"),
        pytest.param(
            {**REPOSITORY_PLUGINS, "AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX": "regexp"},
            id="repository-plugins-regexp-ignore",
        ),
    ],
)
def test_airflow_loads_the_plugin_once_without_import_errors(plugins_folder: dict[str, str]) -> None:
    """What the home page's "Plugin Import Error" banner reads (``/api/v2/plugins/importErrors``),
    and the plugins Airflow loaded: ours once, from the installed provider's entry point."""
    script = (
        "import json; from airflow import plugins_manager; "
        "plugins, errors = plugins_manager._get_plugins(); "
        "print(json.dumps({'plugins': [[p.name, str(p.source)] for p in plugins], 'errors': errors}))"
    )
    loaded = json.loads(_airflow(sys.executable, "-c", script, **plugins_folder).strip().splitlines()[-1])
    assert loaded["errors"] == {}
    ours = [source for name, source in loaded["plugins"] if name == "whatsapp"]
    assert len(ours) == 1, loaded["plugins"]
    assert ours[0].startswith(f"{DISTRIBUTION}=="), ours
