"""Task defaults shared by the provider's DAGs: one place for the retry policy.

Transient Graph errors (throttling, 5xx, timeouts) are left to Airflow's retries, so each
retry shows in the grid; permanent ones fail the task without retry.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

GRAPH_TASK_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
