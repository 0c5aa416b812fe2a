"""The channel view in Chromium: one banner per situation, *Complete registration* reporting what
Meta did, role-aware buttons, and links that lead where they say (a run inside Airflow, WhatsApp
Manager in a new tab)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.ui.browser import PAGE_PATH, Browser, assert_console_clean
from tests.ui.conftest import REGISTER_DAG, UiStack
from tests.ui.seed_situations import PROBLEM_KINDS, SPECS, Situated
from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.manager_url import WHATSAPP_MANAGER_URL
from whatsapp.store import Channel, HealthResult

pytestmark = pytest.mark.slow

#: Each situation kind once (the first seeded channel in it), for the banner of each.
KIND_KEYS: dict[str, str] = {}
for _spec in SPECS:
    KIND_KEYS.setdefault(_spec.kind, _spec.key)
#: A *Complete registration* run can take a while: the scheduler picks it up, a worker starts.
RUN_WAIT_S = 90
#: The channel view's refresh interval (REFRESH_MS in ui/src/channel/ChannelView.tsx).
REFRESH_S = 10


def _health(ui_stack: UiStack, channel: Situated, user: str = "admin") -> dict[str, Any]:
    with ui_stack.api(user) as api:
        return api.get(channel.path + "/health").raise_for_status().json()


def _open_channel(browser: Browser, channel: Situated) -> Any:
    browser.open_page(f"channel={channel.ref}")
    return browser.one("wa-channel")


def _banner(browser: Browser, kind: str) -> Any:
    """The banner once it shows ``kind``."""
    return browser.wait(
        lambda _: (banner := browser.one("wa-banner")).get_attribute("data-kind") == kind and banner,
        message=f"the banner never showed {kind}",
    )


def _local(browser: Browser, iso: str) -> str:
    """``YYYY-MM-DD HH:MM`` of an API time in the browser's zone (Airflow's default zone)."""
    zone = browser.driver.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _past(iso: str) -> bool:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")) <= datetime.now(UTC)


def _complete_registration(browser: Browser) -> Any:
    """Click *Complete registration*; the outcome element once the run is over."""
    browser.click("wa-register-button")
    seen: list[str | None] = []

    def final(_: Any) -> Any:
        outcome = browser.by_testid("wa-register-outcome")
        kind = outcome[0].get_attribute("data-kind") if outcome else None
        if not seen or seen[-1] != kind:
            seen.append(kind)
        if kind is None and "running" in seen:
            raise AssertionError(f"the outcome left the page when the run ended (data-kind went {seen})")
        return outcome[0] if kind not in (None, "", "running") else False

    try:
        return browser.wait(final, RUN_WAIT_S)
    except Exception as timeout:
        raise AssertionError(
            f"no final outcome shown; data-kind went {seen} (None: no outcome element)"
        ) from timeout


def test_every_problem_kind_has_its_own_words_and_action(ui_stack: UiStack) -> None:
    """The API side of the banners: each problem kind its own title, and an action."""
    situations = {
        kind: _health(ui_stack, ui_stack.channels[KIND_KEYS[kind]])["situation"] for kind in PROBLEM_KINDS
    }
    assert {kind: s["kind"] for kind, s in situations.items()} == {kind: kind for kind in PROBLEM_KINDS}
    titles = [s["title"] for s in situations.values()]
    assert len(set(titles)) == len(titles), titles
    assert all(s["action"]["kind"] != "none" and s["action"]["label"] for s in situations.values()), (
        situations
    )


@pytest.mark.parametrize("kind", list(KIND_KEYS))
def test_each_situation_has_its_banner(ui_stack: UiStack, browser: Browser, kind: str) -> None:
    channel = ui_stack.channels[KIND_KEYS[kind]]
    situation = _health(ui_stack, channel)["situation"]
    assert situation["kind"] == kind, f"{channel.key}: the seed or the API is wrong: {situation}"

    browser.login("admin")
    view = _open_channel(browser, channel)
    banner = _banner(browser, kind)
    assert situation["title"] in banner.text, (situation["title"], banner.text)
    assert channel.verified_name in view.text
    actions = browser.by_testid("wa-banner-action", within=banner)
    if situation["action"]["kind"] == "none":
        assert not actions
    else:
        assert actions and situation["action"]["label"] in actions[0].text, (situation["action"], banner.text)
    for moment in ("since", "next_try", "deadline"):  # in the browser's zone (Airflow's default)
        if moment == "next_try" and situation[moment] and _past(situation[moment]):
            assert "Next try: overdue" in banner.text, banner.text
        elif situation[moment]:
            assert _local(browser, situation[moment]) in banner.text, (moment, situation[moment], banner.text)
    if situation["error"] and situation["error"].get("code"):
        assert str(situation["error"]["code"]) in banner.text or situation["error"]["message"] in banner.text
    if situation["error"] and situation["error"].get("message"):  # Meta's answer, said once
        assert banner.text.count(situation["error"]["message"]) == 1, banner.text
    browser.screenshot(f"{kind}.png")
    assert_console_clean(browser)


def _latest_register_run(ui_stack: UiStack, channel: Situated) -> str:
    with ui_stack.api() as api:
        runs = (
            api.get(f"/api/v2/dags/{REGISTER_DAG}/dagRuns", params={"order_by": "-run_after", "limit": 50})
            .raise_for_status()
            .json()["dag_runs"]
        )
    mine = [
        r
        for r in runs
        if (r.get("conf") or {}) == {"account_id": channel.account_id, "inbox_id": channel.inbox_id}
    ]
    assert mine, f"no {REGISTER_DAG} run for {channel.ref}"
    return mine[0]["dag_run_id"]


@pytest.mark.parametrize(
    ("key", "outcome", "words"),
    [
        ("register_ok", "registered", ()),
        ("register_refused", "refused", ("2388001", "banner above")),
        ("register_no_call", "no_call", ("no register call was sent", "review")),
    ],
)
def test_complete_registration_reports_what_meta_did(
    ui_stack: UiStack, browser: Browser, key: str, outcome: str, words: tuple[str, ...]
) -> None:
    channel = ui_stack.channels[key]
    browser.login("admin")
    _open_channel(browser, channel)
    calls_before = len(ui_stack.simulator.control.calls(path=f"{channel.phone_number_id}/register$"))
    assert browser.enabled("wa-register-button")
    shown = _complete_registration(browser)
    assert shown.get_attribute("data-kind") == outcome, shown.text
    # The outcome settles with the banner: once the page's next read shows the refusal above, the
    # outcome names only its code (up to one 10 s refresh after the run's answer).
    browser.wait(lambda _: all(word in shown.text.lower() for word in words), message=f"{words} never shown")
    text = shown.text.lower()
    assert "null" not in text and "undefined" not in text, shown.text
    calls = len(ui_stack.simulator.control.calls(path=f"{channel.phone_number_id}/register$")) - calls_before
    assert calls == (0 if outcome == "no_call" else 1), f"{calls} register calls for {outcome}"

    # The page is not stale: the banner shows the stored situation after the run.
    after = _health(ui_stack, channel)["situation"]
    _banner(browser, after["kind"])
    if outcome == "registered":
        assert after["kind"] == "healthy", after
        run_id = _latest_register_run(ui_stack, channel)
        browser.wait(  # the run's health check is in the history, linked to the run
            lambda _: any(
                unquote(a.get_attribute("href") or "").endswith(f"/runs/{run_id}")
                for row in browser.by_testid("wa-history-row")
                for a in browser.by_testid("wa-run-link", within=row)
            ),
            message=f"no history row links run {run_id}",
        )
    if outcome == "refused":  # Meta's answer and the next try once, in the banner the outcome points to
        said = after["error"]["message"]
        banner = _banner(browser, after["kind"]).text
        assert shown.text.count(said) == 0 and banner.count(said) == 1, said
        assert "next try" in banner.lower(), banner
    browser.screenshot(f"complete-registration-{outcome}.png")
    if outcome == "refused":
        browser.screenshot("channel.png")
    assert_console_clean(browser)


def test_run_links_open_the_run_inside_airflow(ui_stack: UiStack, browser: Browser) -> None:
    """After *Complete registration* the attempt's run link lands on that DAG run in Airflow."""
    channel = ui_stack.channels["register_refused"]
    browser.login("admin")
    _open_channel(browser, channel)
    run_id = _latest_register_run_or_none(ui_stack, channel)
    if run_id is None:  # run alone: make the run first
        _complete_registration(browser)
        run_id = _latest_register_run(ui_stack, channel)
    link = browser.wait(
        lambda _: next(
            (
                a
                for row in browser.by_testid("wa-attempt-row")
                for a in browser.by_testid("wa-run-link", within=row)
                if unquote(a.get_attribute("href") or "").endswith(f"/runs/{run_id}")
            ),
            False,
        ),
        message=f"no attempt row links run {run_id}",
    )
    handles = browser.driver.window_handles
    link.click()
    expected = f"/dags/{REGISTER_DAG}/runs/{run_id}"
    browser.wait(lambda d: unquote(urlsplit(d.current_url).path) == expected, message=f"not at {expected}")
    assert browser.driver.window_handles == handles, "the run opened in another tab"
    from selenium.webdriver.common.by import By

    browser.wait(lambda d: run_id in d.find_element(By.TAG_NAME, "body").text, message="Airflow's run page")
    browser.screenshot("run-link-target.png")

    # The run's WhatsApp tab names the channel it acted on and leads back to it.
    tab = browser.wait(
        lambda d: next(
            (
                a
                for a in d.find_elements(By.CSS_SELECTOR, "a[href$='plugin/whatsapp-channel']")
                if a.is_displayed()
            ),
            False,
        ),
        message="no WhatsApp tab on the run page",
    )
    tab.click()
    browser.wait(lambda _: channel.verified_name in browser.text("wa-run-panel"), message="run panel")
    assert not browser.by_testid("wa-run-panel-none")
    browser.screenshot("run-panel.png")
    browser.click("wa-run-panel-link")
    browser.one("wa-channel")
    assert urlsplit(browser.driver.current_url).path == PAGE_PATH
    assert browser.query().get("channel") == [channel.ref]
    assert_console_clean(browser)


