"""The end-to-end tests' one Airflow stack (``tests/e2e/shared.py``).

A test asks for ``e2e``: the running stack, reset for it alone (empty store, simulator at start,
DAGs paused, no run active). ``e2e_stack`` starts with the package's first test and stops after
its last; tests/conftest.py puts every test using it on one pytest-xdist worker.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.e2e.shared import SharedStack, shared_stack


@pytest.fixture(scope="package")
def e2e_stack(pg_url: str) -> Iterator[SharedStack]:
    with shared_stack(pg_url) as shared:
        yield shared


@pytest.fixture
def e2e(e2e_stack: SharedStack) -> SharedStack:
    e2e_stack.reset()
    return e2e_stack


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, None, pytest.TestReport]:
    """A failed test's report ends with the tail of every component's log (all of them stay in
    ``test-artifacts/e2e/``): the stack outlives the test, so its own failure path never runs."""
    report = yield
    shared = getattr(item, "funcargs", {}).get("e2e_stack")
    if report.failed and isinstance(shared, SharedStack):
        report.sections.append(("end-to-end stack logs", f"{shared.stack.run_dir}\n{shared.stack.tails()}"))
    return report
