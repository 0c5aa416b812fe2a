"""The fleet view in Chromium: problems first, badges that filter, URL state, sort, pages, search.

What the table must show is asked from the API with the same parameters the URL holds, so the
tests check the page against the server's answer rather than against a copy of its rules.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.ui.browser import PAGE_PATH, Browser, assert_console_clean
from tests.ui.conftest import UiStack
from tests.ui.seed_situations import HOSTILE_NAME, INACTIVE_KINDS

pytestmark = pytest.mark.slow


def _fleet(ui_stack: UiStack, **params: Any) -> dict[str, Any]:
    with ui_stack.api() as api:
        # The page always names its sort; its default is "needs action first".
        query = {"limit": 500, "sort": "needs_action", **params}
        return api.get("/whatsapp/api/v1/fleet", params=query).raise_for_status().json()


def _refs(answer: dict[str, Any]) -> list[str]:
    return [f"{c['account_id']}-{c['inbox_id']}" for c in answer["channels"]]


def _vocabulary(ui_stack: UiStack) -> dict[str, Any]:
    with ui_stack.api() as api:
        return api.get("/whatsapp/api/v1/vocabulary").raise_for_status().json()


#: The channel view's refresh interval, which the fleet view shares (REFRESH_MS in ui/src/queries.ts).
REFRESH_S = 10


def test_channels_that_need_action_come_first(ui_stack: UiStack, browser: Browser) -> None:
    browser.login("admin")
    browser.open_page()
    browser.one("wa-fleet")
    shown = browser.wait_rows()
    browser.screenshot("fleet.png")
    needing = set(_refs(_fleet(ui_stack, needs_action="true")))
    assert needing, "the seed has channels that need action"
    assert len(shown) > len(needing), "the first page holds every channel needing action and more"
    assert set(shown[: len(needing)]) == needing, shown
    healthy = {ui_stack.channels[k].ref for k in ("healthy", "hostile")}
    assert not healthy & set(shown[: len(needing)])
    # The problem column says it in words, the first row's since/next try are not raw ISO strings.
    problems = [cell.text for cell in browser.by_testid("wa-problem")[: len(needing)]]
    assert all(text.strip() for text in problems), problems
    assert not any("_" in text for text in problems), f"enum values shown as problems: {problems}"
    assert_console_clean(browser)


def test_summary_badges_filter_and_the_url_keeps_the_filter(ui_stack: UiStack, browser: Browser) -> None:
    blocked = ui_stack.channels["blocked"]
    browser.login("admin")
    browser.open_page()
    browser.wait_rows()

    browser.unfold("wa-summary-kinds")  # the kinds fold into their groups until unfolded
    browser.click("wa-summary-blocked")
    browser.wait_rows([blocked.ref])
    assert browser.query().get("situation") == ["blocked"], browser.driver.current_url
    browser.driver.refresh()
    browser.wait_rows([blocked.ref])  # reload keeps it

    browser.open_page()
    browser.wait_rows()
    browser.click("wa-summary-needs_action")
    expected = _refs(_fleet(ui_stack, needs_action="true"))
    shown = browser.wait(
        lambda _: (rows := browser.rows()) and set(rows) == set(expected) and rows, message=""
    )
    assert browser.query().get("needs_action") == ["true"], browser.driver.current_url
    browser.driver.refresh()
    assert browser.wait_rows(shown) == shown

    # Every summary badge filters to what the API answers for that situation.
    browser.open_page()
    page_size = len(browser.wait_rows())
    counts = _fleet(ui_stack)["counts"]["situation"]
    assert {k for k, n in counts.items() if n} >= {
        c.kind for c in ui_stack.channels.values() if c.kind not in INACTIVE_KINDS
    }
    browser.unfold("wa-summary-kinds")
    for kind, count in counts.items():  # one after the other: a badge replaces the badge filter
        if not count:
            continue
        browser.click(f"wa-summary-{kind}")
        browser.wait(lambda _, k=kind: browser.query().get("situation") == [k], message=f"badge {kind}")
        expected = _refs(_fleet(ui_stack, situation=kind))
        assert len(expected) == count, (kind, count, expected)
        browser.wait_rows(expected[:page_size])
    assert_console_clean(browser)


def test_sorting_follows_the_server_and_the_url(ui_stack: UiStack, browser: Browser) -> None:
    browser.login("admin")
    browser.open_page()
    default = browser.wait_rows()
    sorters = [e.get_attribute("data-testid") for e in browser.by_testid_prefix("wa-sort-")]
    assert sorters, "no sortable column (data-testid wa-sort-<column>)"
    column = next((c for c in ("wa-sort-display_phone_number", "wa-sort-phone") if c in sorters), sorters[-1])
    browser.click(column)
    first = browser.wait(lambda _: "sort" in browser.query() and browser.query(), message="sort not in URL")
    sort, order = first["sort"][0], first.get("order", ["asc"])[0]
    limit = len(default)
    expected = _refs(_fleet(ui_stack, sort=sort, order=order, limit=limit))
    browser.wait_rows(expected)

    browser.click(column)  # again: the other direction
    browser.wait(lambda _: browser.query().get("order", ["asc"])[0] != order, message="order did not flip")
    flipped = browser.query()["order"][0]
    browser.wait_rows(_refs(_fleet(ui_stack, sort=sort, order=flipped, limit=limit)))
    browser.driver.refresh()
    browser.wait_rows(_refs(_fleet(ui_stack, sort=sort, order=flipped, limit=limit)))
    assert_console_clean(browser)


def test_pages(ui_stack: UiStack, browser: Browser) -> None:
    browser.login("admin")
    browser.open_page()
    first = browser.wait_rows()
    total = _fleet(ui_stack)["total"]
    assert len(first) < total, f"{total} channels fit one page of {len(first)}: the seed needs more fillers"
    browser.click("wa-page-next")
    second = browser.wait(lambda _: (rows := browser.rows()) and rows != first and rows, message="no page 2")
    assert browser.query().get("page") == ["2"], browser.driver.current_url
    assert not set(first) & set(second)
    everything = _refs(_fleet(ui_stack, limit=len(first) + len(second)))
    assert first + second == everything[: len(first) + len(second)]
    browser.driver.refresh()
    browser.wait_rows(second)
    browser.click("wa-page-prev")
    browser.wait_rows(first)
    assert browser.query().get("page") in (None, ["1"])
    assert_console_clean(browser)


def test_search_and_the_empty_result_message(ui_stack: UiStack, browser: Browser) -> None:
    browser.login("admin")
    # Loaded, not mounted within a loaded UI: the first search after the bundle's first import
    # once remounted the page and lost the search box's focus (ui/src/settle.ts).
    browser.open_page(fresh=True)
    browser.wait_rows()
    pin = ui_stack.channels["pin_mismatch"]
    browser.type_into("wa-search", pin.verified_name)
    browser.wait_rows([pin.ref])
    assert browser.query().get("q") == [pin.verified_name]

    browser.type_into("wa-search", "no such channel anywhere")
    assert browser.text("wa-empty").strip(), "the empty result says so in words"
    assert browser.rows() == []
    browser.screenshot("fleet-empty.png")
    browser.driver.refresh()
    browser.one("wa-empty")
    assert_console_clean(browser)


def test_a_hostile_display_name_is_text(ui_stack: UiStack, browser: Browser) -> None:
    """``<img src=x onerror=alert(1)>`` as a verified name: shown literally, no element, no alert."""
    from selenium.common.exceptions import NoAlertPresentException

    hostile = ui_stack.channels["hostile"]
    browser.login("admin")
    browser.open_page("q=img")
    browser.wait_rows([hostile.ref])
    browser.wait(lambda _: HOSTILE_NAME in browser.text("wa-fleet-row"), message="the name as text")
    injected = browser.driver.execute_script(
        "return document.querySelectorAll('img[src=\"x\"], img[onerror]').length"
    )
    assert injected == 0
    browser.click("wa-fleet-row")
    browser.wait(lambda _: HOSTILE_NAME in browser.text("wa-channel"), message="the name in the view")
    assert browser.driver.execute_script("return document.querySelectorAll('img[onerror]').length") == 0
    with pytest.raises(NoAlertPresentException):
        browser.driver.switch_to.alert.text  # noqa: B018 (reading it is the check)
    assert_console_clean(browser)


@pytest.mark.parametrize("sort", ["checked_at", "next_attempt_at"])
def test_sorting_descending_puts_empty_values_last(ui_stack: UiStack, browser: Browser, sort: str) -> None:
    """Before, the API sorted channels without the value first when descending: "Checked"
    descending opened on the never-checked channels, "Next try" on a page of dashes."""
    field = {
        "checked_at": lambda c: c["checked_at"],
        "next_attempt_at": lambda c: c["registration"]["next_attempt_at"],
    }[sort]
    page_size = _vocabulary(ui_stack)["fleet"]["page_size"]
    everything = _fleet(ui_stack, sort=sort, order="desc", limit=500)["channels"]
    values = [field(c) for c in everything]
    having = [v for v in values if v]
    assert having and len(having) < len(values), "the seed has channels with and without the value"
    assert values == sorted(having, reverse=True) + [None] * (len(values) - len(having)), values
    browser.login("admin")
    browser.open_page()
    browser.wait_rows()
    browser.click(f"wa-sort-{sort}")
    browser.wait(lambda _: browser.query().get("sort") == [sort], message="not sorted")
    # The URL changes before React renders the header again; a click on the header of the earlier
    # render would ask for ascending again (its handler still sees the previous sort).
    browser.wait(
        lambda _: browser.attribute(f"wa-sort-{sort}", "aria-sort") == "ascending",
        message="the header never showed the ascending sort",
    )
    browser.click(f"wa-sort-{sort}")  # again: descending
    browser.wait(lambda _: browser.query().get("order") == ["desc"], message="not descending")
    browser.wait_rows(_refs({"channels": everything[:page_size]}))
    assert_console_clean(browser)


def test_a_number_is_found_however_it_is_typed(ui_stack: UiStack, browser: Browser) -> None:
    """Before, the page (the API) found a number only as shown ("555-000-0120"): its E.164 form,
    its digits and its national digits found nothing."""
    channel = ui_stack.channels["pin_mismatch"]
    with ui_stack.api() as api:
        shown = api.get(channel.path + "/health").raise_for_status().json()["display_phone_number"]
    digits = re.sub(r"\D", "", shown)
    assert shown != digits and len(digits) == 11, shown
    browser.login("admin")
    browser.open_page()
    browser.wait_rows()
    for typed in (f"+{digits}", digits, digits[1:]):
        browser.type_into("wa-search", "no such channel anywhere")  # so the next answer is a new one
        browser.one("wa-empty")
        browser.type_into("wa-search", typed)
        browser.wait(lambda _, t=typed: browser.query().get("q") == [t], message=f"{typed} not searched")
        browser.wait_rows([channel.ref])
    assert_console_clean(browser)


def test_a_link_the_page_cannot_serve_leads_back(ui_stack: UiStack, browser: Browser) -> None:
    """A page past the last, an unknown situation or sort, a search longer than the API takes.

    Before, the page showed "No channel is onboarded yet." beside "Page 99 of 2", sent the
    unknown values and showed the API's refusal (every enum value) with no way back, and sent a
    101-character search that the API refused.
    """
    vocabulary = _vocabulary(ui_stack)
    page_size = vocabulary["fleet"]["page_size"]
    total = _fleet(ui_stack)["total"]
    last = math.ceil(total / page_size)
    browser.login("admin")
    browser.open_page("page=99")
    browser.wait(lambda _: browser.query().get("page") == [str(last)], message="page 99 was kept")
    browser.wait_rows(_refs(_fleet(ui_stack, limit=page_size, offset=(last - 1) * page_size)))
    assert not browser.by_testid("wa-empty")
    assert f"Page {last} of {last}" in browser.text("wa-fleet")

    browser.open_page("situation=nonsense&sort=bogus&order=sideways&needs_action=maybe")
    ignored = browser.text("wa-ignored")
    for value in ("nonsense", "bogus", "sideways", "maybe"):
        assert value in ignored, (value, ignored)
    browser.wait_rows(_refs(_fleet(ui_stack, limit=page_size)))  # as if the link named none of them
    assert not browser.by_testid("wa-error")
    browser.click("wa-clear-filters")
    browser.wait(lambda _: browser.query() == {}, message="the unknown values stayed in the URL")
    browser.wait(lambda _: not browser.by_testid("wa-ignored"), message="the notice stayed")

    longest = vocabulary["fleet"]["search_max_length"]
    browser.type_into("wa-search", "x" * (longest + 1))
    browser.wait(lambda _: browser.query().get("q") == ["x" * longest], message="search not capped")
    browser.one("wa-empty")
    assert not browser.by_testid("wa-error")
    assert_console_clean(browser)


def test_an_open_fleet_view_shows_what_the_store_learns_without_a_reload(
    ui_stack: UiStack, browser: Browser
) -> None:
    """Before, the channel view read again every 10 s, the fleet view never did."""
    name = "Acme Arrives Later"
    browser.login("admin")
    browser.open_page(f"q={name}")
    browser.one("wa-empty")
    browser.driver.execute_script("window.__waSamePage = true;")
    channel = ui_stack.store.channels.upsert(
        account_id=9103,
        phone_number_id="399999999999103",
        waba_id="199999999999103",
        business_id="599999999999103",
        access_token="EAAG-unseeded-103",
        verified_name=name,
    )
    try:
        browser.wait_rows([f"{channel.account_id}-{channel.inbox_id}"], timeout=REFRESH_S * 3)
        assert browser.driver.execute_script("return window.__waSamePage === true;"), "the page reloaded"
        assert_console_clean(browser)
    finally:
        browser.driver.get("about:blank")
        ui_stack.delete_channel(channel.id)


def test_each_rows_number_is_a_link_to_its_channel(ui_stack: UiStack, browser: Browser) -> None:
    """A real link: "open in new tab" and "copy link" work. Before, the rows were buttons."""
    from selenium.webdriver.common.by import By

    blocked = ui_stack.channels["blocked"]
    browser.login("admin")
    browser.open_page("situation=blocked")
    browser.wait_rows([blocked.ref])
    row = browser.one("wa-fleet-row")
    [link] = row.find_elements(By.CSS_SELECTOR, "a[href]")
    href = link.get_attribute("href")
    assert urlsplit(href).path.endswith(PAGE_PATH), href
    # The channel, and the filter to go back to.
    assert parse_qs(urlsplit(href).query) == {"situation": ["blocked"], "channel": [blocked.ref]}, href
    browser.driver.switch_to.new_window("tab")  # what "open in new tab" does with the link
    browser.driver.get(href)
    browser.one("wa-channel")
    assert blocked.verified_name in browser.text("wa-channel")
    browser.driver.close()
    browser.driver.switch_to.window(browser.driver.window_handles[0])
    browser.click("wa-fleet-row")  # a click on the row still opens it in place
    browser.one("wa-channel")
    assert browser.query().get("channel") == [blocked.ref]
    assert_console_clean(browser)