def _latest_register_run_or_none(ui_stack: UiStack, channel: Situated) -> str | None:
    try:
        return _latest_register_run(ui_stack, channel)
    except AssertionError:
        return None


def test_whatsapp_manager_opens_in_a_new_tab(ui_stack: UiStack, browser: Browser) -> None:
    from selenium.webdriver.common.by import By

    channel = ui_stack.channels["pin_mismatch"]
    browser.login("admin")
    _open_channel(browser, channel)
    link = browser.one("wa-manager-link")
    # Every link out of Airflow (the header's and the banner's action) opens a new tab, without opener.
    outside = browser.driver.find_elements(By.CSS_SELECTOR, "[data-testid=wa-channel] a[href^='http']")
    assert len(outside) >= 2, [a.get_attribute("outerHTML") for a in outside]
    for a in outside:
        assert a.get_attribute("href").startswith(WHATSAPP_MANAGER_URL), a.get_attribute("href")
        assert a.get_attribute("target") == "_blank" and "noopener" in (a.get_attribute("rel") or "")
    assert link.get_attribute("target") == "_blank"
    assert "noopener" in (link.get_attribute("rel") or "")
    before = browser.driver.window_handles
    link.click()
    browser.wait(lambda d: len(d.window_handles) == len(before) + 1, message="no new tab")
    (new,) = set(browser.driver.window_handles) - set(before)
    browser.driver.switch_to.window(new)
    # Only loopback resolves in the test browser: the tab keeps the URL it was sent to.
    url = browser.wait(lambda d: d.current_url if d.current_url.startswith("https://") else False)
    assert url.startswith(WHATSAPP_MANAGER_URL), url
    assert f"asset_id={channel.waba_id}" in url, url
    browser.driver.close()
    browser.driver.switch_to.window(before[0])
    assert urlsplit(browser.driver.current_url).path == PAGE_PATH  # the page itself stayed
    browser.console_errors()  # the failed load of business.facebook.com is the new tab's, not the page's


