"""Test-wide setup: an isolated Airflow home, configured before anything imports Airflow.

Fixtures live in ``tests/support/*_fixtures.py`` modules, one per area, loaded below.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
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

from airflow.sdk._shared.secrets_masker import reset_secrets_masker  # noqa: E402 (after the env above)


@pytest.fixture(autouse=True)
def fresh_secrets_masker() -> Iterator[None]:
    """Every Airflow task process starts with an empty secrets masker; so does every test.

    ``dag.test()`` runs tasks in this process, so without a reset each test would inherit
    every earlier test's secrets, and the masker recompiles one pattern of all of them per
    new secret: the suite would slow down quadratically.
    """
    yield
    reset_secrets_masker()


pytest_plugins = [
    "tests.support.simulator_fixtures",
    "tests.support.store_fixtures",
    "tests.support.airflow_fixtures",
]


#: Session- or package-scoped stacks that take long to start (an Airflow API app, a browser
#: suite's Airflow servers, the end-to-end tests' Airflow): under pytest-xdist (``--dist
#: loadgroup``) the tests that use one run on one worker, which starts it once, instead of every
#: worker starting its own.
SHARED_STACK_FIXTURES = ("api_client", "ui_stack", "e2e_stack")
#: Browser modules that run on a second copy of the browser suite's stack (its own worker,
#: simulator, seeded store, Airflow servers and Chromium): on one stack the browser suite was the
#: run's longest chain, one test after another on one worker while the others had finished. The
#: package-scoped stack is per worker, so a worker that gets both groups still starts it once.
SECOND_UI_STACK_MODULES = frozenset(
    {"test_fleet_view", "test_fleet_actions", "test_fleet_filters", "test_trend"}
)
#: Folders of the longest tests, collected first so that a parallel run starts them at once
#: instead of finding them last in alphabetical order (the run would wait for them alone).
LONG_FOLDERS_FIRST = ("e2e", "ui", "api")


def _folder(item: pytest.Item) -> str:
    return item.path.relative_to(REPO_ROOT / "tests").parts[0]


@pytest.hookimpl(tryfirst=True)  # the markers must be there when pytest-xdist's hook reads them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def order(item: pytest.Item) -> int:
        folder = _folder(item)
        return LONG_FOLDERS_FIRST.index(folder) if folder in LONG_FOLDERS_FIRST else len(LONG_FOLDERS_FIRST)

    items.sort(key=order)  # stable: the order inside a folder is unchanged
    for item in items:
        stacks = [name for name in SHARED_STACK_FIXTURES if name in getattr(item, "fixturenames", ())]
        if stacks:
            group = stacks[0]
            if group == "ui_stack" and item.path.stem in SECOND_UI_STACK_MODULES:
                group = "ui_stack_2"
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_keep_xdist_groups(items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` group again: pytest-xdist 3.8 appends ``@<group>`` to the legacy
    ``item._nodeid``, which pytest 9.2's structured node ids no longer read, so every grouped test
    went to any worker and each worker started its own copy of the shared stacks
    (https://github.com/pytest-dev/pytest-xdist/issues/1386). Runs after xdist's hook and copies
    the suffix into the node id; a no-op without xdist and once xdist sets the id itself."""
    from _pytest.nodeid import coerce_node_id

    for item in items:
        legacy = getattr(item, "_nodeid", None)
        if legacy and legacy != item.nodeid:
            item._id = coerce_node_id(legacy)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The test-only AIRFLOW_HOME (metadata DB, logs) goes with the session."""
    import shutil

    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)
