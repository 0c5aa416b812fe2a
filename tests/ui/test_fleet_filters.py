"""The fleet view's filters that scale: offboarded channels, owners, page size, and the CSV export.

Before, offboarded channels could not be reached from the page (no badge, no toggle, search
skipped them; only a deep link showed them). Channels a test needs beyond the shared seed are
added by it and deleted afterwards, so the other tests see the seed unchanged.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.ui.browser import PAGE_PATH, Browser, assert_console_clean
from tests.ui.conftest import UiStack
from tests.ui.seed_situations import INACTIVE_KINDS

pytestmark = pytest.mark.slow


def _fleet(ui_stack: UiStack, **params: Any) -> dict[str, Any]:
    with ui_stack.api() as api:
        query = {"limit": 500, "sort": "needs_action", **params}
        return api.get("/whatsapp/api/v1/fleet", params=query).raise_for_status().json()


def _refs(answer: dict[str, Any]) -> list[str]:
    return [f"{c['account_id']}-{c['inbox_id']}" for c in answer["channels"]]


def _select(browser: Browser, testid: str, value: str) -> None:
    """Choose ``value`` in a ``<select>`` (found again if React replaced it meanwhile)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import Select

    for _ in range(5):
        try:
            Select(browser.one(testid)).select_by_value(value)
            return
        except StaleElementReferenceException:
            time.sleep(0.2)
    raise AssertionError(f"[data-testid={testid}] kept being replaced")


def test_offboarded_channels_are_counted_listed_and_found(ui_stack: UiStack, browser: Browser) -> None:
    offboarded = ui_stack.channels["offboarded"]
    inactive = [c for c in ui_stack.channels.values() if c.kind in INACTIVE_KINDS]
    counts = _fleet(ui_stack)["counts"]
    assert counts["offboarded"] == len(inactive) >= 1
    browser.login("admin")
    browser.open_page()
    browser.wait_rows()
    assert browser.text("wa-offboarded-count") == str(len(inactive))
    assert browser.attribute("wa-offboarded-toggle", "aria-pressed") == "false"

    # Off: the search does not find it (it is not in the listing); on: it does.
    browser.type_into("wa-search", offboarded.verified_name)
    browser.wait(lambda _: browser.query().get("q") == [offboarded.verified_name], message="not searched")
    browser.one("wa-empty")
    browser.click("wa-offboarded-toggle")
    browser.wait(lambda _: browser.query().get("include_inactive") == ["true"], message="toggle not in URL")
    browser.wait_rows([offboarded.ref])
    assert browser.attribute("wa-offboarded-toggle", "aria-pressed") == "true"
    assert browser.attribute("wa-fleet-row", "data-kind") == "offboarded"
    browser.driver.refresh()  # the URL keeps it
    browser.wait_rows([offboarded.ref])

    # Without a search, the toggle lists every channel, offboarded ones included.
    browser.open_page("include_inactive=true&page_size=200")
    everything = _refs(_fleet(ui_stack, include_inactive="true", limit=200))
    assert {c.ref for c in inactive} <= set(everything)
    browser.wait_rows(everything)

    # Its row opens its channel view.
    browser.open_page(f"include_inactive=true&q={offboarded.verified_name}")
    browser.wait_rows([offboarded.ref])
    browser.click("wa-channel-link")
    browser.one("wa-channel")
    assert browser.query().get("channel") == [offboarded.ref]
    assert offboarded.verified_name in browser.text("wa-channel")

    # Off again: gone from the search.
    browser.open_page(f"include_inactive=true&q={offboarded.verified_name}")
    browser.wait_rows([offboarded.ref])
    browser.click("wa-offboarded-toggle")
    browser.wait(lambda _: "include_inactive" not in browser.query(), message="toggle stayed on")
    browser.one("wa-empty")
    assert_console_clean(browser)


#: Channels of their own owners (account, WABA, business), added for the owner and export tests.
OWNED = (
    (9201, "191000000000001", "591000000000001"),
    (9201, "191000000000002", "591000000000001"),
    (9202, "191000000000002", "591000000000002"),
)


