"""Browser benchmark: how fast the WhatsApp fleet view shows its first page at N channels (Chromium).

Usage::

    .venv/bin/python bench/ui_first_page.py                    # 100,000 channels, 5 runs each
    .venv/bin/python bench/ui_first_page.py --channels 20000 --runs 3

Seeds N channels into a throw-away schema of ``WHATSAPP_TEST_DATABASE_URL`` with
``bench/fleet_api.py``'s set-based seeder (its state mix), starts ``airflow api-server`` with the
plugin (no scheduler: nothing runs), logs in as ``admin`` in headless Debian Chromium and measures,
with a ``MutationObserver`` installed before any page script runs, when the first
``[data-testid=wa-fleet-row]`` enters the DOM and the frame after it (painted):

- ``navigation``: the page's URL opened (reload of a warm Airflow, browser cache on), from the
  navigation start: Airflow's shell, the plugin bundle, ``/fleet`` and the render (with when the
  bundle and ``/fleet`` were requested: what comes before is Airflow's own start-up);
- ``click``: Airflow's home already open, from the click on the navigation entry: what a user
  waits for inside Airflow (the plugin bundle is cached after the first run).

The first run of each is reported apart (``cold_*``) and not in the medians. Prints ONE JSON
line on stdout; stops the API server and drops the schema whatever happens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The checkout importable, then bench/_bootstrap.py: Airflow's settings in the environment
# before Airflow is first imported (it sorts before the other project imports).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._bootstrap import DATABASE_URL
from bench.fleet_api import seeded_api_server
from tests.ui.browser import PAGE_PATH, Browser, new_driver

ROW = "[data-testid='wa-fleet-row']"
NAV_LINK = "a[href$='plugin/whatsapp-health']"

#: Runs before any script of every document: the first row's time (ms since navigation start)
#: in the DOM and at the next animation frame (painted), in ``window.__waFirstRow``.
_OBSERVE_ON_LOAD = f"""
window.__waFirstRow = null;
new MutationObserver((_, observer) => {{
  if (document.querySelector("{ROW}")) {{
    observer.disconnect();
    const inDom = performance.now();
    requestAnimationFrame(() => {{ window.__waFirstRow = {{inDom, painted: performance.now()}}; }});
  }}
}}).observe(document, {{subtree: true, childList: true}});
"""

#: Async script: click the nav entry, resolve with the ms from the click to the first row.
_CLICK_AND_WAIT = f"""
const done = arguments[arguments.length - 1];
const link = [...document.querySelectorAll("{NAV_LINK}")].find(a => a.offsetParent !== null);
if (!link) {{ done({{error: "no navigation entry"}}); return; }}
const started = performance.now();
const observer = new MutationObserver(() => {{
  if (document.querySelector("{ROW}")) {{
    observer.disconnect();
    const inDom = performance.now() - started;
    requestAnimationFrame(() => done({{inDom, painted: performance.now() - started}}));
  }}
}});
observer.observe(document, {{subtree: true, childList: true}});
link.click();
"""

#: Where the time of a navigation went: when the page asked for its bundle and for ``/fleet``
#: (everything before is Airflow's own shell), and how long ``/fleet`` took.
_RESOURCES = """
const paths = performance.getEntriesByType("resource").map(e => [new URL(e.name).pathname, e]);
const last = (test) => paths.filter(([path]) => test(path)).map(([, e]) => e).pop();
const bundle = last(path => path.includes("/whatsapp/ui/"));
const fleet = last(path => path.endsWith("/whatsapp/api/v1/fleet"));
return {
  bundle_start: bundle ? bundle.startTime : null,
  bundle_end: bundle ? bundle.responseEnd : null,
  fleet_start: fleet ? fleet.startTime : null,
  fleet_request: fleet ? fleet.duration : null,
};
"""


def _wait_for(browser: Browser, script: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = browser.driver.execute_script(script)
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {timeout_s}s on {browser.driver.current_url}")


def navigation_run(browser: Browser) -> dict[str, float]:
    browser.open_page()
    timing = _wait_for(browser, "return window.__waFirstRow")
    resources = {k: v or 0.0 for k, v in browser.driver.execute_script(_RESOURCES).items()}
    rows = browser.driver.execute_script(f'return document.querySelectorAll("{ROW}").length')
    return {**timing, **resources, "rows": rows}


def click_run(browser: Browser) -> dict[str, float]:
    browser.open("/")
    _wait_for(
        browser, f'return [...document.querySelectorAll("{NAV_LINK}")].some(a => a.offsetParent !== null)'
    )
    browser.driver.set_script_timeout(60)
    timing = browser.driver.execute_async_script(_CLICK_AND_WAIT)
    if "error" in timing:
        raise RuntimeError(timing["error"])
    return timing


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    cold, warm = runs[0], runs[1:] or runs[:1]
    out: dict[str, Any] = {
        "cold_in_dom_ms": round(cold["inDom"], 1),
        "cold_painted_ms": round(cold["painted"], 1),
        "painted_p50_ms": round(statistics.median(r["painted"] for r in warm), 1),
        "painted_max_ms": round(max(r["painted"] for r in warm), 1),
        "in_dom_p50_ms": round(statistics.median(r["inDom"] for r in warm), 1),
        "runs": len(warm),
    }
    if "rows" in cold:
        for name in ("bundle_start", "bundle_end", "fleet_start", "fleet_request"):
            out[f"{name}_p50_ms"] = round(statistics.median(r[name] for r in warm), 1)
        out["rows"] = int(cold["rows"])
    return out


def measure_first_page(base_url: str, runs: int) -> dict[str, Any]:
    """Log in as admin in a fresh Chromium and time ``runs`` + 1 navigations and clicks."""
    driver = new_driver()
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _OBSERVE_ON_LOAD})
        browser = Browser(driver, base_url)
        browser.login("admin")
        navigation = [navigation_run(browser) for _ in range(runs + 1)]
        click = [click_run(browser) for _ in range(runs + 1)]
    finally:
        driver.quit()
    return {"page": PAGE_PATH, "navigation": _summary(navigation), "click": _summary(click)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each kind (after a cold one)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ui-first-page-") as tmp,
        seeded_api_server(DATABASE_URL, args.channels, Path(tmp)) as api,
    ):
        figures = measure_first_page(api.servers.base_url, args.runs)
    line = {"channels": api.rows["channels"], **figures, "seed_s": round(api.seed_s, 1)}
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
