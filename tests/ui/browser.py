"""Headless Debian Chromium driven by Selenium, and the few page moves every browser test makes.

Only loopback is reachable from the browser (``--host-resolver-rules``): a link to WhatsApp
Manager opens its tab and fails to load there instead of calling Meta from a test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.airflow_auth import PASSWORDS

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
#: Chromium's headless shell (Debian's ``chromium-headless-shell``, the build Playwright and Puppeteer
#: run headless): the same Blink and V8 as ``chromium --headless`` without the desktop browser
#: around them, whose browser and GPU processes took twice the CPU (29 browser tests: 122 s of CPU
#: with ``chromium --headless``, 113 s with the shell; bench/README.md, "third session"). The
#: binary itself: Debian's /usr/bin/chromium-headless-shell is a script that does not exec it,
#: so chromedriver's quit stopped the script and left the browser running.
CHROMIUM = Path("/usr/lib/chromium/chromium-headless-shell")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # One renderer process for every Airflow page instead of a new one per navigation (a load
    # from another page, and the back-forward cache kept the old renderers alive): a page
    # is still a fresh document, but V8 compiles Airflow's 7 MB bundle once per process, so the
    # renderer spent about 30 % less CPU on the same page loads (bench/README.md, "One Chromium renderer").
    "--process-per-site",
    "--disable-features=BackForwardCache",
    "--window-size=1600,1000",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
WAIT_S = 30
#: A page load's ceiling, and the form login's waits: the first Airflow page a new Chromium loads,
#: often from an api-server just started, compiles Airflow's 7 MB bundle with no code cache while the
#: server answers its first requests; on a busy 2-core machine the demo's took over 30 s (2026-12-07).
FIRST_PAGE_WAIT_S = 120
#: A page of Airflow's origin that loads no script (a JSON answer): where the browser goes to set
#: the origin's cookies or storage without paying for a load of Airflow's 7 MB page.
LIGHTEST_PAGE = "/api/v2/monitor/health"
#: The page's route under Airflow (``url_route`` of the plugin's ``nav`` React app).
PAGE_PATH = "/plugin/whatsapp-health"
#: A route of Airflow's UI that mounts no page (Airflow shows its "Page Not Found" inside its own
#: layout, asking the server nothing): where a test leaves the UI, so the plugin's page unmounts
#: and its timers stop, and where the next ``open_page`` starts from.
BETWEEN_PAGES_PATH = "/whatsapp-tests-between-pages"


def require_browser() -> None:
    """Skip locally (loudly) without Chromium, chromedriver or selenium; fail under ``CI=true``."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python package selenium")
    if not missing:
        return
    install = "apt-get install chromium-headless-shell chromium-driver; pip selenium"
    reason = f"browser test needs {', '.join(missing)} ({install})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(f"!!! SKIPPING THE REAL-BROWSER TESTS !!! {reason}")


