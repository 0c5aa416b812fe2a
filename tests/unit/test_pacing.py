"""The audit's pacing policy, table-tested on usage headers as Meta sends them and a fake clock."""

from __future__ import annotations

import json

import pytest

from whatsapp.domain.pacing import APP_SCOPE, Pacer, PacingDecision, PacingPolicy
from whatsapp.domain.usage import Usage
from whatsapp.errors import GraphApiError

WABA = "102290129340398"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answered(pacer: Pacer, clock: FakeClock, seconds: float) -> None:
    """A batch sent now comes back ``seconds`` later."""
    sent = clock.now
    clock.now += seconds
    pacer.observe_latency(sent)


def app_usage(pct: float) -> Usage:
    return Usage.from_pairs([("X-App-Usage", json.dumps({"call_count": pct, "total_time": 1}))])


def business_usage(waba: str, pct: float, regain_minutes: float = 0) -> Usage:
    entry = {
        "type": "whatsapp_business_management",
        "call_count": pct,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return Usage.from_pairs([("X-Business-Use-Case-Usage", json.dumps({waba: [entry]}))])


def graph_error(code: int, *, http_status: int = 400, regain_minutes: int | None = None) -> GraphApiError:
    error: dict[str, object] = {"message": "throttled", "type": "OAuthException", "code": code}
    if regain_minutes is not None:
        error["error_data"] = {"estimated_time_to_regain_access": regain_minutes}
    return GraphApiError.from_response(http_status, {"error": error})


@pytest.mark.parametrize(
    ("usage_pct", "concurrency", "delay_s"),
    [
        (0, 8, 0.0),
        (49.9, 8, 0.0),
        (50, 8, 0.0),
        (60, 6, 0.2),
        (70, 4, 0.4),
        (80, 2, 0.6),
        (89, 1, 0.78),
        (90, 1, 0.8),
        (99.9, 1, 0.998),
    ],
)
def test_app_usage_sets_concurrency_and_delay(usage_pct: float, concurrency: int, delay_s: float) -> None:
    pacer = Pacer(8, FakeClock())
    pacer.observe_usage(app_usage(usage_pct))
    assert pacer.decide() == PacingDecision(concurrency, delay_s)


def test_fewer_in_flight_as_usage_rises() -> None:
    policy = PacingPolicy()
    levels = [policy.concurrency_for(pct, 16) for pct in range(0, 100)]
    assert levels == sorted(levels, reverse=True)
    assert (levels[0], levels[99]) == (16, 1)


def test_app_at_budget_pauses_for_default_then_resumes_at_one() -> None:
    clock = FakeClock()
    pacer = Pacer(8, clock)
    pacer.observe_usage(app_usage(100))
    assert pacer.decide() == PacingDecision(0, 60.0)
    clock.now += 59
    assert pacer.decide() == PacingDecision(0, 1.0)
    clock.now += 1
    assert pacer.decide().concurrency == 1
    pacer.observe_usage(app_usage(10))
    assert pacer.decide() == PacingDecision(8, 0.0)


@pytest.mark.parametrize(
    ("usage", "paused"),
    [
        (business_usage(WABA, 40), {}),
        (business_usage(WABA, 99), {}),
        (business_usage(WABA, 100), {WABA: 60.0}),
        (business_usage(WABA, 100, regain_minutes=5), {WABA: 300.0}),
        (business_usage(WABA, 20, regain_minutes=2), {WABA: 120.0}),
    ],
)
def test_waba_usage_pauses_only_that_waba(usage: Usage, paused: dict[str, float]) -> None:
    pacer = Pacer(8, FakeClock())
    pacer.observe_usage(usage)
    assert pacer.paused() == paused
    assert pacer.decide() == PacingDecision(8, 0.0)


@pytest.mark.parametrize(
    ("error", "waba_id", "paused"),
    [
        (graph_error(80007, regain_minutes=10), WABA, {WABA: 600.0}),
        (graph_error(80007), WABA, {WABA: 60.0}),
        (graph_error(613), WABA, {WABA: 60.0}),
        (graph_error(4, regain_minutes=1), WABA, {APP_SCOPE: 60.0}),
        (GraphApiError.from_response(429, None), None, {APP_SCOPE: 60.0}),
        (graph_error(190, http_status=401), WABA, {}),
        (GraphApiError.transport("timed out"), None, {}),
    ],
)
def test_throttling_errors_pause_their_scope(
    error: GraphApiError, waba_id: str | None, paused: dict[str, float]
) -> None:
    pacer = Pacer(8, FakeClock())
    pacer.observe_error(error, waba_id)
    assert pacer.paused() == paused
    assert pacer.decide().concurrency == (0 if APP_SCOPE in paused else 8)


def test_pause_expires_and_a_longer_one_wins() -> None:
    clock = FakeClock()
    pacer = Pacer(4, clock)
    pacer.observe_error(graph_error(80007, regain_minutes=5), WABA)
    pacer.observe_error(graph_error(80007, regain_minutes=1), WABA)
    assert pacer.paused_for(WABA) == 300.0
    clock.now += 300
    assert pacer.paused_for(WABA) == 0.0
    assert pacer.paused() == {}


def test_app_throttle_error_resumes_slowly() -> None:
    clock = FakeClock()
    pacer = Pacer(8, clock)
    pacer.observe_error(graph_error(4, regain_minutes=2), None)
    assert pacer.decide() == PacingDecision(0, 120.0)
    clock.now += 120
    assert pacer.decide().concurrency == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"slow_from_pct": 90, "slowest_at_pct": 50},
        {"slowest_at_pct": 120},
        {"default_pause_s": 0},
        {"max_delay_s": -1},
    ],
)
def test_policy_rejects_inconsistent_thresholds(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PacingPolicy(**kwargs)


def test_pacer_needs_one_sender() -> None:
    with pytest.raises(ValueError):
        Pacer(0, FakeClock())


def test_the_level_climbs_while_batches_come_back_in_time_and_usage_is_low() -> None:
    clock = FakeClock()
    pacer = Pacer(64, clock, initial=8)
    assert pacer.decide().concurrency == 8
    for _ in range(100):
        answered(pacer, clock, 0.1)
    assert pacer.decide().concurrency == 64 and pacer.peak_level == 64


def test_usage_above_slow_from_stops_the_climb_and_caps_the_level() -> None:
    clock = FakeClock()
    pacer = Pacer(64, clock, initial=8)
    pacer.observe_usage(app_usage(70))
    for _ in range(100):
        answered(pacer, clock, 0.1)
    assert pacer.level == 8
    assert pacer.decide().concurrency == 8  # the policy would allow 32 at 70 %: the level is lower


def test_slow_batches_take_a_quarter_off_and_throttling_halves() -> None:
    clock = FakeClock()
    pacer = Pacer(64, clock, initial=40)
    answered(pacer, clock, 0.1)  # fastest seen; in time: 41
    answered(pacer, clock, 0.25)  # > 2x the fastest and > 50 ms slower: saturation
    assert pacer.level == 30
    answered(pacer, clock, 0.19)  # under 2x: in time again
    assert pacer.level == 31
    pacer.observe_error(graph_error(4), None)  # app-wide throttling
    assert pacer.level == 15
    for _ in range(200):
        answered(pacer, clock, 0.4)  # always slow, each sent after the last cut: down to one, never zero
    assert pacer.level == 1


def test_one_saturated_window_cuts_once_not_once_per_batch_in_flight() -> None:
    clock = FakeClock()
    pacer = Pacer(32, clock, initial=16)
    answered(pacer, clock, 0.1)  # fastest seen; in time: 17
    sent = clock.now  # 17 batches leave together; the worker then saturates
    clock.now += 0.3
    for _ in range(17):
        pacer.observe_latency(sent)  # all slow, all from the same window
    assert pacer.level == 12  # one quarter off, not 17 cuts down to 1
    answered(pacer, clock, 0.3)  # sent after the cut and still slow: cut again
    assert pacer.level == 9
    answered(pacer, clock, 0.1)  # in time: climbs again
    assert pacer.level == 10


def test_tiny_latencies_jittering_by_a_large_factor_are_not_saturation() -> None:
    clock = FakeClock()
    pacer = Pacer(16, clock, initial=8)
    answered(pacer, clock, 0.002)
    answered(pacer, clock, 0.02)  # 10x, but only 18 ms slower
    assert pacer.level == 10
