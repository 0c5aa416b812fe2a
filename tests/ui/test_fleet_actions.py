"""Acting on many channels at once in Chromium: select all that match a filter, refresh them in ONE run.

This module's own 200 channels (account 7100, a verified name no seeded channel has) live only
while its tests run; Meta (the simulator) changes their quality before the refresh, and the page
must show the new values once the run is over.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from tests.api.fleet_seed import LIVE
from tests.ui.browser import Browser, assert_console_clean
from tests.ui.conftest import UiStack
from whatsapp.domain.health import PhoneHealth
from whatsapp.store import HealthResult

pytestmark = pytest.mark.slow

DAG_ID = "whatsapp_fleet_action"
ACCOUNT_ID = 7100
NAME = "Bulk Refresh Co"
COUNT = 200
#: How long the run may take on the shared 2-core stack (4 mapped tasks of 50, LocalExecutor).
RUN_WAIT_S = 240


@pytest.fixture(scope="module")
def bulk_channels(ui_stack: UiStack) -> Iterator[list[Any]]:
    """200 live GREEN numbers at Meta and in the store (checked now), deleted afterwards."""
    sim, store = ui_stack.simulator.control, ui_stack.store
    created = sim.add_numbers(COUNT, template={**LIVE, "verified_name": NAME}, numbers_per_waba=50)
    channels = []
    try:
        for number in created["numbers"]:
            channels.append(
                store.channels.upsert(
                    account_id=ACCOUNT_ID,
                    phone_number_id=number["phone_number_id"],
                    waba_id=number["waba_id"],
                    business_id=number["business_id"],
                    access_token=created["tokens"][number["waba_id"]],
                    display_phone_number=number["display_phone_number"],
                    verified_name=NAME,
                )
            )
        now = datetime.now(UTC)
        store.health.record(
            [HealthResult(channel.id, now, health=_green(channel.phone_number_id)) for channel in channels]
        )
        yield channels
    finally:
        for channel in channels:
            ui_stack.delete_channel(channel.id)


def _green(phone_number_id: str) -> PhoneHealth:
    return PhoneHealth.from_graph(
        {
            "id": phone_number_id,
            "verified_name": NAME,
            "name_status": "APPROVED",
            "code_verification_status": "VERIFIED",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "status": "CONNECTED",
            "quality_rating": "GREEN",
        }
    )


def _runs(ui_stack: UiStack) -> list[dict[str, Any]]:
    """The action DAG's runs, from Airflow's REST API."""
    with ui_stack.api() as api:
        answer = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100}).raise_for_status().json()
    return answer["dag_runs"]


def _fleet(ui_stack: UiStack) -> dict[str, Any]:
    with ui_stack.api() as api:
        params = {"q": NAME, "limit": 500}
        return api.get("/whatsapp/api/v1/fleet", params=params).raise_for_status().json()


# The first test of the package also waits for the shared stack to start (pytest-timeout counts
# fixture set-up), then for a real run on a 2-core machine shared with other test runs.
@pytest.mark.timeout(600)
def test_refresh_all_that_match_is_one_run_and_the_table_shows_what_meta_says_now(
    ui_stack: UiStack, browser: Browser, bulk_channels: list[Any]
) -> None:
    with ui_stack.api() as api:  # created unpaused; said again here as the register DAG is
        api.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    before = _fleet(ui_stack)
    assert before["total"] == COUNT
    assert {c["quality_rating"] for c in before["channels"]} == {"GREEN"}
    healthy_kind = before["channels"][0]["situation"]["kind"]
    for channel in bulk_channels:  # Meta lowers every number's quality; the store does not know yet
        ui_stack.simulator.control.update_number(channel.phone_number_id, quality_rating="RED")
    runs_before = len(_runs(ui_stack))

    browser.login("admin")
    browser.open_page(f"q={quote(NAME)}")
    page = browser.wait_rows()
    assert 0 < len(page) < COUNT
    browser.tick("wa-select-page")
    browser.click("wa-select-all-matching")
    assert browser.text("wa-bulk-count") == f"All {COUNT} matching channels selected"
    browser.click("wa-bulk-refresh")
    outcome = browser.wait(
        lambda _: (
            (box := browser.one("wa-bulk-run")).get_attribute("data-state") in ("success", "failed") and box
        ),
        timeout=RUN_WAIT_S,
        message="the bulk run did not finish",
    )
    browser.screenshot("fleet-bulk-refresh.png")
    assert outcome.get_attribute("data-state") == "success", outcome.text

    runs = _runs(ui_stack)
    assert len(runs) == runs_before + 1, "one Airflow run for the whole selection"
    run_id = max(runs, key=lambda run: run["run_after"])["dag_run_id"]
    with ui_stack.api() as api:
        tis = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100}).json()
    act = [ti for ti in tis["task_instances"] if ti["task_id"] == "act"]
    assert 1 < len(act) <= 8, f"200 numbers in a few mapped tasks, not {len(act)}"
    assert all(ti["rendered_map_index"] for ti in act), "each mapped task is named by its numbers"

    assert browser.text("wa-bulk-count-done") == f"done {COUNT}"
    assert len(browser.by_testid("wa-bulk-outcome")) == COUNT
    after = _fleet(ui_stack)
    assert {c["quality_rating"] for c in after["channels"]} == {"RED"}
    kind = after["channels"][0]["situation"]["kind"]
    assert kind != healthy_kind
    # The table shows each channel's new state (without a reload), as the API now answers.
    browser.wait(
        lambda _: {row.get_attribute("data-kind") for row in browser.by_testid("wa-fleet-row")} == {kind},
        message=f"the table does not show the refreshed situation {kind}",
    )
    assert_console_clean(browser)


def test_a_viewer_sees_the_bulk_actions_disabled_with_the_reason(
    ui_stack: UiStack, browser: Browser, bulk_channels: list[Any]
) -> None:
    runs_before = len(_runs(ui_stack))
    browser.login("viewer")
    browser.open_page(f"q={quote(NAME)}")
    browser.wait_rows()
    browser.tick("wa-select-row")
    assert not browser.enabled("wa-bulk-refresh")
    refused = "your role can view but not act on many numbers at once; ask an Admin or Op"
    assert refused in (browser.attribute("wa-bulk-refresh", "title") or "")
    assert refused in browser.text("wa-bulk-bar")
    assert not browser.enabled("wa-bulk-register")
    assert len(_runs(ui_stack)) == runs_before
    assert_console_clean(browser)
