"""Adaptive pacing for the fleet audit: how hard to push Graph, given what Graph says back.

Meta does not publish the budgets behind ``X-App-Usage`` and ``X-Business-Use-Case-Usage``;
it only reports the percentage used. Hitting 100 % throttles the whole app (every customer's
health checks) or one customer's WABA for up to an hour, so the audit backs off *before* that:

* app usage below ``slow_from_pct`` (50 %): full speed;
* from there to ``slowest_at_pct`` (90 %): linearly fewer batches in flight, down to one, and a
  growing pause between batches (up to ``max_delay_s`` at 100 %);
* app usage at ``pause_at_pct`` (100 %) or an app-wide throttling error: nothing is sent until
  Meta's ``estimated_time_to_regain_access`` (``default_pause_s`` when Meta gives none); the
  audit then resumes with one batch in flight until a fresh reading arrives;
* a WABA at 100 % or answering a throttling error is paused alone until its regain time: its
  channels are skipped while other customers' channels go on at full speed. One WABA's
  percentage never slows the fleet, because only that WABA's few channels spend it.

"Full speed" adapts too (additive increase, multiplicative decrease): the audit starts with a
few batches in flight and adds one for every batch answered in time while app usage is below
``slow_from_pct``, up to ``max_concurrency``; a batch slower than ``latency_factor`` times the
fastest seen (Graph or this worker is saturated) takes a quarter off, a throttling error halves
it. So the pace follows what Meta answers, not a fixed number.

Pure: no HTTP, no Airflow, no wall clock. The caller feeds observations and a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from whatsapp.domain.usage import Usage
from whatsapp.errors import ErrorKind, GraphApiError

#: The key of the app-wide pause in :meth:`Pacer.paused`.
APP_SCOPE = "app"

#: Throttling codes that limit the whole app, not the WABA of the sub-request that got them.
#: 4 is Meta's app-level limit; 80007 (WABA), 17, 32, 613 and 130429 follow the token/WABA.
APP_THROTTLE_CODES = frozenset({4})


@dataclass(frozen=True, slots=True)
class PacingPolicy:
    """The thresholds (percentages of Meta's budget) and waits the audit paces itself by."""

    slow_from_pct: float = 50.0
    slowest_at_pct: float = 90.0
    pause_at_pct: float = 100.0
    max_delay_s: float = 1.0
    default_pause_s: float = 60.0
    #: A batch slower than this many times the fastest one seen means saturation: back off.
    latency_factor: float = 2.0
    #: ... but only when it is also this much slower (tiny latencies jitter by large factors).
    latency_slack_s: float = 0.05

    def __post_init__(self) -> None:
        if not 0 <= self.slow_from_pct < self.slowest_at_pct <= self.pause_at_pct:
            raise ValueError("need 0 <= slow_from_pct < slowest_at_pct <= pause_at_pct")
        if self.max_delay_s < 0 or self.default_pause_s <= 0:
            raise ValueError("max_delay_s must be >= 0 and default_pause_s > 0")
        if self.latency_factor <= 1 or self.latency_slack_s < 0:
            raise ValueError("latency_factor must be > 1 and latency_slack_s >= 0")

    def concurrency_for(self, usage_pct: float, max_concurrency: int) -> int:
        """Batches allowed in flight at this app usage (0 means paused)."""
        if usage_pct >= self.pause_at_pct:
            return 0
        if usage_pct <= self.slow_from_pct:
            return max_concurrency
        if usage_pct >= self.slowest_at_pct:
            return 1
        share = (self.slowest_at_pct - usage_pct) / (self.slowest_at_pct - self.slow_from_pct)
        return max(1, 1 + int((max_concurrency - 1) * share))

    def delay_for(self, usage_pct: float) -> float:
        """Seconds each sender waits before its next batch at this app usage."""
        if usage_pct <= self.slow_from_pct:
            return 0.0
        share = min(1.0, (usage_pct - self.slow_from_pct) / (self.pause_at_pct - self.slow_from_pct))
        return round(self.max_delay_s * share, 3)


@dataclass(frozen=True, slots=True)
class PacingDecision:
    """What a sender may do now: ``concurrency`` 0 means wait ``delay_s`` (the app is paused)."""

    concurrency: int
    delay_s: float


class Pacer:
    """Remembers the latest usage, latency and the pauses in force; answers :meth:`decide`.

    :param max_concurrency: the most batches ever in flight.
    :param clock: monotonic seconds (``time.monotonic`` in production, a fake in tests).
    :param initial: batches in flight at the start (default ``max_concurrency``); the level
        then adapts between 1 and ``max_concurrency`` (:meth:`observe_latency`).
    """

    def __init__(
        self,
        max_concurrency: int,
        clock: Callable[[], float],
        policy: PacingPolicy | None = None,
        *,
        initial: int | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.policy = policy or PacingPolicy()
        self._clock = clock
        self._app_pct = 0.0
        self._paused_until: dict[str, float] = {}
        self.level = max(1, min(initial or max_concurrency, max_concurrency))
        #: The highest level reached (for the report).
        self.peak_level = self.level
        self._fastest_s: float | None = None
        self._cut_at = float("-inf")

    def now(self) -> float:
        """The pacer's clock: stamp a batch's sending with it, for :meth:`observe_latency`."""
        return self._clock()

    def observe_latency(self, sent_at: float) -> None:
        """The batch sent at ``sent_at`` (:meth:`now` when it left) is answered now: one more in
        flight if that was in time, fewer if not.

        A slow answer to a batch sent before the last cut is part of the window that cut already
        answered (every batch in flight then comes back slow too), so it changes nothing. Cutting
        for each would take one saturated moment from 16 batches in flight down to 1; as
        congestion control learned long ago: one cut per window.
        """
        seconds = self._clock() - sent_at
        fastest = self._fastest_s = seconds if self._fastest_s is None else min(self._fastest_s, seconds)
        slow = (
            seconds > fastest * self.policy.latency_factor and seconds > fastest + self.policy.latency_slack_s
        )
        if slow:
            if sent_at >= self._cut_at:
                self.level = max(1, (self.level * 3) // 4)
                self._cut_at = self._clock()
        elif self._app_pct < self.policy.slow_from_pct:
            self.level = min(self.max_concurrency, self.level + 1)
            self.peak_level = max(self.peak_level, self.level)

    def observe_usage(self, usage: Usage) -> None:
        """Take in one answer's usage headers (the latest answer wins; they only move slowly)."""
        app_pct = max(usage.app_call_count, usage.app_total_cputime, usage.app_total_time)
        if app_pct >= self.policy.pause_at_pct:
            # X-App-Usage carries no regain time; resume cautiously once the default pause ends.
            self._pause(APP_SCOPE, None)
            app_pct = self.policy.slowest_at_pct
        self._app_pct = app_pct
        for entry in usage.business:
            if entry.peak >= self.policy.pause_at_pct or entry.regain_access_minutes > 0:
                self._pause(entry.business_id, entry.regain_access_minutes * 60.0 or None)

    def observe_error(self, error: GraphApiError, waba_id: str | None) -> None:
        """Pause the scope a throttling error names; ``waba_id`` None means the whole batch failed."""
        if error.kind is not ErrorKind.THROTTLED:
            return
        app_wide = waba_id is None or error.code in APP_THROTTLE_CODES
        self._pause(APP_SCOPE if app_wide else waba_id, error.retry_after_s)
        if app_wide:
            self._app_pct = max(self._app_pct, self.policy.slowest_at_pct)
            self.level = max(1, self.level // 2)

    def _pause(self, scope: str, seconds: float | None) -> None:
        until = self._clock() + (seconds if seconds and seconds > 0 else self.policy.default_pause_s)
        self._paused_until[scope] = max(until, self._paused_until.get(scope, 0.0))

    def paused_for(self, scope: str) -> float:
        """Seconds until ``scope`` (a WABA id or :data:`APP_SCOPE`) may be sent to again; 0 if now."""
        until = self._paused_until.get(scope)
        if until is None:
            return 0.0
        remaining = until - self._clock()
        if remaining <= 0:
            del self._paused_until[scope]
            return 0.0
        return remaining

    def paused(self) -> dict[str, float]:
        """Every pause still in force, scope to seconds left (for logs and the report)."""
        return {scope: left for scope in list(self._paused_until) if (left := self.paused_for(scope)) > 0}

    def decide(self) -> PacingDecision:
        app_pause = self.paused_for(APP_SCOPE)
        if app_pause > 0:
            return PacingDecision(0, app_pause)
        return PacingDecision(
            min(self.level, self.policy.concurrency_for(self._app_pct, self.max_concurrency)),
            self.policy.delay_for(self._app_pct),
        )