def test_a_viewer_sees_the_actions_disabled_with_the_reason(ui_stack: UiStack, browser: Browser) -> None:
    channel = ui_stack.channels["registration_pending"]
    with ui_stack.api("viewer") as api:
        me = api.get("/whatsapp/api/v1/me").raise_for_status().json()
    assert me["permissions"]["register"]["allowed"] is False and me["permissions"]["register"]["reason"]
    browser.login("viewer")
    try:
        _open_channel(browser, channel)
        for testid, permission in (("wa-register-button", "register"), ("wa-refresh-button", "refresh")):
            assert not browser.enabled(testid), f"{testid} is enabled for a viewer"
            reason = me["permissions"][permission]["reason"]
            shown = [browser.attribute(testid, "title") or "", browser.text("wa-channel")]
            assert any(reason in text for text in shown), (testid, reason)
        browser.screenshot("channel-viewer.png")
        assert_console_clean(browser)
    finally:
        browser.login("admin")


def test_back_returns_to_the_filtered_fleet(ui_stack: UiStack, browser: Browser) -> None:
    blocked = ui_stack.channels["blocked"]
    browser.login("admin")
    browser.open_page("situation=blocked")
    browser.wait_rows([blocked.ref])
    browser.click("wa-fleet-row")
    browser.one("wa-channel")
    assert browser.query().get("channel") == [blocked.ref]
    browser.one("wa-history-row")  # a checked channel shows its health history
    browser.click("wa-back")
    browser.wait_rows([blocked.ref])
    assert browser.query().get("situation") == ["blocked"] and "channel" not in browser.query()
    browser.driver.back()
    browser.one("wa-channel")  # the browser's own back/forward walk the same URLs
    assert_console_clean(browser)


