"""The provider's defaults, in one place: connection ids, the Graph connection's settings, and the
retry policy of the DAGs' Graph tasks.

Standard library only, so importing it stays cheap: :func:`whatsapp.get_provider_info` (read while
Airflow parses DAGs and starts every component) fills the connection form's defaults from here,
and ``whatsapp`` re-exports the names users import. Defaults that belong to one table stay beside
it (a signup field's default with the signup fields, the fleet's default sort with its sorts).

**Retry policy.** The hook already resends calls that are safe to resend a few times within
seconds, so an Airflow retry means a longer outage, or a ``/register`` that met a transient error
(never resent by the hook: each call spends Meta's budget). Each retry shows in the grid; permanent
errors fail the task without retry. The first retry comes after 10-20 s (Airflow jitters the
exponential delay), then 20-40 s and 40-80 s.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

DEFAULT_GRAPH_CONN_ID = "whatsapp_graph_default"
DEFAULT_STORE_CONN_ID = "whatsapp_store_default"
DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v24.0"
#: Per-request timeout in seconds, unless the connection's ``timeout`` says otherwise.
DEFAULT_TIMEOUT_S = 30
#: The connection's default ceiling on fleet-audit batches in flight. The audit starts lower and
#: adapts to latency and Meta's usage headers (``whatsapp.domain.pacing``), so the ceiling only
#: bounds a fast, quiet Graph: 100,000 channels are 2,000 batches, 25 s at 8 in flight of 100 ms.
DEFAULT_MAX_CONCURRENCY = 32
#: Meta's hard limit on sub-requests per Graph batch, and the default batch size.
MAX_BATCH_SIZE = 50
#: Channels of one task registered at once (a chunk of the fleet's retries, or of a bulk action):
#: each spends most of its time waiting for Graph and holds a store connection while claimed;
#: 8 tasks x 8 threads exhausted PostgreSQL's default 100 connections.
REGISTER_THREADS = 4

GRAPH_TASK_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
