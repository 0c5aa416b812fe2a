"""Meta's onboarding lifecycle on the simulator, driven through ``WhatsAppGraphHook``.

Each test is one scenario: what the hook sees (values, typed errors, usage)
is what the DAGs will see against Meta.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.support.simulator_fixtures import GRAPH_CONN_ENV, graph_connection
from whatsapp.errors import ErrorKind, GraphApiError
from whatsapp.hooks import graph as graph_module
from whatsapp.hooks.graph import READ_ATTEMPTS, BatchRequest, WhatsAppGraphHook

PIN = "135790"
HOUR = 3600


@pytest.fixture
def hook(graph_conn_env: str) -> Iterator[WhatsAppGraphHook]:
    hook = WhatsAppGraphHook()
    yield hook
    hook.close()


def signup(sim: SimulatorControl, hook: WhatsAppGraphHook, **state: Any) -> tuple[dict[str, Any], str]:
    """A number plus the business token its signup code exchanges for."""
    number = sim.add_number(**state)
    return number, hook.exchange_code(number["code"])


def graph_error(call: Any, *args: Any) -> GraphApiError:
    with pytest.raises(GraphApiError) as caught:
        call(*args)
    return caught.value


def test_signup_exchange_is_single_use_and_reauthorization_gets_a_new_code(
    sim: SimulatorControl, hook: WhatsAppGraphHook
) -> None:
    number, token = signup(sim, hook)
    assert [t["access_token"] for t in sim.number(number["phone_number_id"])["tokens"]] == [token]

    reused = graph_error(hook.exchange_code, number["code"])
    assert (reused.code, reused.subcode, reused.kind) == (100, 36009, ErrorKind.INVALID_REQUEST)

    second = hook.exchange_code(sim.new_code(number["waba_id"]))
    assert second != token
    assert (
        hook.get_phone_health(number["phone_number_id"], second).phone_number_id == number["phone_number_id"]
    )


def test_wrong_app_secret_is_refused(
    sim: SimulatorControl, simulator_process: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = json.loads(graph_connection(simulator_process.base_url, sim))
    monkeypatch.setenv(GRAPH_CONN_ENV, json.dumps({**connection, "password": "not-the-secret"}))
    number = sim.add_number()
    error = graph_error(WhatsAppGraphHook().exchange_code, number["code"])
    assert (error.code, error.http_status) == (1, 400)
    assert "not-the-secret" not in str(error)
    assert sim.number(number["phone_number_id"])["codes"] == [number["code"]]  # still unused


@pytest.mark.parametrize("scope", ["whatsapp_business_management", "whatsapp_business_manage_events"])
def test_debug_token_names_the_waba_under_either_scope(
    sim: SimulatorControl, hook: WhatsAppGraphHook, scope: str
) -> None:
    number, token = signup(sim, hook, scope=scope)
    other = sim.add_number()

    info = hook.debug_token(token)
    assert info.is_valid and scope in info.scopes
    assert info.granular_scopes[scope] == (number["waba_id"],)
    assert info.has_waba_access(number["waba_id"])
    assert not info.has_waba_access(other["waba_id"])

    sim.update_number(number["phone_number_id"], token_state="no_permission")
    assert not hook.debug_token(token).has_waba_access(number["waba_id"])
    assert hook.test_connection()[0]


def test_phone_numbers_are_paged_and_followed(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    sim.configure(page_size=2)
    first, token = signup(sim, hook)
    ids = [first["phone_number_id"]]
    ids += [sim.add_number(waba_id=first["waba_id"])["phone_number_id"] for _ in range(4)]
    sim.add_number()  # another WABA's number never shows up
    sim.clear_calls()

    numbers = hook.list_phone_numbers(first["waba_id"], token)

    assert [n["id"] for n in numbers] == ids
    assert all(n["throughput"] == {"level": "NOT_APPLICABLE"} for n in numbers)
    pages = sim.calls(path="/phone_numbers$")
    assert len(pages) == 3 and [bool(p["query"].get("after")) for p in pages] == [False, True, True]


def test_override_needs_the_subscription_first(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    number, token = signup(sim, hook)
    phone, waba = number["phone_number_id"], number["waba_id"]
    callback = "https://hooks.example.test/whatsapp/1"

    early = graph_error(hook.set_webhook_override, phone, token, callback, "verify-me-please")
    assert (early.code, early.kind) == (100, ErrorKind.INVALID_REQUEST)
    assert "must be subscribed" in early.message
    assert hook.list_subscribed_apps(waba, token) == []

    hook.subscribe_app(waba, token)
    hook.set_webhook_override(phone, token, callback, "verify-me-please")

    [app] = hook.list_subscribed_apps(waba, token)
    assert app["whatsapp_business_api_data"]["id"] == sim.app_id
    state = sim.number(phone)
    assert state["webhook_configuration"] == {
        "override_callback_uri": callback,
        "verify_token": "verify-me-please",
    }


def test_register_waits_for_the_display_name_review(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    number, token = signup(sim, hook, review_seconds=600)
    phone = number["phone_number_id"]

    early = graph_error(hook.register, phone, token, PIN)
    assert (early.code, early.subcode, early.kind) == (100, 2388001, ErrorKind.DISPLAY_NAME_NOT_READY)
    before = hook.get_phone_health(phone, token)
    assert before.name_status == "PENDING_REVIEW" and before.needs_registration

    sim.advance(600)
    assert hook.get_phone_health(phone, token).name_status == "APPROVED"
    hook.register(phone, token, PIN)

    after = hook.get_phone_health(phone, token)
    assert (after.platform_type, after.throughput_level, after.status) == (
        "CLOUD_API",
        "STANDARD",
        "CONNECTED",
    )
    assert after.code_verification_status == "VERIFIED" and not after.needs_registration
    state = sim.number(phone)
    assert state["pin"] == PIN and state["register_attempts_72h"] == 2


def test_declined_review_never_registers(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    number, token = signup(sim, hook, review_seconds=60, review_outcome="DECLINED")
    sim.advance(60)
    assert hook.get_phone_health(number["phone_number_id"], token).name_status == "DECLINED"
    assert graph_error(hook.register, number["phone_number_id"], token, PIN).subcode == 2388001


def test_a_different_pin_after_the_first_registration_is_refused(
    sim: SimulatorControl, hook: WhatsAppGraphHook
) -> None:
    number, token = signup(sim, hook, name_status="APPROVED")
    hook.register(number["phone_number_id"], token, PIN)
    mismatch = graph_error(hook.register, number["phone_number_id"], token, "000000")
    assert (mismatch.code, mismatch.kind) == (133005, ErrorKind.PIN_PROBLEM)
    hook.register(number["phone_number_id"], token, PIN)  # the right PIN still works


def test_eleventh_register_in_72_hours_blocks_for_72_hours(
    sim: SimulatorControl, hook: WhatsAppGraphHook
) -> None:
    number, token = signup(sim, hook, name_status="APPROVED")
    phone = number["phone_number_id"]
    for _ in range(10):
        hook.register(phone, token, PIN)

    limit = graph_error(hook.register, phone, token, PIN)
    assert (limit.code, limit.kind) == (133016, ErrorKind.REGISTER_LIMIT)
    sim.advance(71 * HOUR)
    assert graph_error(hook.register, phone, token, PIN).code == 133016  # still blocked, and it counted
    assert sim.number(phone)["register_attempts_72h"] == 12

    sim.advance(HOUR + 1)
    hook.register(phone, token, PIN)
    assert sim.number(phone)["register_attempts_72h"] == 2  # the blocked call at 71 h, and this one


@pytest.mark.parametrize(("token_state", "subcode"), [("expired", 463), ("revoked", 460)])
def test_expired_or_revoked_tokens_answer_190(
    sim: SimulatorControl, hook: WhatsAppGraphHook, token_state: str, subcode: int
) -> None:
    number, token = signup(sim, hook, name_status="APPROVED")
    sim.update_number(number["phone_number_id"], token_state=token_state)

    error = graph_error(hook.get_phone_health, number["phone_number_id"], token)
    assert (error.code, error.subcode, error.kind, error.http_status) == (
        190,
        subcode,
        ErrorKind.TOKEN_INVALID,
        401,
    )
    assert graph_error(hook.register, number["phone_number_id"], token, PIN).code == 190
    assert not hook.debug_token(token).is_valid
    assert sim.number(number["phone_number_id"])["register_attempts_72h"] == 0  # refused before counting

    fresh = hook.exchange_code(sim.new_code(number["waba_id"]))
    hook.register(number["phone_number_id"], fresh, PIN)


def test_permission_loss_is_its_own_kind(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    number, token = signup(sim, hook)
    sim.update_number(number["phone_number_id"], token_state="no_permission")
    error = graph_error(hook.subscribe_app, number["waba_id"], token)
    assert (error.code, error.kind) == (200, ErrorKind.PERMISSION)


def _fleet(sim: SimulatorControl, hook: WhatsAppGraphHook, count: int) -> list[BatchRequest]:
    seeded = sim.add_numbers(count, template={"name_status": "APPROVED"})
    return [
        BatchRequest(hook.health_relative_url(n["phone_number_id"]), seeded["tokens"][n["waba_id"]])
        for n in seeded["numbers"]
    ]


def test_batch_of_50_works_and_51_is_refused(
    sim: SimulatorControl, hook: WhatsAppGraphHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = _fleet(sim, hook, 51)
    results = hook.batch_get(requests[:50])
    assert [r.status for r in results] == [200] * 50 and all(r.error is None for r in results)
    assert results[7].body["name_status"] == "APPROVED"
    assert sim.stats()["sub_requests"] == 50

    monkeypatch.setattr(graph_module, "MAX_BATCH_SIZE", 100)  # let the hook send what Meta refuses
    error = graph_error(hook.batch_get, requests)
    assert error.code == 100 and "Maximum batch size is 50" in error.message
    assert sim.stats()["sub_requests"] == 50

    results = asyncio.run(_abatch(hook, requests[:50]))
    assert len(results) == 50 and all(r.error is None for r in results)


async def _abatch(hook: WhatsAppGraphHook, requests: list[BatchRequest]) -> list[Any]:
    try:
        return await hook.abatch_get(requests)
    finally:
        await hook.aclose()


def test_waba_and_app_budgets_throttle_with_usage_headers(
    sim: SimulatorControl, hook: WhatsAppGraphHook
) -> None:
    sim.configure(waba_hourly_budget=4)
    number, token = signup(sim, hook)
    phone = number["phone_number_id"]
    seen = []
    for _ in range(4):
        hook.get_phone_health(phone, token)
        seen.append(hook.last_usage.business[0].call_count)
    assert seen == [25, 50, 75, 100]
    assert hook.last_usage.business[0].business_id == number["waba_id"]

    throttled = graph_error(hook.get_phone_health, phone, token)
    assert (throttled.code, throttled.kind, throttled.is_transient) == (80007, ErrorKind.THROTTLED, True)
    assert throttled.retry_after_s == 60 * 60 and hook.last_usage.regain_access_seconds == 3600

    sim.advance(HOUR)
    hook.get_phone_health(phone, token)
    sim.configure(app_hourly_budget=2)
    hook.get_phone_health(phone, token)
    assert hook.last_usage.app_call_count == 100
    app = graph_error(hook.get_phone_health, phone, token)
    assert (app.code, app.kind) == (4, ErrorKind.THROTTLED)


def test_injected_latency_overlaps_across_concurrent_calls(
    sim: SimulatorControl, hook: WhatsAppGraphHook
) -> None:
    number, token = signup(sim, hook)
    sim.add_fault(kind="latency", latency_ms=400, phone_number_id=number["phone_number_id"])

    async def five() -> float:
        started = time.perf_counter()
        try:
            await asyncio.gather(
                *(hook.aget_phone_health(number["phone_number_id"], token) for _ in range(5))
            )
        finally:
            await hook.aclose()
        return time.perf_counter() - started

    assert 0.4 <= asyncio.run(five()) < 1.5


def test_http_500_is_transient_and_count_limits_it(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    number, token = signup(sim, hook)
    # A read is resent by the hook: it fails only when every one of its tries meets the 500.
    sim.add_fault(kind="http_500", method="GET", path=r"^/\d+$", count=READ_ATTEMPTS)
    error = graph_error(hook.get_phone_health, number["phone_number_id"], token)
    assert (error.http_status, error.kind, error.is_transient) == (500, ErrorKind.TRANSIENT, True)
    hook.get_phone_health(number["phone_number_id"], token)
    assert sim.faults()[0]["applied"] == READ_ATTEMPTS
    sim.clear_faults()
    sim.add_fault(kind="http_500", method="GET", path=r"^/\d+$", count=1)
    assert (
        hook.get_phone_health(number["phone_number_id"], token).phone_number_id == number["phone_number_id"]
    )
    assert sim.faults()[0]["applied"] == 1


def test_timeouts_whole_request_and_batch_sub_request(
    sim: SimulatorControl, simulator_process: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GRAPH_CONN_ENV, graph_connection(simulator_process.base_url, sim, timeout=0.5))
    hook = WhatsAppGraphHook()
    try:
        requests = _fleet(sim, hook, 3)
        slow = requests[1].relative_url.split("?")[0].split("/")[-1]
        sim.add_fault(kind="timeout", phone_number_id=slow, timeout_seconds=2)

        results = hook.batch_get(requests)
        assert [r.status for r in results] == [200, None, 200]
        assert results[1].error is not None and results[1].error.kind is ErrorKind.TRANSIENT

        started = time.perf_counter()
        error = graph_error(hook.get_phone_health, slow, requests[1].access_token)
        assert error.kind is ErrorKind.TRANSIENT and "timed out" in error.message
        # Each try gives up at the client timeout (0.5 s), not the server's 2 s; reads get READ_ATTEMPTS.
        assert time.perf_counter() - started < READ_ATTEMPTS * 1.5
    finally:
        hook.close()


def test_throttle_fault_carries_regain_time(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    number, token = signup(sim, hook)
    sim.add_fault(kind="throttle", code=80007, regain_minutes=7, count=1)
    error = graph_error(hook.get_phone_health, number["phone_number_id"], token)
    assert (error.code, error.kind, error.retry_after_s) == (80007, ErrorKind.THROTTLED, 420)
    assert hook.last_usage.business[0].call_count == 100

    sim.add_fault(kind="throttle", code=4, count=1)
    assert graph_error(hook.list_subscribed_apps, number["waba_id"], token).code == 4
    assert hook.last_usage.app_call_count == 100


def test_malformed_json_plain_and_in_a_batch(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    requests = _fleet(sim, hook, 2)
    broken = requests[0].relative_url.split("?")[0].split("/")[-1]
    sim.add_fault(kind="malformed_json", phone_number_id=broken)

    error = graph_error(hook.get_phone_health, broken, requests[0].access_token)
    assert error.kind is ErrorKind.TRANSIENT and "not JSON" in error.message
    results = hook.batch_get(requests)
    assert results[0].error is not None and results[0].error.kind is ErrorKind.TRANSIENT
    assert results[1].error is None


def test_share_of_faults_is_deterministic_per_seed(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    def failing_positions() -> list[int]:
        sim.reset()
        requests = _fleet(sim, hook, 40)
        sim.add_fault(kind="http_500", path=r"^/\d+$", share=0.25, seed=42)
        return [i for i, r in enumerate(hook.batch_get(requests)) if r.error is not None]

    first = failing_positions()
    assert 2 <= len(first) <= 25
    assert failing_positions() == first


def test_secrets_never_reach_the_request_log(sim: SimulatorControl, hook: WhatsAppGraphHook) -> None:
    number, token = signup(sim, hook, review_seconds=0)
    hook.debug_token(token)
    hook.subscribe_app(number["waba_id"], token)
    hook.set_webhook_override(
        number["phone_number_id"], token, "https://hooks.example.test/a", "verify-secret"
    )
    hook.register(number["phone_number_id"], token, PIN)
    hook.batch_get([BatchRequest(hook.health_relative_url(number["phone_number_id"]), token)])

    log = json.dumps(sim.calls())
    for secret in (token, PIN, number["code"], sim.app_secret, "verify-secret"):
        assert secret not in log
    assert sim.number(number["phone_number_id"])["pin"] == PIN


def test_a_wrong_app_secret_makes_meta_refuse_the_proof(
    sim: SimulatorControl, simulator_process: Any, hook: WhatsAppGraphHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With "Require App Secret" on, a proof made with another secret is refused and never resent."""
    number, token = signup(sim, hook)
    assert (
        hook.get_phone_health(number["phone_number_id"], token).phone_number_id == number["phone_number_id"]
    )
    connection = json.loads(graph_connection(simulator_process.base_url, sim))
    monkeypatch.setenv(GRAPH_CONN_ENV, json.dumps({**connection, "password": "not-the-app-secret"}))
    wrong = WhatsAppGraphHook()
    try:
        error = graph_error(wrong.get_phone_health, number["phone_number_id"], token)
    finally:
        wrong.close()
    assert (error.code, error.http_status) == (100, 400)
    assert "appsecret_proof" in error.message
    refused = [c for c in sim.calls() if c["path"].endswith(number["phone_number_id"]) and c["status"] == 400]
    assert len(refused) == 1  # a permanent error: not resent by the hook
