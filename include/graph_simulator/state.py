"""The simulator's whole world: numbers, WABAs, tokens, codes, the clock and usage counters.

Everything lives in memory in plain slotted objects so 100,000 numbers stay cheap, and
every time is *simulated* time, so tests move through Meta's 72 h register window or a
display-name review in one control call instead of waiting.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

#: Simulated time starts here on every start and every reset (a Monday, 08:00 UTC).
CLOCK_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC).timestamp()

DEFAULT_APP_ID = "1234567890123456"
DEFAULT_APP_SECRET = "sim-app-secret"
SCOPE_MANAGEMENT = "whatsapp_business_management"
SCOPE_MESSAGING = "whatsapp_business_messaging"
TOKEN_STATES = ("valid", "expired", "revoked", "no_permission")
#: Meta: an approved display-name change must be followed by a new registration within 14 days.
NAME_CHANGE_WINDOW_SECONDS = 14 * 24 * 3600.0


@dataclass(slots=True)
class SimulatorConfig:
    """Settings from the command line; ``POST /_sim/config`` changes them until the next reset."""

    app_id: str = DEFAULT_APP_ID
    app_secret: str = DEFAULT_APP_SECRET
    app_name: str = "Graph API Simulator App"
    latency_ms: float = 0.0
    page_size: int = 25
    waba_hourly_budget: int = 5000
    app_hourly_budget: int = 1_000_000
    timeout_fault_seconds: float = 60.0
    clock_speed: float = 0.0
    #: Meta's app setting "Require App Secret": business-token calls need ``appsecret_proof``.
    require_appsecret_proof: bool = False
    #: Where signed webhooks go (``None``: none are sent), and how (see ``webhooks.py``).
    webhook_url: str | None = None
    webhook_delay_ms: float = 0.0
    webhook_copies: int = 1
    webhook_drop: float = 0.0

    def copy(self) -> SimulatorConfig:
        return SimulatorConfig(**{f.name: getattr(self, f.name) for f in fields(self)})

    def as_dict(self) -> dict[str, Any]:
        """Public view: the app secret is a secret here too."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["app_secret"] = "***"
        return data


class Clock:
    """Simulated time: a fixed start, plus manual advances, plus wall time times ``speed``.

    ``speed`` 0 (the default) freezes time between advances, so tests are deterministic;
    a demo can run it at 1 (real time) or faster.
    """

    def __init__(self, speed: float = 0.0) -> None:
        self._offset = 0.0
        self._speed = speed
        self._wall_anchor = time.monotonic()

    def now(self) -> float:
        drift = (time.monotonic() - self._wall_anchor) * self._speed if self._speed else 0.0
        return CLOCK_START + self._offset + drift

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def set_speed(self, speed: float) -> None:
        # Fold the drift so far into the offset so changing speed never jumps time.
        self._offset = self.now() - CLOCK_START
        self._wall_anchor = time.monotonic()
        self._speed = speed

    @property
    def speed(self) -> float:
        return self._speed

    def __getstate__(self) -> dict[str, float]:
        # A monotonic anchor means nothing in another process: keep the simulated time reached.
        return {"offset": self.now() - CLOCK_START, "speed": self._speed}

    def __setstate__(self, saved: dict[str, float]) -> None:
        self._offset = saved["offset"]
        self._speed = saved["speed"]
        self._wall_anchor = time.monotonic()


