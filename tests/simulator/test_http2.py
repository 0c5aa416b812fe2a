"""The simulator's ``--http2`` server (Hypercorn) with the hook's ``http2_prior_knowledge`` extra.

Graph serves HTTP/2 over TLS, where concurrent requests share one multiplexed connection; the
simulator has no TLS, so the hook speaks HTTP/2 to it "with prior knowledge" (h2c). These tests
show the hook's requests really travel that way, as the hook (httpx) and the server both see
it, and that HTTP/1.1 clients keep working on the same port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from include.graph_simulator.process import RunningSimulator, SimulatorControl, SimulatorProcess
from tests.support.simulator_fixtures import GRAPH_CONN_ENV, graph_connection
from whatsapp.hooks.graph import BatchRequest, BatchResult, WhatsAppGraphHook

#: Batches sent at once; each answers after the latency, so all are in flight together.
BATCHES = 4
PER_BATCH = 5


@pytest.fixture(scope="module")
def h2_simulator() -> Iterator[RunningSimulator]:
    """A simulator of this module's own, started with ``--http2``."""
    with SimulatorProcess(http2=True) as running:
        yield running


@pytest.fixture
def h2_sim(h2_simulator: RunningSimulator) -> SimulatorControl:
    h2_simulator.control.reset()
    return h2_simulator.control


def _hook(
    monkeypatch: pytest.MonkeyPatch, simulator: RunningSimulator, *, prior_knowledge: bool
) -> WhatsAppGraphHook:
    extra = {"http2_prior_knowledge": True} if prior_knowledge else {}
    monkeypatch.setenv(GRAPH_CONN_ENV, graph_connection(simulator.base_url, simulator.control, **extra))
    return WhatsAppGraphHook()


def _fleet(sim: SimulatorControl, hook: WhatsAppGraphHook) -> list[BatchRequest]:
    seeded = sim.add_numbers(BATCHES * PER_BATCH, template={"name_status": "APPROVED"})
    return [
        BatchRequest(hook.health_relative_url(n["phone_number_id"]), seeded["tokens"][n["waba_id"]])
        for n in seeded["numbers"]
    ]


async def _concurrent_batches(
    hook: WhatsAppGraphHook, requests: list[BatchRequest], versions: list[str]
) -> list[list[BatchResult]]:
    """The fleet audit's way: several batches in flight on the hook's async client."""

    async def record(response: httpx.Response) -> None:
        versions.append(response.http_version)

    hook.get_async_conn().event_hooks["response"].append(record)
    try:
        return await asyncio.gather(
            *(hook.abatch_get(requests[k : k + PER_BATCH]) for k in range(0, len(requests), PER_BATCH))
        )
    finally:
        await hook.aclose()


@pytest.mark.parametrize(
    ("prior_knowledge", "httpx_version", "server_version", "connections"),
    [(True, "HTTP/2", "2", 1), (False, "HTTP/1.1", "1.1", BATCHES)],
    ids=["http2_prior_knowledge", "http1_on_the_same_port"],
)
def test_concurrent_batches_share_one_http2_connection_and_http1_still_works(
    h2_simulator: RunningSimulator,
    h2_sim: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
    prior_knowledge: bool,
    httpx_version: str,
    server_version: str,
    connections: int,
) -> None:
    hook = _hook(monkeypatch, h2_simulator, prior_knowledge=prior_knowledge)
    requests = _fleet(h2_sim, hook)
    h2_sim.configure(latency_ms=300)  # every batch still open when the last one starts
    versions: list[str] = []

    batches = asyncio.run(_concurrent_batches(hook, requests, versions))

    assert [r.status for batch in batches for r in batch] == [200] * len(requests)
    assert batches[-1][-1].body["name_status"] == "APPROVED"
    assert versions == [httpx_version] * BATCHES
    stats = h2_sim.stats()  # the server's view (the control client itself speaks HTTP/1.1)
    assert stats["http_versions"] == {server_version: BATCHES}
    assert stats["connections"] == connections


def test_the_sync_client_speaks_http2_too(
    h2_simulator: RunningSimulator, h2_sim: SimulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Task-side calls (httpx.Client) take the same extra."""
    hook = _hook(monkeypatch, h2_simulator, prior_knowledge=True)
    seeded = h2_sim.add_numbers(1, template={"name_status": "APPROVED"})
    (number,) = seeded["numbers"]
    token = seeded["tokens"][number["waba_id"]]
    versions: list[str] = []
    hook.get_conn().event_hooks["response"].append(lambda response: versions.append(response.http_version))
    try:
        health = hook.get_phone_health(number["phone_number_id"], token)
        (result,) = hook.batch_get([BatchRequest(hook.health_relative_url(number["phone_number_id"]), token)])
    finally:
        hook.close()
    assert health.phone_number_id == number["phone_number_id"]
    assert health.get("name_status") == "APPROVED"
    assert result.status == 200 and result.body["id"] == number["phone_number_id"]
    assert versions == ["HTTP/2", "HTTP/2"]
    stats = h2_sim.stats()
    assert stats["http_versions"] == {"2": 2} and stats["connections"] == 1
