"""Status you can trust, in words a person reads, laid out to fit (the banners' actions, the words,
the layout, the quality and limit situations, the next try and the fleet's own state), in Chromium.

Each test fails on the bundle before these changes: the banners of what a person fixes in WhatsApp
Manager offered no *Complete registration*, the attempts table showed raw enums, the banner and
the outcome box both quoted Meta, the counts took five rows at 1024x768, the table had no quality
column, and nothing said that the fleet DAG is paused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.fleet_seed import LIVE, PENDING
from tests.support.simulator_fixtures import GRAPH_CONN_ENV, graph_connection
from tests.ui.browser import Browser, assert_console_clean
from tests.ui.conftest import UiStack
from tests.ui.seed_situations import Situated, Spec, read, read_and_attempt, refused_then_attempted, seed_one
from whatsapp.domain.webhooks import parse_notification
from whatsapp.hooks.graph import WhatsAppGraphHook

pytestmark = pytest.mark.slow

#: The kinds a person fixes in WhatsApp Manager, then registers (the advice ends so).
FIXED_IN_MANAGER = (
    "pin_mismatch",
    "needs_reverification",
    "name_declined",
    "account_locked",
    "account_event",
)
#: A *Complete registration* run can take a while: the scheduler picks it up, a worker starts.
RUN_WAIT_S = 90
#: The small screen the fleet view must fit.
SMALL = (1024, 768)


@pytest.fixture
def hook(ui_stack: UiStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[WhatsAppGraphHook]:
    """The provider's hook on the stack's simulator (as the seed uses it)."""
    monkeypatch.setenv(
        GRAPH_CONN_ENV, graph_connection(ui_stack.simulator.base_url, ui_stack.simulator.control)
    )
    graph = WhatsAppGraphHook()
    yield graph
    graph.close()


@pytest.fixture
def own_channels(ui_stack: UiStack, hook: WhatsAppGraphHook) -> Iterator[Any]:
    """Seeds channels of this test alone (``add(spec)``), removed afterwards."""
    added: list[Situated] = []

    def add(spec: Spec) -> Situated:
        channel = seed_one(ui_stack.store, ui_stack.simulator.control, hook, spec)
        added.append(channel)
        return channel

    yield add
    for channel in added:
        ui_stack.delete_channel(channel.channel_id)


def _health(ui_stack: UiStack, channel: Situated) -> dict[str, Any]:
    with ui_stack.api() as api:
        return api.get(channel.path + "/health").raise_for_status().json()


def _banner(browser: Browser, kind: str) -> Any:
    return browser.wait(
        lambda _: (banner := browser.one("wa-banner")).get_attribute("data-kind") == kind and banner,
        message=f"the banner never showed {kind}",
    )


def _open_channel(browser: Browser, channel: Situated) -> Any:
    browser.open_page(f"channel={channel.ref}")
    return browser.one("wa-channel")


@pytest.mark.parametrize("key", FIXED_IN_MANAGER)
def test_a_cause_fixed_in_whatsapp_manager_is_followed_by_complete_registration(
    ui_stack: UiStack, browser: Browser, key: str
) -> None:
    """Before: "…then complete registration" with only a WhatsApp Manager link. The banner offers
    the register action beside it, guarded by role like every register button."""
    channel = ui_stack.channels[key]
    browser.login("admin")
    _open_channel(browser, channel)
    banner = _banner(browser, key)
    assert "then complete registration" in banner.text.lower(), banner.text
    assert browser.by_testid("wa-banner-manager-link", within=banner)
    buttons = browser.by_testid("wa-register-button", within=banner)
    assert len(buttons) == 1 and buttons[0].text == "Complete registration", banner.text
    assert buttons[0].is_enabled()
    assert_console_clean(browser)


def test_a_viewer_is_told_in_words_why_it_cannot_register(ui_stack: UiStack, browser: Browser) -> None:
    """Before: "cannot trigger whatsapp_register_channel" → what the role can do, and whom to ask."""
    browser.login("viewer")
    _open_channel(browser, ui_stack.channels["pin_mismatch"])
    banner = _banner(browser, "pin_mismatch")
    button = browser.by_testid("wa-register-button", within=banner)[0]
    assert not button.is_enabled()
    assert "Your role can view but not register" in banner.text or "your role can view but not register" in (
        banner.text
    ), banner.text
    assert "whatsapp_register_channel" not in browser.text("wa-channel")
    assert_console_clean(browser)


def test_refresh_from_meta_re_decides_a_number_verified_again(
    ui_stack: UiStack, browser: Browser, own_channels: Any
) -> None:
    """Before: after the person verified the number again, *Refresh from Meta* kept "must be
    verified again". Meta's read now shows it VERIFIED: the banner moves on (registration due)."""
    channel = own_channels(
        Spec(
            "reverified",
            "needs_reverification",
            {**PENDING, "verified_name": "Acme Reverified", "needs_reverification": True},
            read_and_attempt,
        )
    )
    assert _health(ui_stack, channel)["situation"]["kind"] == "needs_reverification"
    ui_stack.simulator.control.update_number(
        channel.phone_number_id, needs_reverification=False, code_verification_status="VERIFIED"
    )
    browser.login("admin")
    _open_channel(browser, channel)
    _banner(browser, "needs_reverification")
    browser.click("wa-refresh-button")
    banner = _banner(browser, "registration_pending")
    assert browser.by_testid("wa-register-button", within=banner), banner.text
    assert_console_clean(browser)