def iso(ts: float) -> str:
    """Meta's timestamp format, e.g. ``2026-01-05T08:00:00+0000``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class RollingCounter:
    """Calls in the last hour of simulated time, in one-minute buckets (cheap at 100k calls)."""

    __slots__ = ("_buckets", "_total")

    WINDOW = 3600.0

    def __init__(self) -> None:
        self._buckets: deque[list[float]] = deque()  # [minute_start, count]
        self._total = 0

    def _evict(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] <= now - self.WINDOW:
            self._total -= int(self._buckets.popleft()[1])

    def count(self, now: float) -> int:
        self._evict(now)
        return self._total

    def add(self, now: float) -> None:
        minute = now - now % 60
        if self._buckets and self._buckets[-1][0] == minute:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([minute, 1])
        self._total += 1

    def minutes_to_regain(self, now: float) -> int:
        """Whole minutes until the oldest bucket leaves the window (at least 1)."""
        self._evict(now)
        if not self._buckets:
            return 1
        return max(1, int((self._buckets[0][0] + self.WINDOW - now + 59) // 60))


@dataclass(slots=True)
class Waba:
    waba_id: str
    business_id: str
    name: str = "Sim WhatsApp Business Account"
    scope: str = SCOPE_MANAGEMENT
    subscribed: bool = False
    override_callback_uri: str | None = None
    verify_token: str | None = None
    number_ids: list[str] = field(default_factory=list)
    usage: RollingCounter = field(default_factory=RollingCounter)
    #: When a signup code of this WABA was first exchanged: the partner's onboarding of it.
    code_exchanged_at: float | None = None
    #: The business disconnected its WhatsApp Business app number from the partner
    #: (``PARTNER_REMOVED``): the WABA is no longer shared, the partner's calls find nothing.
    partner_removed: bool = False


@dataclass(slots=True)
class Number:
    """One phone number as Meta holds it, plus the simulator's review and register bookkeeping."""

    phone_number_id: str
    waba_id: str
    display_phone_number: str
    verified_name: str
    created_at: float
    name_status: str = "PENDING_REVIEW"
    new_name_status: str = "NONE"
    review_at: float | None = None
    review_outcome: str = "APPROVED"
    code_verification_status: str = "VERIFIED"
    platform_type: str = "NOT_APPLICABLE"
    throughput_level: str = "NOT_APPLICABLE"
    messaging_limit_tier: str = "TIER_250"
    quality_rating: str = "GREEN"
    status: str = "PENDING"
    account_mode: str = "LIVE"
    is_official_business_account: bool = False
    pin: str | None = None
    webhook_override_uri: str | None = None
    webhook_verify_token: str | None = None
    register_attempts: deque[float] = field(default_factory=deque)
    register_blocked_until: float | None = None
    deregister_attempts: deque[float] = field(default_factory=deque)
    deregister_blocked_until: float | None = None
    deregistered_at: float | None = None
    #: Wrong two-step PINs sent to ``/register`` (rolling window) and the lockout they caused.
    pin_failures: deque[float] = field(default_factory=deque)
    pin_locked_until: float | None = None
    #: Causes of register errors a test sets through ``/_sim``: 131031 and 133006.
    locked: bool = False
    needs_reverification: bool = False
    #: Display-name change: the name asked for, its review, and when it was approved.
    review_seconds: float = 3600.0
    new_display_name: str | None = None
    new_name_review_at: float | None = None
    new_name_approved_at: float | None = None
    name_change_requests: deque[float] = field(default_factory=deque)
    #: A WhatsApp Business app number onboarded to Cloud API too ("coexistence"), whether its
    #: business shares its chat history, when the partner onboarded it (the 24 h sync window
    #: starts there; ``None``: at creation), the syncs requested (type -> request id), and
    #: whether a device change has offboarded its Cloud API companion.
    is_on_biz_app: bool = False
    history_shared: bool = True
    onboarded_at: float | None = None
    smb_syncs: dict[str, str] = field(default_factory=dict)
    app_offboarded: bool = False

    def onboarding_time(self) -> float:
        return self.created_at if self.onboarded_at is None else self.onboarded_at

    def refresh(self, now: float) -> None:
        """Finish due reviews and lapse stale name changes (evaluated lazily on every read).

        An approved new display name must be made effective by registering the number again
        within :data:`NAME_CHANGE_WINDOW_SECONDS` of the approval, or the change lapses.
        """
        if self.review_at is not None and now >= self.review_at:
            if self.name_status == "PENDING_REVIEW":
                self.name_status = self.review_outcome
            self.review_at = None
        if self.new_name_review_at is not None and now >= self.new_name_review_at:
            if self.new_name_status == "PENDING_REVIEW":
                self.new_name_status = self.review_outcome
                if self.review_outcome == "APPROVED":
                    self.new_name_approved_at = self.new_name_review_at
            self.new_name_review_at = None
        if (
            self.new_name_status == "APPROVED"
            and self.new_name_approved_at is not None
            and now > self.new_name_approved_at + NAME_CHANGE_WINDOW_SECONDS
        ):
            self.new_name_status = "EXPIRED"
            self.new_display_name = None
            self.new_name_approved_at = None


@dataclass(slots=True)
class Token:
    value: str
    waba_id: str
    issued_at: float
    state: str = "valid"


def new_token() -> str:
    return "EAAsim" + secrets.token_urlsafe(36)


def new_code() -> str:
    return "AQsim" + secrets.token_urlsafe(24)


class SimState:
    """All mutable state; replaced wholesale by ``POST /_sim/reset``."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clock = Clock(config.clock_speed)
        self.numbers: dict[str, Number] = {}
        self.wabas: dict[str, Waba] = {}
        self.tokens: dict[str, Token] = {}
        self.tokens_by_waba: dict[str, list[Token]] = {}
        self.codes: dict[str, str] = {}  # unused code -> waba_id
        self.used_codes: set[str] = set()
        self.app_usage = RollingCounter()
        #: Webhooks a Graph call or a control call decided (field, waba_id, value, phone_number_id);
        #: the app hands them to the webhook sender once the call is answered.
        self.outbox: list[tuple[str, str, dict[str, Any], str | None]] = []
        self._sequence = 0

    def next_id(self, prefix: str) -> str:
        """Deterministic 15-digit ids; the prefix digit tells business, WABA and phone apart."""
        self._sequence += 1
        return f"{prefix}{self._sequence:014d}"

    def issue_code(self, waba_id: str) -> str:
        code = new_code()
        self.codes[code] = waba_id
        return code

    def issue_token(self, waba_id: str) -> Token:
        token = Token(new_token(), waba_id, self.clock.now())
        self.tokens[token.value] = token
        self.tokens_by_waba.setdefault(waba_id, []).append(token)
        return token

    def app_token(self) -> str:
        return f"{self.config.app_id}|{self.config.app_secret}"
