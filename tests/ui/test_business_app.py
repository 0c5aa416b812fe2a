"""WhatsApp Business app numbers in Chromium: the "WhatsApp Business app + API" badge (channel and
fleet row), the link, both syncs in the API's words, the history's progress, the 24-hour deadline
while a sync is due, the echo count, and no *Complete registration* (Meta takes no register call
for such a number; the API answers 409)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.ui.browser import Browser, assert_console_clean
from tests.ui.conftest import UiStack
from tests.ui.seed_situations import ECHOES, HISTORY_PROGRESS, Situated
from whatsapp.domain.business_app import BUSINESS_APP_LABEL, SYNC_STATE_WORDS, SyncState

pytestmark = pytest.mark.slow


def _health(ui_stack: UiStack, channel: Situated) -> dict[str, Any]:
    with ui_stack.api() as api:
        return api.get(channel.path + "/health").raise_for_status().json()


def _local(browser: Browser, iso: str) -> str:
    """``YYYY-MM-DD HH:MM`` of an API time in the browser's zone (Airflow's default zone)."""
    zone = browser.driver.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
    return (
        datetime.fromisoformat(iso.replace("Z", "+00:00"))
        .astimezone(ZoneInfo(zone))
        .strftime("%Y-%m-%d %H:%M")
    )


def _open(browser: Browser, channel: Situated, kind: str) -> Any:
    """The channel view once its banner shows ``kind``."""
    browser.open_page(f"channel={channel.ref}")
    browser.wait(
        lambda _: browser.attribute("wa-banner", "data-kind") == kind,
        message=f"the banner never showed {kind}",
    )
    return browser.one("wa-channel")


def test_a_business_app_number_shows_its_link_syncs_deadline_and_echoes(
    ui_stack: UiStack, browser: Browser
) -> None:
    channel = ui_stack.channels["app_sync_due"]
    app = _health(ui_stack, channel)["business_app"]
    assert app["label"] == BUSINESS_APP_LABEL and app["sync_deadline"], app
    browser.login("admin")
    view = _open(browser, channel, "history_sync_due")

    assert browser.text("wa-business-app-badge") == BUSINESS_APP_LABEL
    assert "connected" in browser.text("wa-app-link")
    contacts = browser.text("wa-sync-contacts")
    assert SYNC_STATE_WORDS[SyncState.REQUESTED] in contacts, contacts
    assert "requested, answer unknown (not sent again)" in contacts
    assert SYNC_STATE_WORDS[SyncState.DUE] in browser.text("wa-sync-history")
    deadline = _local(browser, app["sync_deadline"])
    assert deadline in browser.text("wa-sync-deadline")
    assert deadline in browser.text("wa-banner")  # the banner's deadline, as a name change's
    assert str(ECHOES) in browser.text("wa-echoes")
    assert not browser.by_testid("wa-register-button"), "Complete registration offered for an app number"
    assert "null" not in view.text and "undefined" not in view.text
    browser.screenshot("business-app.png")
    assert_console_clean(browser)


def test_complete_registration_is_not_offered_for_a_business_app_number(
    ui_stack: UiStack, browser: Browser
) -> None:
    """Neither read yet: the ``not_checked`` number offers it, the WhatsApp Business app number does not."""
    browser.login("admin")
    _open(browser, ui_stack.channels["not_checked"], "not_checked")
    browser.one("wa-register-button")
    _open(browser, ui_stack.channels["app_not_read"], "history_sync_due")
    browser.one("wa-business-app")
    assert not browser.by_testid("wa-register-button")
    assert_console_clean(browser)


def test_the_history_progress_shows_and_no_deadline_once_both_syncs_are_requested(
    ui_stack: UiStack, browser: Browser
) -> None:
    channel = ui_stack.channels["app_history_arriving"]
    browser.login("admin")
    _open(browser, channel, "healthy")
    history = browser.text("wa-sync-history")
    assert f"{SYNC_STATE_WORDS[SyncState.IN_PROGRESS]} ({HISTORY_PROGRESS} %)" in history, history
    assert SYNC_STATE_WORDS[SyncState.FINISHED] in browser.text("wa-sync-contacts")
    browser.one("wa-sync-progress")
    assert not browser.by_testid("wa-sync-deadline")
    assert_console_clean(browser)


def test_fleet_rows_badge_business_app_numbers(ui_stack: UiStack, browser: Browser) -> None:
    app_number, other = ui_stack.channels["app_sync_due"], ui_stack.channels["healthy"]
    browser.login("admin")
    for channel, badged in ((app_number, True), (other, False)):
        browser.open_page(f"q={channel.verified_name}")
        browser.wait_rows([channel.ref])
        badges = browser.by_testid("wa-business-app-badge", within=browser.one("wa-fleet-row"))
        assert [b.text for b in badges] == ([BUSINESS_APP_LABEL] if badged else []), channel.key
        if badged:
            browser.screenshot("fleet-business-app.png")
    assert_console_clean(browser)


def test_a_disconnected_number_shows_no_deadline(ui_stack: UiStack, browser: Browser) -> None:
    """Offboarded from the app, its syncs stay "due" but can no longer be sent: no deadline is shown."""
    browser.login("admin")
    _open(browser, ui_stack.channels["app_disconnected"], "app_disconnected")
    assert "disconnected" in browser.text("wa-app-link")
    assert SYNC_STATE_WORDS[SyncState.DUE] in browser.text("wa-sync-history")
    assert not browser.by_testid("wa-sync-deadline")
    assert not browser.by_testid("wa-register-button")
    assert_console_clean(browser)