def test_attempts_and_banners_read_as_words(ui_stack: UiStack, browser: Browser) -> None:
    """Before: raw outcomes (pin_problem, register_limit, display_name_not_ready) and Meta's
    period doubled ("Session has expired..")."""
    browser.login("admin")
    for key, words in (
        ("pin_mismatch", "Two-step PIN mismatch"),
        ("blocked", "Register limit reached"),
        ("register_backoff", "Display name not ready"),
    ):
        _open_channel(browser, ui_stack.channels[key])
        rows = browser.wait(lambda _: browser.by_testid("wa-attempt-row"), message=f"{key}: no attempt row")
        outcomes = [row.find_elements("css selector", "td")[1].text for row in rows]
        assert words in outcomes, (key, outcomes)
        assert not [o for o in outcomes if "_" in o], (key, outcomes)
    _open_channel(browser, ui_stack.channels["token_invalid"])
    banner = _banner(browser, "token_invalid")
    assert ".." not in banner.text, banner.text
    assert_console_clean(browser)


def test_a_refusal_is_said_once_with_what_2388001_means(
    ui_stack: UiStack, browser: Browser, own_channels: Any
) -> None:
    """Before: 2388001 ("(#100) Invalid parameter") beside a name Meta shows APPROVED, quoted by the
    banner and again by the outcome box, without a word on why. Now: the banner says the name's
    certificate is not ready yet, and the outcome box points at it instead of repeating it."""
    channel = own_channels(
        Spec(
            "not_ready",
            "register_backoff",
            {**PENDING, "verified_name": "Acme Not Ready"},
            refused_then_attempted(100, 2388001),
        )
    )
    situation = _health(ui_stack, channel)["situation"]
    assert situation["kind"] == "register_backoff" and situation["error"]["subcode"] == 2388001, situation
    message = situation["error"]["message"]
    browser.login("admin")
    view = _open_channel(browser, channel)
    banner = _banner(browser, "register_backoff")
    assert "certificate is not ready yet" in banner.text, banner.text
    browser.click("wa-register-button")  # "Complete registration now": Meta refuses again
    outcome = browser.wait(
        lambda _: (
            (found := browser.by_testid("wa-register-outcome"))
            and found[0].get_attribute("data-kind") not in (None, "", "running")
            and found[0]
        ),
        RUN_WAIT_S,
        message="no final outcome",
    )
    assert outcome.get_attribute("data-kind") == "refused", outcome.text
    banner = _banner(browser, "register_backoff")
    assert "100/2388001" in outcome.text, outcome.text
    shown = banner.text + "\n" + outcome.text
    assert shown.count(message) == 1, shown
    assert shown.count("certificate is not ready yet") == 1, shown
    assert "Meta refused the register call. Meta refused" not in view.text
    assert_console_clean(browser)


def _layout(browser: Browser) -> dict[str, Any]:
    script = """
        const rows = [...document.querySelectorAll("[data-testid='wa-fleet-row']")];
        const table = rows[0].closest('table');
        const problem = document.querySelector("[data-testid='wa-problem']");
        const since = document.querySelector("[data-testid='wa-since']");
        return {
          tableTop: table.getBoundingClientRect().top,
          visibleRows: rows.filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length,
          problemWidth: problem.getBoundingClientRect().width,
          sinceWidth: since.getBoundingClientRect().width,
          height: window.innerHeight,
          width: window.innerWidth,
        };
    """
    return browser.driver.execute_script(script)


