"""Two fleet workers racing over the same due channels never register a number twice.

Each process does what a ``retry_registration`` mapped task does (the operator is a thin
shell over :func:`attempt_registration`), against the simulator with a slow ``/register``
so the two really overlap, and the PostgreSQL store whose claim is a row lock.
"""

from __future__ import annotations

import collections
import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.store.helpers import set_registration
from whatsapp.domain.registration import RegistrationState
from whatsapp.register_channel import AWAITING_ANSWER
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres


def _worker(barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:
    from whatsapp.hooks.graph import WhatsAppGraphHook
    from whatsapp.register_channel import attempt_registration
    from whatsapp.store import ChannelStore

    store = ChannelStore.from_conn_id("whatsapp_store_default")
    hook = WhatsAppGraphHook()
    due = store.attempts.due(limit=100)
    barrier.wait(timeout=30)
    actions = []
    for channel in due:
        report = attempt_registration(hook, store, channel.id, respect_backoff=True, run_id="race")
        actions.append(report.action)
    store.dispose()
    results.put(actions)


def test_two_workers_never_register_one_number_twice(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    numbers = [sim.add_number(name_status="APPROVED") for _ in range(6)]
    for number in numbers:
        channel = pg_store_env.channels.upsert(
            account_id=1,
            phone_number_id=number["phone_number_id"],
            waba_id=number["waba_id"],
            business_id=number["business_id"],
            access_token=sim.new_token(number["waba_id"]),
        )
        set_registration(
            pg_store_env,
            channel.id,
            RegistrationState.SCHEDULED,
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
        )
    sim.add_fault(kind="latency", path="/register$", latency_ms=300)

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    assert sorted(len(o) for o in outcomes) == [6, 6]  # both saw every channel due ...
    actions = collections.Counter(a for o in outcomes for a in o)
    # ... and each channel was registered by exactly one; the other found it held (row locked, or
    # registered by then: "skipped") or the winner's call still out ("awaiting_answer").
    assert actions["done"] == 6
    assert actions["skipped"] + actions[AWAITING_ANSWER] == 6
    calls = collections.Counter(c["path"].split("/")[-2] for c in sim.calls("/register$"))
    assert calls == {n["phone_number_id"]: 1 for n in numbers}
    for number in numbers:
        channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
        assert [a.outcome for a in pg_store_env.attempts.recent(channel.id)] == ["success"]
