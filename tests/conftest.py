"""Test-wide setup: an isolated Airflow home, configured before anything imports Airflow.

Fixtures live in ``tests/support/*_fixtures.py`` modules, one per area, loaded below.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def memoize_jsonschema_schema_checks() -> None:
    """Check each distinct JSON schema against its metaschema once per test process, not per value.

    Airflow validates a ``Param`` with ``jsonschema.validate``, which first checks the schema
    itself against the draft 2020-12 metaschema (about 1 ms), and ``dag.test()`` serializes the
    whole DAG, every Param resolved, for each task it runs: a fifth of the CPU of the DAG tests
    went to checking the same dozen schemas thousands of times (bench/README.md, "third session").
    The check is a pure function of the schema, so a schema that passed once passes again; one
    that fails is checked (and fails) every time. The value itself is still validated every time.
    """
    import json

    from jsonschema import validators

    checked: set[tuple[type, str]] = set()

    def memoized(check: Any) -> Any:
        def check_schema(cls: type, schema: Any, *args: Any, **kwargs: Any) -> None:
            if args or kwargs:
                return check.__func__(cls, schema, *args, **kwargs)
            key = (cls, json.dumps(schema, sort_keys=True, default=repr))
            if key not in checked:
                check.__func__(cls, schema)
                checked.add(key)
            return None

        return classmethod(check_schema)

    for cls in (
        validators.Draft202012Validator,
        validators.Draft201909Validator,
        validators.Draft7Validator,
        validators.Draft6Validator,
        validators.Draft4Validator,
        validators.Draft3Validator,
    ):
        cls.check_schema = memoized(cls.check_schema)


memoize_jsonschema_schema_checks()


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
#: The order work starts in under pytest-xdist (``--no-loadscope-reorder`` keeps it; by default
#: xdist would start the groups with the most tests first, and the four-test end-to-end group
#: waited for a worker behind the 344 API tests). First the shared stacks, longest first; then
#: the other tests of the stacks' folders (the demo's Airflow, the bundle build); then the folders
#: of DAG runs and subprocesses; last the many quick tests, which share the run's end evenly
#: between the workers instead of one slow test running alone at the end.
GROUPS_FIRST = ("ui_stack", "e2e_stack", "ui_stack_2", "api_client")
STACK_FOLDERS = ("e2e", "ui", "api")
QUICK_FOLDERS_LAST = ("unit", "hook", "webhooks", "simulator", "pywa", "dags", "deploy")
#: Modules whose tests take 10-40 s each (big DAG runs, the CLI as a subprocess), started before the
#: other tests of their class: a long test started last runs alone while the other workers idle.
SLOW_MODULES_FIRST = (
    "fleet/test_fleet_dag.py",
    "store/test_cli.py",
    "onboarding/test_onboarding_dag.py",
    "lifecycle/test_display_name_change.py",
    "onboarding/test_business_app_numbers.py",
    "onboarding/test_transient_faults.py",
    "lifecycle/test_offboarding_race.py",
    "registration/test_answer_still_out.py",
)


def _folder(item: pytest.Item) -> str:
    return item.path.relative_to(REPO_ROOT / "tests").parts[0]


def _group(item: pytest.Item) -> str | None:
    """The shared stack a test runs on, if any (its xdist group)."""
    stacks = [name for name in SHARED_STACK_FIXTURES if name in getattr(item, "fixturenames", ())]
    if not stacks:
        return None
    if stacks[0] == "ui_stack" and item.path.stem in SECOND_UI_STACK_MODULES:
        return "ui_stack_2"
    return stacks[0]


def _start_order(item: pytest.Item) -> tuple[int, int]:
    group, folder = _group(item), _folder(item)
    module = item.path.relative_to(REPO_ROOT / "tests").as_posix()
    if group is not None:
        return (0, GROUPS_FIRST.index(group))
    if folder in STACK_FOLDERS:
        return (1, STACK_FOLDERS.index(folder))
    if module in SLOW_MODULES_FIRST:
        return (2, SLOW_MODULES_FIRST.index(module))
    if folder in QUICK_FOLDERS_LAST:
        return (4, 0)
    return (3, 0)


@pytest.hookimpl(tryfirst=True)  # the markers must be there when pytest-xdist's hook reads them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_order)  # stable: the order inside a folder is unchanged
    for item in items:
        group = _group(item)
        if group is not None:
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