def test_at_1024_by_768_the_table_starts_near_the_top_and_the_problem_has_room(
    ui_stack: UiStack, browser: Browser
) -> None:
    """Before: at 1024x768 the ~26 badges took five rows and left 4 table rows; the Problem
    column shrank to 130 px. Now the counts are three groups (expandable to the kinds), the
    table starts high, and the Problem column is the widest."""
    driver = browser.driver
    browser.login("admin")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": SMALL[0], "height": SMALL[1], "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        browser.open_page()
        browser.wait_rows()
        groups = browser.by_testid_prefix("wa-summary-group-")
        assert {g.get_attribute("data-group") for g in groups} >= {"waiting", "healthy"}
        assert browser.by_testid("wa-summary-needs_action")
        assert not browser.by_testid("wa-summary-blocked"), "the kinds are folded into their groups"
        layout = _layout(browser)
        browser.screenshot("fleet-1024x768.png")
        assert (layout["width"], layout["height"]) == SMALL, layout
        assert layout["tableTop"] < 300, layout
        assert layout["visibleRows"] >= 6, layout
        assert layout["problemWidth"] >= 250 and layout["problemWidth"] > 2 * layout["sinceWidth"], layout

        # A group filters by its kinds; "Kinds" unfolds one badge per kind.
        browser.click("wa-summary-group-waiting")
        browser.wait(lambda _: len(browser.query().get("situation", [])) > 1, message="group filter")
        with ui_stack.api() as api:
            waiting = {
                info["kind"]
                for info in api.get("/whatsapp/api/v1/vocabulary").raise_for_status().json()["situations"]
                if info["group"] == "waiting"
            }
        assert set(browser.query()["situation"]) <= waiting, browser.query()
        browser.wait(
            lambda _: (
                browser.rows()
                and all(r.get_attribute("data-kind") in waiting for r in browser.by_testid("wa-fleet-row"))
            ),
            message="rows of the waiting group",
        )
        browser.unfold("wa-summary-kinds")
        assert browser.one("wa-summary-blocked")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert_console_clean(browser)


def test_quality_column_and_the_messaging_limit_downgrade(
    ui_stack: UiStack, browser: Browser, own_channels: Any
) -> None:
    """Quality and limits are situations: the fleet table has a Quality column (a badge of Meta's
    rating with its severity), and Meta's ``phone_number_quality_update`` DOWNGRADE makes a number
    "Messaging limit lowered" instead of "Healthy"."""
    channel = own_channels(Spec("downgraded", "healthy", {**LIVE, "verified_name": "Acme Downgraded"}, read))
    stored = ui_stack.store.channels.by_id(channel.channel_id)
    assert stored is not None and stored.display_phone_number
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": channel.waba_id,
                "time": int(datetime.now(UTC).timestamp()),
                "changes": [
                    {
                        "field": "phone_number_quality_update",
                        "value": {
                            "display_phone_number": re.sub(r"\D", "", stored.display_phone_number),
                            "event": "DOWNGRADE",
                            "old_limit": "TIER_10K",
                            "current_limit": "TIER_1K",
                        },
                    }
                ],
            }
        ],
    }
    for change in parse_notification(json.dumps(body).encode(), datetime.now(UTC)):
        ui_stack.store.webhooks.record(change)
    situation = _health(ui_stack, channel)["situation"]
    assert situation["kind"] == "messaging_limit_lowered" and "TIER_1K" in situation["detail"], situation

    browser.login("admin")
    browser.open_page(f"q={channel.verified_name}")
    browser.wait_rows([channel.ref])
    problem = browser.text("wa-problem")
    assert "Messaging limit lowered" in problem, problem
    red = ui_stack.channels["quality_red"]
    browser.open_page(f"q={red.verified_name}")
    browser.wait_rows([red.ref])
    assert browser.text("wa-quality") == "RED"
    _open_channel(browser, channel)
    banner = _banner(browser, "messaging_limit_lowered")
    assert "Healthy" not in banner.text and browser.by_testid("wa-banner-manager-link", within=banner)
    assert_console_clean(browser)


def test_the_page_says_the_fleet_dag_is_paused_and_no_banner_says_it_retries(
    ui_stack: UiStack, browser: Browser
) -> None:
    """The next try and the fleet's status: the stack's whatsapp_fleet_health is paused (as Airflow
    creates it). Both views say so, and the banners of what the fleet retries say nothing is retried
    (not "the fleet retries by itself"), with their next try marked paused."""
    with ui_stack.api() as api:
        schedule = api.get("/whatsapp/api/v1/fleet/schedule").raise_for_status().json()
    assert schedule["paused"] is True, schedule
    browser.login("admin")
    browser.open_page()
    assert browser.attribute("wa-fleet-status", "data-state") == "paused"
    assert "whatsapp_fleet_health" in browser.text("wa-fleet-status")
    for key in ("register_backoff", "blocked"):
        _open_channel(browser, ui_stack.channels[key])
        banner = _banner(browser, key)
        assert browser.attribute("wa-fleet-status", "data-state") == "paused"
        assert "by itself" not in banner.text, banner.text
        assert "paused" in banner.text, banner.text
    assert_console_clean(browser)