def test_refresh_reads_meta_again(ui_stack: UiStack, browser: Browser) -> None:
    """*Refresh from Meta* as admin: one more health read, shown in the history without a reload."""
    channel = ui_stack.channels["healthy"]
    browser.login("admin")
    _open_channel(browser, channel)
    browser.one("wa-history-row")
    before = len(browser.by_testid("wa-history-row"))
    reads = len(ui_stack.simulator.control.calls(path=f"{channel.phone_number_id}$"))
    browser.click("wa-refresh-button")
    browser.wait(
        lambda _: len(browser.by_testid("wa-history-row")) == before + 1, message="no new history row"
    )
    assert len(ui_stack.simulator.control.calls(path=f"{channel.phone_number_id}$")) > reads
    _banner(browser, "healthy")
    assert_console_clean(browser)


@contextmanager
def _unseeded_channel(ui_stack: UiStack, browser: Browser, number: int, name: str) -> Iterator[Channel]:
    """A channel of account 9000 + ``number`` that no other test sees, open in the channel view.

    On the way out the browser leaves the page before the channel is deleted, so the page's
    refresh cannot turn into a 404 that the next test would read as its own console error.
    """
    channel = ui_stack.store.channels.upsert(
        account_id=9000 + number,
        phone_number_id=f"399999999999{number:03d}",
        waba_id=f"199999999999{number:03d}",
        business_id=f"599999999999{number:03d}",
        access_token=f"EAAG-unseeded-{number}",
        verified_name=name,
    )
    try:
        browser.login("admin")
        browser.open_page(f"channel={channel.account_id}-{channel.inbox_id}")
        _banner(browser, "not_checked")
        yield channel
    finally:
        browser.driver.get("about:blank")
        ui_stack.delete_channel(channel.id)


def _health_reads(browser: Browser) -> int:
    """How many times this page has asked for the channel's health (the browser's own count)."""
    return browser.driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/health')).length;"
    )


def test_a_channel_deleted_under_an_open_view_is_reported_and_no_longer_asked_for(
    ui_stack: UiStack, browser: Browser
) -> None:
    """Offboarded while someone watches it: the page says the channel is gone and stops its refresh."""
    with _unseeded_channel(ui_stack, browser, 2, "Acme Gone") as channel:
        ui_stack.delete_channel(channel.id)
        error = browser.wait(
            lambda _: browser.by_testid("wa-error"), message="the deleted channel is not reported"
        )
        assert "no channel" in error[0].text, error[0].text
        browser.drain_console()  # the one refresh that found the channel gone logged its 404s
        reads = _health_reads(browser)
        time.sleep(REFRESH_S + 2)
        assert _health_reads(browser) == reads, "the view kept asking for a channel that is gone"
        assert_console_clean(browser)


