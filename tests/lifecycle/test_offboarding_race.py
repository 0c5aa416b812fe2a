"""Two offboarding runs of one channel at once: one deregister call, one unsubscribe, one run doing it.

Each run is a process doing what ``whatsapp_offboard_channel``'s tasks do, in order (the
operators themselves, on the PostgreSQL store and the simulator), with its own run id. The
second run starts while the first one's ``/deregister`` is still out, or after it succeeded but
before the first run deactivates the channel (Airflow takes a moment between two tasks).
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.lifecycle.conftest import add_live_channel
from whatsapp.operators.base import channel_ref
from whatsapp.store import ChannelStore
from whatsapp.store.lifecycle_calls import DEREGISTER

pytestmark = pytest.mark.postgres


class _TaskInstance:
    """What the operators use of ``context["ti"]``: they publish the WhatsApp Manager link."""

    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _offboarding_run(
    run_id: str,
    ref: dict[str, Any],
    start_after: float,
    between_tasks: float,
    barrier: Any,
    results: Any,
) -> None:
    """One run's tasks in order; a task that does not succeed ends the run, as in Airflow."""
    from airflow.sdk.exceptions import AirflowSkipException

    from whatsapp.operators.lifecycle import WhatsAppDeregisterOperator, WhatsAppOffboardOperator

    tasks = [
        WhatsAppDeregisterOperator(task_id="deregister", channel=ref),
        WhatsAppOffboardOperator(task_id="deactivate_and_unsubscribe", channel=ref),
    ]
    context = {"run_id": run_id, "ti": _TaskInstance()}
    states: dict[str, str] = {}
    barrier.wait(timeout=120)
    time.sleep(start_after)
    for task in tasks:
        try:
            task.execute(context)
        except AirflowSkipException as skipped:
            states[task.task_id] = f"skipped: {skipped}"
            break
        except Exception as error:
            states[task.task_id] = f"failed: {error}"
            break
        states[task.task_id] = "success"
        time.sleep(between_tasks)
    results.put((run_id, states))


@pytest.mark.parametrize(
    ("deregister_latency_ms", "second_starts_after", "first_pauses_between_tasks"),
    [
        pytest.param(2000, 0.5, 0.0, id="second-run-while-the-deregister-is-out"),
        pytest.param(0, 0.5, 2.0, id="second-run-after-the-deregister-before-deactivating"),
    ],
)
def test_two_offboarding_runs_of_one_channel_deregister_it_once(
    deregister_latency_ms: int,
    second_starts_after: float,
    first_pauses_between_tasks: float,
    graph_conn_env: str,
    pg_store_env: ChannelStore,
    sim: SimulatorControl,
) -> None:
    number, channel = add_live_channel(sim, pg_store_env, subscribed=True)  # the WABA's only channel
    if deregister_latency_ms:
        sim.add_fault(kind="latency", path="/deregister$", latency_ms=deregister_latency_ms)
    sim.clear_calls()
    ref = channel_ref(channel)

    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    runs = [
        spawn.Process(
            target=_offboarding_run,
            args=("offboard-first", ref, 0.0, first_pauses_between_tasks, barrier, results),
        ),
        spawn.Process(
            target=_offboarding_run, args=("offboard-second", ref, second_starts_after, 0.0, barrier, results)
        ),
    ]
    for run in runs:
        run.start()
    states = dict(results.get(timeout=180) for _ in runs)
    for run in runs:
        run.join(timeout=30)
        assert run.exitcode == 0

    # One deregister call, recorded once; one unsubscribe; the channel offboarded.
    assert len(sim.calls(f"/{number['phone_number_id']}/deregister$")) == 1
    (call,) = pg_store_env.lifecycle_calls.recent(channel.id, DEREGISTER)
    assert call.outcome == "success"
    deletes = [c for c in sim.calls(f"/{number['waba_id']}/subscribed_apps$") if c["method"] == "DELETE"]
    assert len(deletes) == 1
    stored = pg_store_env.channels.by_id(channel.id)
    assert not stored.active and stored.offboarded_at is not None

    # The run that sent it (the first, unless the machine delayed it) did it all; the other one
    # ended at its first task, naming that run and sending nothing.
    winner = call.run_id
    (loser,) = set(states) - {winner}
    assert states[winner] == {"deregister": "success", "deactivate_and_unsubscribe": "success"}
    ((task, state),) = states[loser].items()
    assert task == "deregister" and state.startswith("skipped: ")
    assert f"run {winner} " in state and state.endswith("nothing sent")