@pytest.fixture
def owned(ui_stack: UiStack) -> Iterator[list[str]]:
    """The :data:`OWNED` channels (their row refs), deleted afterwards."""
    added = []
    try:
        for n, (account_id, waba_id, business_id) in enumerate(OWNED):
            added.append(
                ui_stack.store.channels.upsert(
                    account_id=account_id,
                    phone_number_id=f"39100000000{n:04d}",
                    waba_id=waba_id,
                    business_id=business_id,
                    access_token=f"EAAG-owned-{n}",
                    display_phone_number=f"+1 555-091-{n:04d}",
                    verified_name=f"Acme Owned {n}",
                )
            )
        yield [f"{c.account_id}-{c.inbox_id}" for c in added]
    finally:
        for channel in added:
            ui_stack.delete_channel(channel.id)


def _add_owner(browser: Browser, owner: str, value: str) -> None:
    before = browser.query().get(owner, [])

    def chosen(_: object) -> bool:
        # React may render the controls again as the first rows arrive, which resets them: the
        # kind and the id are chosen again until both show before "add" is clicked.
        if browser.attribute("wa-owner-kind", "value") != owner:
            _select(browser, "wa-owner-kind", owner)
        if browser.attribute("wa-owner-input", "value") != value:
            browser.type_into("wa-owner-input", value)
        shown = (browser.attribute("wa-owner-kind", "value"), browser.attribute("wa-owner-input", "value"))
        return shown == (owner, value)

    browser.wait(chosen, message=f"{owner} {value} not chosen")
    browser.click("wa-owner-add")
    browser.wait(lambda _: browser.query().get(owner) == [*before, value], message=f"{owner} not in URL")


def _remove_owner(browser: Browser, owner: str, value: str) -> None:
    """Click the active filter's chip, found again while React re-renders the row after a reload."""
    from selenium.common.exceptions import ElementNotInteractableException, StaleElementReferenceException

    def chip(_: object) -> object:
        shown = [
            c
            for c in browser.by_testid(f"wa-owner-{owner}")
            if c.get_attribute("data-value") == value and c.is_displayed()
        ]
        return shown[0] if shown else False

    for _ in range(5):
        try:
            browser.wait(chip, message=f"no {owner} {value} chip").click()
            return
        except (ElementNotInteractableException, StaleElementReferenceException):
            time.sleep(0.3)
    raise AssertionError(f"the {owner} {value} chip never took a click")


def test_filters_by_waba_business_and_account(ui_stack: UiStack, browser: Browser, owned: list[str]) -> None:
    first, second, third = owned
    browser.login("admin")
    browser.open_page()
    browser.wait_rows()

    _add_owner(browser, "waba_id", OWNED[0][1])
    browser.wait_rows([first])
    _add_owner(browser, "waba_id", OWNED[1][1])  # a second WABA: either matches
    expected = _refs(_fleet(ui_stack, waba_id=[OWNED[0][1], OWNED[1][1]]))
    assert sorted(expected) == sorted(owned)
    browser.wait_rows(expected)
    browser.driver.refresh()  # the URL keeps both
    browser.wait_rows(expected)
    # Removing one keeps the other.
    _remove_owner(browser, "waba_id", OWNED[0][1])
    browser.wait(lambda _: browser.query().get("waba_id") == [OWNED[1][1]], message="chip not removed")
    browser.wait_rows(_refs(_fleet(ui_stack, waba_id=OWNED[1][1])))
    assert sorted(browser.rows()) == sorted([second, third])

    browser.open_page()
    browser.wait_rows()
    _add_owner(browser, "business_id", OWNED[2][2])
    browser.wait_rows([third])

    browser.open_page()
    browser.wait_rows()
    _add_owner(browser, "account_id", str(OWNED[0][0]))
    browser.wait_rows(_refs(_fleet(ui_stack, account_id=OWNED[0][0])))
    assert sorted(browser.rows()) == sorted([first, second])
    # Owner filters combine with each other (AND) and with the search.
    _add_owner(browser, "business_id", OWNED[0][2])
    browser.type_into("wa-search", "Acme Owned 1")
    browser.wait_rows([second])

    # An id the API would refuse cannot be added; in a link, it is named and left out.
    browser.open_page()
    browser.wait_rows()
    _select(browser, "wa-owner-kind", "waba_id")
    browser.type_into("wa-owner-input", "12ab")
    assert not browser.enabled("wa-owner-add")
    browser.open_page(f"waba_id=12ab&waba_id={OWNED[0][1]}&account_id=0")
    ignored = browser.text("wa-ignored")
    assert "waba_id=12ab" in ignored and "account_id=0" in ignored, ignored
    browser.wait_rows([first])
    assert not browser.by_testid("wa-error")
    browser.click("wa-clear-filters")
    browser.wait(lambda _: browser.query() == {}, message="the owner filters stayed in the URL")
    assert_console_clean(browser)


