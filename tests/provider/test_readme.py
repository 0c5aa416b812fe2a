"""The README's promises: its "Use it in your own DAG" example runs, it stays short, its links resolve.

The example is taken from README.md as written (the first ``python`` block under its heading),
saved as a DAG file, parsed by Airflow's DagBag and run with ``dag.test()`` against the Graph API
simulator and a migrated PostgreSQL store, like any user's DAG would run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.conftest import REPO_ROOT
from whatsapp.store import ChannelStore

README = REPO_ROOT / "README.md"
EXAMPLE_HEADING = "## Use it in your own DAG"
EXAMPLE_DAG_ID = "whatsapp_channel_report"
#: The README is for users; figures and reruns belong in bench/README.md, details in docs/.
README_MAX_LINES = 250

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
#: ``[text](target)`` and ``![alt](target)``, the target up to a space or the closing parenthesis.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def example_dag_source(readme: str) -> str:
    """The first ``python`` block after the example's heading, before the next ``## `` heading."""
    start = readme.index(EXAMPLE_HEADING)
    end = readme.find("\n## ", start + len(EXAMPLE_HEADING))
    section = readme[start : end if end != -1 else len(readme)]
    blocks = [code for language, code in _FENCE.findall(section) if language == "python"]
    assert blocks, f"no ```python block under {EXAMPLE_HEADING!r} in README.md"
    return blocks[0]


def test_readme_stays_short() -> None:
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move details to docs/"


def _markdown_files() -> list[Path]:
    return [README, *sorted((REPO_ROOT / "docs").glob("*.md")), REPO_ROOT / "bench" / "README.md"]


def relative_links(markdown: str) -> list[str]:
    """Link targets outside fenced code blocks that point into the repository (no URL, no anchor)."""
    prose = _FENCE.sub("", markdown)
    targets = (match.group(1) for match in _LINK.finditer(prose))
    return [t for t in targets if not re.match(r"^([a-z][a-z0-9+.-]*:|#)", t, re.IGNORECASE)]


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_point_at_existing_files(page: Path) -> None:
    broken = [
        target
        for target in relative_links(page.read_text())
        if not (page.parent / target.split("#", 1)[0]).exists()
    ]
    assert not broken, f"{page.relative_to(REPO_ROOT)} links to missing files: {broken}"


def test_the_link_check_sees_links_and_skips_urls_anchors_and_code() -> None:
    text = (
        "See [a](docs/a.md), ![img](docs/img/x.png) and [b](../b.md#part).\n"
        "Not these: [web](https://example.com/x.md), [here](#section), [mail](mailto:x@example.com).\n"
        "```\n[in code](nowhere.md)\n```\n"
    )
    assert relative_links(text) == ["docs/a.md", "docs/img/x.png", "../b.md#part"]


@pytest.fixture
def example_dag(tmp_path: Path, airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The README's example as a DAG file in a folder of its own, parsed by Airflow without import errors.

    ``dag.test()`` runs the DAG from its serialized form, which it writes from the DAG bundles
    Airflow is configured with: the folder is added as a bundle next to the repository's own.
    """
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "readme_dags"
    folder.mkdir()
    dag_file = folder / f"{EXAMPLE_DAG_ID}.py"
    dag_file.write_text(example_dag_source(README.read_text()))
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
        {"name": "readme-example", "classpath": local, "kwargs": {"path": str(folder)}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    bag = DagBag(dag_folder=str(dag_file))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(EXAMPLE_DAG_ID)
    assert dag is not None, f"the README's example defines no DAG {EXAMPLE_DAG_ID!r}: {list(bag.dags)}"
    return dag


@pytest.mark.postgres
def test_the_readme_example_runs_against_the_simulator(
    example_dag: Any, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    number = sim.add_number(
        name_status="APPROVED",
        platform_type="CLOUD_API",
        throughput_level="STANDARD",
        status="CONNECTED",
        quality_rating="YELLOW",
    )
    channel = pg_store_env.channels.upsert(
        account_id=1,
        phone_number_id=number["phone_number_id"],
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token=sim.new_token(number["waba_id"]),
    )

    dag_run = example_dag.test(run_conf={"account_id": 1, "inbox_id": channel.inbox_id})

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {"resolve_channel": "success", "live_health": "success", "check_health": "success"}
    live = dag_run.get_task_instance("live_health").xcom_pull(task_ids="live_health")
    assert live == {"provisioning": "provisioned", "name_status": "APPROVED", "quality_rating": "YELLOW"}
    # Graph was asked for this number's health, by the example's task and by the operator.
    assert len([c for c in sim.calls(f"/{number['phone_number_id']}$") if c["method"] == "GET"]) == 2
    # The operator stored what it read: the snapshot, the registration state, the run's history row.
    stored = pg_store_env.channels.by_id(channel.id)
    assert stored.provisioning == "provisioned"
    assert stored.registration_state.value == "registered"
    assert stored.health is not None and stored.health.quality_rating == "YELLOW"
    assert dag_run.run_id in {check.run_id for check in pg_store_env.health.history(channel.id)}


@pytest.mark.postgres
def test_the_readme_example_refuses_an_unknown_channel(
    example_dag: Any, graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    dag_run = example_dag.test(run_conf={"account_id": 1, "inbox_id": 99})

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states["resolve_channel"] == "failed"
    assert states["live_health"] == states["check_health"] == "upstream_failed"
    assert sim.calls("/register$") == [] and [c for c in sim.calls() if c["method"] == "GET"] == []
