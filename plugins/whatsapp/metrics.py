"""The provider's metrics, sent through Airflow's own metrics (``airflow.sdk.observability.stats``).

Whatever backend the deployment configured (``[metrics] statsd_on``, OpenTelemetry, ...) gets
them, under Airflow's prefix (``airflow.`` by default) followed by ``whatsapp.``. One function per
fact, called by the operators after they did the work; names are built here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PREFIX = "whatsapp"


def _stats() -> Any:
    from airflow.sdk.observability.stats import Stats

    return Stats


def _name(*parts: object) -> str:
    from airflow.sdk.observability.stats import normalize_name_for_stats

    return normalize_name_for_stats(
        ".".join([PREFIX, *(str(part).lower() for part in parts)]), log_warning=False
    )


def fleet_counts(counts: Mapping[str, Any]) -> None:
    """``whatsapp.channels.total`` and ``whatsapp.channels.<dimension>.<value>`` for each count.

    ``counts`` is the fleet summary (``store.fleet.counts()``): e.g.
    ``whatsapp.channels.registration_state.registered``.
    """
    stats = _stats()
    stats.gauge(_name("channels", "total"), int(counts.get("channels", 0)))
    for dimension, values in counts.items():
        if isinstance(values, Mapping):
            for value, count in values.items():
                stats.gauge(_name("channels", dimension, value), int(count))


def register_outcome(outcome: str) -> None:
    """``whatsapp.register.<outcome>``: success, an error kind, or why no call was made."""
    _stats().incr(_name("register", outcome))


def audit_finished(seconds: float, errors_by_kind: Mapping[str, int]) -> None:
    """``whatsapp.audit.duration`` (ms) and ``whatsapp.graph_errors.<kind>`` per failed read."""
    stats = _stats()
    stats.timing(_name("audit", "duration"), seconds * 1000.0)
    for kind, count in errors_by_kind.items():
        graph_errors(kind, count)


def graph_errors(kind: str, count: int = 1) -> None:
    _stats().incr(_name("graph_errors", kind), count)