def test_page_size_is_chosen_and_kept_in_the_url(ui_stack: UiStack, browser: Browser) -> None:
    paging = _fleet(ui_stack, limit=1)
    total = paging["total"]
    with ui_stack.api() as api:
        fleet_paging = api.get("/whatsapp/api/v1/vocabulary").raise_for_status().json()["fleet"]
    default, sizes = fleet_paging["page_size"], fleet_paging["page_sizes"]
    small, large = min(sizes), max(sizes)
    assert small < default < large and small < total, (sizes, total)
    browser.login("admin")
    browser.open_page()
    assert len(browser.wait_rows()) == min(default, total)

    _select(browser, "wa-page-size", str(small))
    browser.wait(lambda _: browser.query().get("page_size") == [str(small)], message="size not in URL")
    browser.wait_rows(_refs(_fleet(ui_stack, limit=small)))
    pages = math.ceil(total / small)
    assert f"Page 1 of {pages}" in browser.text("wa-fleet")
    browser.click("wa-page-next")
    browser.wait(lambda _: browser.query().get("page") == ["2"], message="no page 2")
    browser.wait_rows(_refs(_fleet(ui_stack, limit=small, offset=small)))
    browser.driver.refresh()
    browser.wait_rows(_refs(_fleet(ui_stack, limit=small, offset=small)))

    # Another size starts again at page 1; the default size leaves the URL.
    _select(browser, "wa-page-size", str(large))
    browser.wait(lambda _: browser.query().get("page_size") == [str(large)], message="size not in URL")
    assert "page" not in browser.query()
    browser.wait_rows(_refs(_fleet(ui_stack, limit=large)))
    _select(browser, "wa-page-size", str(default))
    browser.wait(lambda _: "page_size" not in browser.query(), message="default size kept in URL")

    # A size the page does not offer (or above the API's limit) is named and left out.
    browser.open_page("page_size=7")
    assert "page_size=7" in browser.text("wa-ignored")
    assert len(browser.wait_rows(_refs(_fleet(ui_stack, limit=default)))) == min(default, total)
    assert_console_clean(browser)


def _downloads(browser: Browser, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    browser.driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(folder), "eventsEnabled": True},
    )


def _downloaded(browser: Browser, folder: Path) -> Path:
    def done(_: Any) -> Path | bool:
        files = [p for p in folder.iterdir() if p.suffix == ".csv"]
        partial = [p for p in folder.iterdir() if p.suffix == ".crdownload"]
        return files[0] if len(files) == 1 and not partial else False

    return browser.wait(done, message=f"no CSV downloaded into {folder}")


def test_export_csv_downloads_the_filtered_fleet(
    ui_stack: UiStack, browser: Browser, owned: list[str], tmp_path: Path
) -> None:
    browser.login("viewer")  # read-only users may export too
    folder = tmp_path / "downloads"
    _downloads(browser, folder)
    browser.open_page(f"waba_id={OWNED[1][1]}&sort=account&order=desc&page_size=25")
    expected = _refs(_fleet(ui_stack, waba_id=OWNED[1][1], sort="account", order="desc"))
    assert sorted(expected) == sorted(owned[1:])
    browser.wait_rows(expected)
    href = browser.attribute("wa-export-csv", "href")
    assert urlsplit(href).path.endswith("/whatsapp/api/v1/fleet/export.csv"), href
    # The page's filter and sort, not its page.
    assert parse_qs(urlsplit(href).query) == {
        "waba_id": [OWNED[1][1]],
        "sort": ["account"],
        "order": ["desc"],
    }, href
    started = time.monotonic()
    browser.click("wa-export-csv")
    path = _downloaded(browser, folder)
    print(f"CSV of {len(expected)} filtered channels downloaded in {time.monotonic() - started:.2f} s")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [f"{row['Account']}-{row['Inbox']}" for row in rows] == expected
    assert {row["WABA id"] for row in rows} == {OWNED[1][1]}
    assert [row["Display name"] for row in rows] == ["Acme Owned 2", "Acme Owned 1"]
    assert browser.query().get("waba_id") == [OWNED[1][1]], "the page stayed where it was"
    assert_console_clean(browser)
    assert PAGE_PATH in browser.driver.current_url
