"""The page as part of Airflow: the home dashboard's card, the navigation entry, the user's time
zone and color mode, both followed by the page."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.ui.browser import PAGE_PATH, Browser, assert_console_clean
from tests.ui.conftest import UiStack

pytestmark = pytest.mark.slow

#: A zone with a 45-minute offset: no formatting accident turns UTC times into it.
ZONE = "Asia/Kathmandu"


def test_home_shows_the_fleet_card_and_no_plugin_import_error(ui_stack: UiStack, browser: Browser) -> None:
    from selenium.webdriver.common.by import By

    browser.login("admin")
    browser.open("/")
    card = browser.one("wa-card")
    with ui_stack.api() as api:
        import_errors = api.get("/api/v2/plugins/importErrors").raise_for_status().json()
        summary = api.get("/whatsapp/api/v1/fleet/summary").raise_for_status().json()
    assert import_errors["total_entries"] == 0, import_errors
    body = browser.driver.find_element(By.TAG_NAME, "body").text
    assert "Plugin Import Error" not in body and "plugin import error" not in body.lower()
    browser.one("wa-card-total")
    card_text = card.text
    assert f"{summary['total']} channels" in card_text, (summary, card_text)
    assert f"{summary['needs_action']} need action" in card_text, (summary, card_text)
    browser.screenshot("home.png")

    browser.click("wa-card-needs-action")  # the count leads to the channels it counts
    browser.one("wa-fleet")
    assert browser.query().get("needs_action") == ["true"], browser.driver.current_url
    assert len(browser.wait_rows()) == min(summary["needs_action"], 50)
    browser.driver.back()
    browser.click("wa-card-link")
    browser.one("wa-fleet")
    assert urlsplit(browser.driver.current_url).path == PAGE_PATH
    assert_console_clean(browser)


def test_the_navigation_entry_opens_the_page(ui_stack: UiStack, browser: Browser) -> None:
    from selenium.webdriver.common.by import By

    browser.login("admin")
    browser.open("/")
    selector = "a[href$='plugin/whatsapp-health']"
    browser.wait(
        lambda d: d.find_elements(By.CSS_SELECTOR, "nav") or d.find_elements(By.CSS_SELECTOR, selector)
    )
    links = [a for a in browser.driver.find_elements(By.CSS_SELECTOR, selector) if a.is_displayed()]
    if not links:  # not top-level: Airflow lists it under its "Plugins" menu
        menu = next(
            b for b in browser.driver.find_elements(By.CSS_SELECTOR, "nav button") if "Plugins" in b.text
        )
        menu.click()
        links = [
            browser.wait(
                lambda d: next(
                    (a for a in d.find_elements(By.CSS_SELECTOR, selector) if a.is_displayed()), False
                )
            )
        ]
    clipped = browser.driver.execute_script(
        "return [...arguments[0].querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.textContent)",
        links[0],
    )
    assert clipped == [], f"the navigation label is cut: {clipped}"
    links[0].click()
    browser.one("wa-fleet")
    browser.wait_rows()
    assert urlsplit(browser.driver.current_url).path == PAGE_PATH
    assert_console_clean(browser)


def _shown_since(browser: Browser, ref: str) -> str:
    """The row's "since" text once shown, read in one script: the view refreshes on a timer and
    replaces rows."""
    script = "return document.querySelector(arguments[0])?.innerText.trim() || null"
    selector = f"[data-testid='wa-fleet-row'][data-channel='{ref}'] [data-testid='wa-since']"
    return browser.wait(lambda driver: driver.execute_script(script, selector), message=f"no since on {ref}")


def test_times_follow_the_airflow_time_zone(ui_stack: UiStack, browser: Browser) -> None:
    """Airflow keeps the user's zone in localStorage ``timezone``; the default comes from its config."""
    blocked = ui_stack.channels["blocked"]
    with ui_stack.api() as api:
        since = api.get(blocked.path + "/health").raise_for_status().json()["situation"]["since"]
    assert since, "the blocked channel has no 'since'"
    at = datetime.fromisoformat(since.replace("Z", "+00:00"))

    browser.login("admin")
    browser.open_page("situation=blocked")
    browser.set_local_storage({"timezone": None})
    browser.driver.refresh()
    # Without a choice Airflow shows the browser's own zone (as its own pages do).
    default_zone = browser.driver.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert default_zone != ZONE
    in_default = _shown_since(browser, blocked.ref)
    assert at.astimezone(ZoneInfo(default_zone)).strftime("%Y-%m-%d %H:%M") in in_default, (since, in_default)

    browser.set_local_storage({"timezone": json.dumps(ZONE)})
    browser.driver.refresh()
    local = at.astimezone(ZoneInfo(ZONE))
    shown = browser.wait(
        lambda d: (t := _shown_since(browser, blocked.ref)) != in_default and t, message="time zone ignored"
    )
    assert local.strftime("%Y-%m-%d %H:%M") in shown, (since, ZONE, shown)
    browser.screenshot("fleet-kathmandu.png")
    browser.set_local_storage({"timezone": None})
    assert_console_clean(browser)


#: Relative luminance (0 black .. 1 white) of an element's text color, or of the background it is
#: seen on (its own or the nearest ancestor's that is not transparent; the canvas is white). Any
#: CSS color syntax (Chakra's tokens come as ``oklch(...)``): the browser paints it on a canvas
#: and reads the pixel back.
_LUMINANCE = """
const [element, prop] = arguments;
const ctx = document.createElement("canvas").getContext("2d", {willReadFrequently: true});
const rgba = (color) => {
  ctx.clearRect(0, 0, 1, 1);
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, 1, 1);
  return ctx.getImageData(0, 0, 1, 1).data;
};
let node = element, pixel = rgba(getComputedStyle(node)[prop]);
while (prop === "backgroundColor" && pixel[3] === 0 && node.parentElement) {
  node = node.parentElement;
  pixel = rgba(getComputedStyle(node)[prop]);
}
if (pixel[3] === 0) pixel = [255, 255, 255, 255];
return (0.2126 * pixel[0] + 0.7152 * pixel[1] + 0.0722 * pixel[2]) / 255;
"""


def _luminance(browser: Browser, element: object, prop: str) -> float:
    return float(browser.driver.execute_script(_LUMINANCE, element, prop))


def test_dark_mode_renders_with_theme_colors(ui_stack: UiStack, browser: Browser) -> None:
    """Airflow's color mode (next-themes, localStorage ``theme``) recolors the page: no fixed colors."""
    browser.login("admin")

    def colors(mode: str) -> dict[str, float]:
        browser.set_local_storage({"theme": mode})
        browser.open_page()
        browser.wait(
            lambda d: (
                d.execute_script("return document.documentElement.className").find(mode) >= 0
                or d.execute_script("return document.documentElement.dataset.theme") == mode
            ),
            message=f"{mode} mode not applied",
        )
        browser.wait_rows()
        fleet = browser.one("wa-fleet")
        problem = browser.by_testid("wa-problem")[0]
        return {
            "text": _luminance(browser, fleet, "color"),
            "problem": _luminance(browser, problem, "color"),
            "page": _luminance(browser, fleet, "backgroundColor"),
        }

    light = colors("light")
    dark = colors("dark")
    browser.screenshot("fleet-dark.png")
    browser.set_local_storage({"theme": "light"})
    assert light["page"] > 0.5 and dark["page"] < 0.5, (light, dark)
    assert light["text"] < 0.5 < dark["text"], (light, dark)  # the page's text follows the theme
    assert dark["problem"] > light["problem"], (light, dark)  # so do the problem cells
    assert_console_clean(browser)
