"""Task defaults shared by the provider's DAGs: one place for the retry policy.

The hook already resends calls that are safe to resend a few times within seconds, so an
Airflow retry means a longer outage, or a ``/register`` that met a transient error (never resent
by the hook: each call spends Meta's budget). Each retry shows in the grid; permanent errors fail
the task without retry. The first retry comes after 10-20 s (Airflow jitters the exponential
delay), then 20-40 s and 40-80 s.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

GRAPH_TASK_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