def test_an_open_channel_view_shows_what_the_store_learns_without_a_reload(
    ui_stack: UiStack, browser: Browser
) -> None:
    """A health check stored while the page is open (an audit, a webhook) shows within a refresh."""
    with _unseeded_channel(ui_stack, browser, 1, "Acme Refresh") as channel:
        browser.driver.execute_script("window.__waSamePage = true;")
        live = {
            "id": channel.phone_number_id,
            "verified_name": "Acme Refresh",
            "name_status": "APPROVED",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "status": "CONNECTED",
            "quality_rating": "GREEN",
        }
        ui_stack.store.health.record(
            [HealthResult(channel.id, datetime.now(UTC), health=PhoneHealth.from_graph(live))]
        )
        with ui_stack.api() as api:
            path = f"/whatsapp/api/v1/accounts/{channel.account_id}/inboxes/{channel.inbox_id}/health"
            expected = api.get(path).raise_for_status().json()["situation"]["kind"]
        assert expected != "not_checked"
        _banner(browser, expected)  # within the page's refresh interval (10 s), no navigation
        assert browser.by_testid("wa-history-row"), "the stored check is not in the history table"
        assert browser.driver.execute_script("return window.__waSamePage === true;"), "the page reloaded"
        assert_console_clean(browser)


def test_a_blocked_number_offers_no_register_call_until_its_window_reopens(
    ui_stack: UiStack, browser: Browser
) -> None:
    """Meta's 133016 holds the number until its register window reopens: another call is refused
    and counted. Before, the page offered *Complete registration now* (enabled) and the API
    queued the run; now the button is disabled with the reopening time and the API answers 409."""
    channel = ui_stack.channels["blocked"]
    situation = _health(ui_stack, channel)["situation"]
    reopens = situation["next_try"]
    assert situation["kind"] == "blocked" and reopens and not _past(reopens), situation
    calls = ui_stack.simulator.control.calls(path=f"{channel.phone_number_id}/register$")
    browser.login("admin")
    _open_channel(browser, channel)
    _banner(browser, "blocked")
    assert not browser.enabled("wa-register-button"), "Complete registration offered for a blocked number"
    held = browser.text("wa-register-button-held")
    assert _local(browser, reopens) in held, (reopens, held)
    assert _local(browser, reopens) in (browser.attribute("wa-register-button", "title") or "")
    with ui_stack.api() as api:
        refused = api.post(channel.path + "/register")
    assert refused.status_code == 409 and "133016" in refused.json()["detail"], refused.text
    assert ui_stack.simulator.control.calls(path=f"{channel.phone_number_id}/register$") == calls
    browser.screenshot("blocked-held.png")
    assert_console_clean(browser)


def test_a_next_try_already_past_reads_overdue(ui_stack: UiStack, browser: Browser) -> None:
    """A pending number's next try is when it was saved (the fleet registers it at its next run):
    before, the page showed that past time as "Next try", equal to "since"; now it says
    "overdue", in the fleet's column and in the banner, and a future next try stays a time."""
    pending = ui_stack.channels["registration_pending"]
    blocked = ui_stack.channels["blocked"]
    due = _health(ui_stack, pending)["situation"]["next_try"]
    reopens = _health(ui_stack, blocked)["situation"]["next_try"]
    assert due and _past(due) and reopens and not _past(reopens), (due, reopens)

    def next_try_cell(ref: str) -> str:
        browser.wait_rows()
        selector = f"[data-testid='wa-fleet-row'][data-channel='{ref}'] [data-testid='wa-next-try']"
        return browser.text_at(selector)

    browser.login("admin")
    browser.open_page(f"q={pending.verified_name}")
    browser.wait_rows([pending.ref])
    assert next_try_cell(pending.ref) == "overdue", next_try_cell(pending.ref)
    browser.open_page("situation=blocked")
    browser.wait_rows([blocked.ref])
    assert _local(browser, reopens) in next_try_cell(blocked.ref)

    _open_channel(browser, pending)
    banner = _banner(browser, "registration_pending")
    assert "Next try: overdue" in banner.text, banner.text
    assert f"Next try: {_local(browser, due)}" not in banner.text
    assert_console_clean(browser)