def new_driver() -> Any:
    """Chromium whose console messages (every level) ``driver.get_log("browser")`` returns."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(FIRST_PAGE_WAIT_S)
    return driver


class Browser:
    """One Chromium for the whole suite; logs in as whichever Airflow user a test needs."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.user: str | None = None
        #: Each user's Airflow session cookies, from their first login through the form.
        self._sessions: dict[str, list[dict[str, Any]]] = {}
        #: Airflow's localStorage changed under the loaded UI, which read it when it loaded: the
        #: next ``open_page`` loads the UI anew.
        self._storage_changed = False

    # ---- waiting and finding --------------------------------------------------------------

    def wait(self, condition: Any, timeout: float = WAIT_S, message: str = "") -> Any:
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # React replaces elements as data arrives: an element gone stale is looked up again.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        return WebDriverWait(self.driver, timeout, ignored_exceptions=ignored).until(condition, message)

    def by_testid(self, testid: str, within: Any = None) -> list[Any]:
        from selenium.webdriver.common.by import By

        return (within or self.driver).find_elements(By.CSS_SELECTOR, f"[data-testid='{testid}']")

    def by_testid_prefix(self, prefix: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, f"[data-testid^='{prefix}']")

    def one(self, testid: str, timeout: float = WAIT_S) -> Any:
        """The visible element with ``data-testid``, once it is there."""
        return self.wait(
            lambda d: next((e for e in self.by_testid(testid) if e.is_displayed()), False),
            timeout,
            f"no visible [data-testid={testid}] on {self.driver.current_url}",
        )

    def read(self, testid: str, what: Callable[[Any], T]) -> T:
        """``what`` done to the visible ``testid`` (read, click, type), found again if React replaced it.

        The pages refresh on a timer, so an element found a moment ago may be gone by the time
        its text is read (StaleElementReferenceException in a loaded full run), or, while React
        renders it again, not take keys for a moment (ElementNotInteractableException, in CI).
        """
        from selenium.common.exceptions import ElementNotInteractableException, StaleElementReferenceException

        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                return what(self.one(testid))
            except (StaleElementReferenceException, ElementNotInteractableException) as replaced:
                if time.monotonic() > deadline:
                    raise AssertionError(f"[data-testid={testid}] kept being replaced") from replaced
                time.sleep(0.2)

    def text(self, testid: str) -> str:
        return self.read(testid, lambda element: element.text)

    def attribute(self, testid: str, name: str) -> str | None:
        return self.read(testid, lambda element: element.get_attribute(name))

    def enabled(self, testid: str) -> bool:
        return self.read(testid, lambda element: element.is_enabled())

    def type_into(self, testid: str, text: str) -> None:
        """Replace the text of an input (found again if React replaced it meanwhile)."""
        from selenium.webdriver.common.keys import Keys

        def replace_text(field: Any) -> None:
            field.send_keys(Keys.CONTROL, "a")
            field.send_keys(Keys.DELETE)
            field.send_keys(text)

        self.read(testid, replace_text)

    def rows(self) -> list[str]:
        """``data-channel`` of the fleet rows shown, top to bottom (read in one script: never stale)."""
        script = "return [...document.querySelectorAll(arguments[0])].map(row => row.dataset.channel)"
        return self.driver.execute_script(script, "[data-testid='wa-fleet-row']")

    def wait_rows(self, expected: list[str] | None = None, timeout: float = WAIT_S) -> list[str]:
        """The rows once they are ``expected`` (or, without it, once there is at least one row)."""
        last: list[list[str]] = [[]]

        def ready(_: Any) -> list[str] | bool:
            last[0] = shown = self.rows()
            if expected is None:
                return shown or False
            return shown if shown == expected else False

        try:
            return self.wait(ready, timeout)
        except Exception as timeout_error:
            raise AssertionError(f"rows never became {expected}; last shown: {last[0]}") from timeout_error

    def text_at(self, selector: str) -> str:
        """The text of the first element matching the CSS ``selector``, read in one script: a cell
        found and then read in two steps was replaced by a refresh in between (stale, in CI)."""
        script = "const found = document.querySelector(arguments[0]); return found ? found.innerText : null"
        text = self.driver.execute_script(script, selector)
        assert text is not None, f"nothing matches {selector} on {self.driver.current_url}"
        return text.strip()

    def click(self, testid: str) -> None:
        """Click the visible ``testid`` (found again if React replaced it between finding and clicking)."""
        self.read(testid, lambda element: element.click())

    def click_until(self, testid: str, attribute: str, value: str) -> None:
        """Click the visible ``testid`` until its ``attribute`` reads ``value``; never once it does.

        A click on a control just rendered was lost on a loaded machine, either ignored or undone
        when React rendered the control again as more data arrived: a tick box stayed unticked for
        30 s, the summary's "Kinds" stayed folded (CI, 2026-12-07). A click that takes effect shows
        at once, so a control already in ``value`` is never clicked again (never toggled back).
        """

        def reached(_: Any) -> bool:
            if self.attribute(testid, attribute) == value:
                return True
            self.click(testid)
            return False

        self.wait(reached, message=f"[data-testid={testid}] never showed {attribute}={value}")

    def tick(self, testid: str) -> None:
        """Tick the visible Chakra checkbox ``testid``."""
        self.click_until(testid, "data-state", "checked")

    def unfold(self, testid: str) -> None:
        """Unfold the visible disclosure ``testid`` (its ``aria-expanded`` becomes true)."""
        self.click_until(testid, "aria-expanded", "true")

    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.driver.current_url).query)

    # ---- navigation -----------------------------------------------------------------------

    def open(self, path: str = "/") -> None:
        """Load ``path`` of Airflow's origin (a loaded UI reads Airflow's localStorage anew)."""
        self.driver.get(f"{self.base_url}{path}")
        self._storage_changed = False

    def open_page(self, query: str = "", *, fresh: bool = False) -> None:
        """The fleet view (or, with ``?channel=``, a channel view) at this URL.

        Where Airflow's UI is loaded already (this user's, the plugin's bundle in it), the page is
        mounted anew within it, as Airflow's navigation does: first unmounted and its query cache
        emptied (:meth:`leave_page`), so it starts from nothing, as on a load. A load of Airflow's
        7 MB UI cost Chromium 0.9-1.4 s of CPU, a mount within it 0.1-0.2 s (bench/README.md).
        With ``fresh`` (and wherever no UI is loaded) the browser loads the URL, as a shared link
        opens it: the first mount of a freshly imported bundle takes its own path (ui/src/settle.ts).
        """
        path = f"{PAGE_PATH}{'?' + query if query else ''}"
        if fresh or self._storage_changed or not self.leave_page():
            self.open(path)
        else:
            self._navigate_within(path)

    def leave_page(self) -> bool:
        """Leave for :data:`BETWEEN_PAGES_PATH` within Airflow's loaded UI and empty the plugin's
        query cache; False (nothing done) where this document is not Airflow's UI with the bundle."""
        script = "return location.origin === arguments[0] && Boolean(window.__TANSTACK_QUERY_CLIENT__)"
        if not self.driver.execute_script(script, self.base_url):
            return False
        self._navigate_within(BETWEEN_PAGES_PATH)
        unmounted = "return location.pathname === arguments[0] && !document.querySelector(arguments[1])"
        self.wait(
            lambda d: d.execute_script(unmounted, BETWEEN_PAGES_PATH, "[data-testid^='wa-']"),
            message="the page did not unmount",
        )
        self.driver.execute_script("window.__TANSTACK_QUERY_CLIENT__.clear()")
        return True

    def _navigate_within(self, path: str) -> None:
        """Airflow's router to ``path`` (a history entry, as its links push), without a load."""
        script = """
            const idx = (window.history.state?.idx ?? 0) + 1;
            const key = Math.random().toString(36).slice(2, 10);
            window.history.pushState({ usr: null, key, idx }, "", arguments[0]);
            window.dispatchEvent(new PopStateEvent("popstate", { state: window.history.state }));
        """
        self.driver.execute_script(script, path)

    def login(self, user: str, password: str | None = None) -> None:
        """Log in as ``user`` (password: the suite's for that user unless given); nothing to do if
        already them.

        The first user of this Chromium logs in through Airflow's own login form (SimpleAuthManager);
        after that each user's session is put back as a cookie, as a browser that kept it would: the
        cookie a login gave, or for a user new to this Chromium the form's session cookie holding
        that user's token from ``POST /auth/token``, which is what the form asks Airflow for. A form
        login loads Airflow's 7 MB page four times (about 1 s of renderer CPU each), and the browser
        suite switches users dozens of times a run.
        """
        if self.user == user:
            return
        if password is not None or not self._sessions:
            self._login_with_form(user, password or PASSWORDS[user])
            self._sessions[user] = self.driver.get_cookies()
        else:
            if user not in self._sessions:
                self._sessions[user] = self._session_of(user)
            self._resume(self._sessions[user])
        self.user = user

    def _session_of(self, user: str) -> list[dict[str, Any]]:
        """The cookies of a form login, the JWT cookie holding ``user``'s token instead."""
        import httpx
        from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

        answer = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": user, "password": PASSWORDS[user]},
            timeout=WAIT_S,
        ).raise_for_status()
        form_login = next(iter(self._sessions.values()))
        token_cookies = [cookie for cookie in form_login if cookie["name"] == COOKIE_NAME_JWT_TOKEN]
        names = [cookie["name"] for cookie in form_login]
        assert token_cookies, f"the form login left no {COOKIE_NAME_JWT_TOKEN} cookie, only {names}"
        return [{**token_cookies[0], "value": answer.json()["access_token"]}]

    def _forget_session(self) -> None:
        """No cookie, localStorage or sessionStorage of the previous user (set from Airflow's origin)."""
        self.open(LIGHTEST_PAGE)
        self.driver.delete_all_cookies()
        self.driver.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")

    def _resume(self, cookies: list[dict[str, Any]]) -> None:
        self._forget_session()
        for cookie in cookies:
            self.driver.add_cookie(cookie)

    def _login_with_form(self, user: str, password: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support import expected_conditions as ec

        self._forget_session()
        self.open("/")
        password_input = self.wait(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "input[type=password]")), FIRST_PAGE_WAIT_S
        )
        username = self.driver.find_element(By.CSS_SELECTOR, "input:not([type=password]):not([type=hidden])")
        username.send_keys(user)
        password_input.send_keys(password, Keys.ENTER)
        # Logged in once Airflow's navigation shows the plugin's entry; Airflow's own 401s from before
        # the login are then dropped (they are not the page's).
        self.wait(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "a[href$='plugin/whatsapp-health']")),
            FIRST_PAGE_WAIT_S,
            message="login failed",
        )
        self.drain_console()

    def drain_console(self, quiet_s: float = 0.5) -> None:
        """Drop console messages until none arrives for ``quiet_s`` (chromedriver delivers them late)."""
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < quiet_s:
            if self.driver.get_log("browser"):
                quiet_since = time.monotonic()
            time.sleep(0.1)

    def set_local_storage(self, values: dict[str, str | None]) -> None:
        """Airflow's localStorage (its origin's): from a page of another origin, one of Airflow's first."""
        if not self.driver.current_url.startswith(self.base_url):
            self.open(LIGHTEST_PAGE)
        self._storage_changed = True  # after the open above: its page loads no UI
        for key, value in values.items():
            if value is None:
                self.driver.execute_script("window.localStorage.removeItem(arguments[0]);", key)
            else:
                self.driver.execute_script(
                    "window.localStorage.setItem(arguments[0], arguments[1]);", key, value
                )

    # ---- evidence -------------------------------------------------------------------------

    def console_errors(self) -> list[dict[str, Any]]:
        """Console messages of level SEVERE since the last call (reading the log empties it)."""
        return [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.driver.save_screenshot(str(path))
        return path


def assert_console_clean(browser: Browser) -> None:
    """No console error since the last check: failed requests, React warnings at error level, exceptions."""
    errors = browser.console_errors()
    assert errors == [], "browser console errors:\n" + "\n".join(e["message"] for e in errors)
