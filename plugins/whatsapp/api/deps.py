"""Per-request access to the channel store and the Graph hook, configured by Airflow connections.

The store connection is looked up on every request (an ``AIRFLOW_CONN_...`` change or a new
connection in the metadata database applies without restarting the API server), while the
engine behind a given target is built once per process so its connection pool is reused.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends

from whatsapp.defaults import DEFAULT_STORE_CONN_ID
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.store import ChannelStore, StoreTarget, resolve_target


@functools.lru_cache(maxsize=4)
def _store_for(target: StoreTarget) -> ChannelStore:
    return ChannelStore.from_target(target)


def channel_store() -> ChannelStore:
    """The store of ``whatsapp_store_default``; store errors become a 503 (see ``app.py``)."""
    return _store_for(resolve_target(DEFAULT_STORE_CONN_ID))


def graph_hook() -> Iterator[WhatsAppGraphHook]:
    """A hook on ``whatsapp_graph_default`` for one request, its HTTP client closed afterwards."""
    hook = WhatsAppGraphHook()
    try:
        yield hook
    finally:
        hook.close()


StoreDep = Annotated[ChannelStore, Depends(channel_store)]
HookDep = Annotated[WhatsAppGraphHook, Depends(graph_hook)]