def test_a_name_change_action_leads_to_the_dag_that_requests_one(ui_stack: UiStack, browser: Browser) -> None:
    """*Request a display name (whatsapp_change_display_name)* is done in Airflow, by triggering
    that DAG. Before, the page linked it to WhatsApp Manager in a new tab, and said Meta's
    refusal twice (banner and note). Airflow 3.3 has no URL that opens a DAG's trigger form
    (apache/airflow#54800 is open; #59231 was reverted), so the link opens the DAG's page, whose
    Trigger button opens the form."""
    from selenium.webdriver.common.by import By

    channel = ui_stack.channels["name_change_declined"]
    situation = _health(ui_stack, channel)["situation"]
    assert situation["action"]["kind"] == "change_display_name", situation
    browser.login("admin")
    view = _open_channel(browser, channel)
    banner = _banner(browser, "name_change_declined")
    action = browser.one("wa-banner-action")
    [link] = action.find_elements(By.CSS_SELECTOR, "a[href]")
    assert situation["action"]["label"] in link.text, link.text
    dag_page = "/dags/whatsapp_change_display_name"
    assert urlsplit(link.get_attribute("href")).path.endswith(dag_page), link.get_attribute("href")
    assert link.get_attribute("target") != "_blank"
    assert f"account_id {channel.account_id}" in action.text and f"inbox_id {channel.inbox_id}" in action.text
    said = situation["detail"].rstrip(".")
    assert view.text.count(said) == 1, f"said {view.text.count(said)} times: {view.text}"
    assert banner.text.count(said) == 1

    link.click()
    browser.wait(lambda d: urlsplit(d.current_url).path.endswith(dag_page), message=f"not at {dag_page}")
    trigger = browser.wait(
        lambda d: next(
            (
                b
                for b in d.find_elements(By.CSS_SELECTOR, "[data-testid='trigger-dag-button']")
                if b.is_displayed()
            ),
            False,
        ),
        message="no Trigger button on the DAG's page",
    )
    trigger.click()
    browser.wait(
        lambda d: any(e.is_displayed() for e in d.find_elements(By.CSS_SELECTOR, "[role='dialog']")),
        message="the trigger form did not open",
    )
    browser.screenshot("change-display-name-trigger.png")
    browser.console_errors()  # Airflow's own page, not this one


def test_every_time_on_a_channel_is_in_the_airflow_time_zone(ui_stack: UiStack, browser: Browser) -> None:
    """An approved name change shows its deadline in the banner and in the channel's notes; the
    page once showed the banner's in Airflow's zone and the note's as the API words it,
    in UTC ("re-register by … UTC"). Now every time on the view is in the zone chosen in Airflow."""
    import json

    zone = "Asia/Kathmandu"  # a 45-minute offset: no formatting accident turns UTC into it
    channel = ui_stack.channels["name_change_due"]
    body = _health(ui_stack, channel)
    deadline = body["name_change"]["deadline"]
    assert deadline and any("UTC" in note for note in body["notes"]), body["notes"]
    local = datetime.fromisoformat(deadline.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    browser.login("admin")
    browser.set_local_storage({"timezone": json.dumps(zone)})
    try:
        view = _open_channel(browser, channel)
        _banner(browser, "name_change_due")
        text = browser.wait(
            lambda _: (t := view.text) and local.strftime("%Y-%m-%d %H:%M:%S") in t and t,
            message="the deadline is not shown in the chosen zone",
        )
        assert "UTC" not in text, text
        assert text.count(local.strftime("%Y-%m-%d %H:%M:%S")) == 2, text  # the banner's and the note's
        browser.screenshot("channel-kathmandu.png")
        assert_console_clean(browser)
    finally:
        browser.set_local_storage({"timezone": None})
