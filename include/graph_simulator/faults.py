"""Injected faults: latency, HTTP 500, timeouts, throttling, broken JSON and any Graph error.

A fault matches a request (top-level or batch sub-request alike) by path regex, method,
phone number id and a deterministic ``share`` of the calls; ``count`` makes it one-shot
("fail twice, then work"), which is how retry paths are tested.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from include.graph_simulator.graph import GraphRequest

FAULT_KINDS = ("latency", "http_500", "timeout", "throttle", "malformed_json", "graph_error")


@dataclass(slots=True)
class Fault:
    id: int
    kind: str
    path: str | None = None
    method: str | None = None
    phone_number_id: str | None = None
    share: float = 1.0
    count: int | None = None
    seed: int = 0
    latency_ms: float = 1000.0
    timeout_seconds: float | None = None
    code: int = 80007  # throttle: 4 or 80007; graph_error: any Graph code
    regain_minutes: int = 5
    subcode: int | None = None  # graph_error only, like the three below
    http_status: int = 400
    details: str | None = None
    applied: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path) if self.path else None
        self._rng = random.Random(self.seed)
        if self.method:
            self.method = self.method.upper()

    def matches(self, request: GraphRequest) -> bool:
        if self.count is not None and self.applied >= self.count:
            return False
        if self.method and request.method != self.method:
            return False
        if self._pattern is not None and not self._pattern.search(request.path):
            return False
        if self.phone_number_id and request.segments[:1] != [self.phone_number_id]:
            return False
        # Drawn only for otherwise matching calls, so a seed replays the same choices.
        return self.share >= 1.0 or self._rng.random() < self.share

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "path": self.path,
            "method": self.method,
            "phone_number_id": self.phone_number_id,
            "share": self.share,
            "count": self.count,
            "seed": self.seed,
            "latency_ms": self.latency_ms,
            "timeout_seconds": self.timeout_seconds,
            "code": self.code,
            "regain_minutes": self.regain_minutes,
            "subcode": self.subcode,
            "http_status": self.http_status,
            "details": self.details,
            "applied": self.applied,
        }


class FaultBook:
    """The active faults, in the order they were added."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self._next_id = 1

    def add(self, **spec: Any) -> Fault:
        fault = Fault(id=self._next_id, **spec)
        self._next_id += 1
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def match(self, request: GraphRequest) -> tuple[float, Fault | None]:
        """Seconds of injected latency, and the first failing fault that applies (if any)."""
        delay = 0.0
        failure: Fault | None = None
        for fault in self.faults:
            if fault.kind == "latency":
                if fault.matches(request):
                    fault.applied += 1
                    delay += fault.latency_ms / 1000.0
            elif failure is None and fault.matches(request):
                fault.applied += 1
                failure = fault
        return delay, failure
