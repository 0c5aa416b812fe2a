"""Meta's rate-limit usage headers, parsed.

``X-App-Usage`` and ``X-Business-Use-Case-Usage`` carry percentages of a budget that Meta
does not publish; the fleet audit slows down as they rise and pauses a throttled
WABA/app until ``estimated_time_to_regain_access`` (minutes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec

APP_USAGE_HEADER = "x-app-usage"
BUSINESS_USAGE_HEADER = "x-business-use-case-usage"


def _pct(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


@dataclass(frozen=True, slots=True)
class BusinessUsage:
    business_id: str
    type: str | None
    call_count: float
    total_cputime: float
    total_time: float
    regain_access_minutes: float

    @property
    def peak(self) -> float:
        return max(self.call_count, self.total_cputime, self.total_time)


@dataclass(frozen=True, slots=True)
class Usage:
    """The usage one Graph answer reported; percentages from 0 to 100 (or more)."""

    app_call_count: float = 0.0
    app_total_cputime: float = 0.0
    app_total_time: float = 0.0
    business: tuple[BusinessUsage, ...] = field(default_factory=tuple)

    @property
    def regain_access_seconds(self) -> float:
        return max((b.regain_access_minutes * 60.0 for b in self.business), default=0.0)

    @classmethod
    def from_pairs(cls, headers: Iterable[tuple[str, str]]) -> Usage:
        """Parse both headers from ``(name, value)`` pairs, names in any case (a batch
        sub-response lists its headers as name/value objects)."""
        app_raw = business_raw = None
        for name, value in headers:
            key = str(name).lower()
            if key == APP_USAGE_HEADER:
                app_raw = value
            elif key == BUSINESS_USAGE_HEADER:
                business_raw = value
        return cls.from_values(app_raw, business_raw)

    @classmethod
    def from_values(cls, app_usage: str | None, business_usage: str | None) -> Usage:
        """Parse the two headers' values (``None`` when absent).

        A fleet audit parses one pair per sub-response (100,000 a run), and the values repeat
        (``X-App-Usage`` across answers, a WABA's entry across its numbers): each distinct value
        is parsed once (:func:`_app_usage`, :func:`_business_usage`).
        """
        if not app_usage and not business_usage:
            return _NO_USAGE
        return cls(*_app_usage(app_usage), business=_business_usage(business_usage))


_NO_USAGE = Usage()


@lru_cache(maxsize=256)
def _app_usage(raw: str | None) -> tuple[float, float, float]:
    app = _loads(raw)
    if not isinstance(app, dict):  # (decoded JSON is made of dicts: no need for the costlier Mapping ABC)
        return 0.0, 0.0, 0.0
    return _pct(app.get("call_count")), _pct(app.get("total_cputime")), _pct(app.get("total_time"))


@lru_cache(maxsize=4096)
def _business_usage(raw: str | None) -> tuple[BusinessUsage, ...]:
    business_raw = _loads(raw)
    if not isinstance(business_raw, dict):
        return ()
    return tuple(
        BusinessUsage(
            business_id=str(business_id),
            type=entry.get("type"),
            call_count=_pct(entry.get("call_count")),
            total_cputime=_pct(entry.get("total_cputime")),
            total_time=_pct(entry.get("total_time")),
            regain_access_minutes=_pct(entry.get("estimated_time_to_regain_access")),
        )
        for business_id, entries in business_raw.items()
        for entry in (entries if isinstance(entries, list) else [entries])
        if isinstance(entry, dict)
    )


#: msgspec's decoder: the same Python values as ``json.loads``, at a quarter of its CPU.
_JSON = msgspec.json.Decoder()


def _loads(value: str | None) -> Any:
    if not value:
        return None
    try:
        return _JSON.decode(value)
    except msgspec.DecodeError:
        return None
