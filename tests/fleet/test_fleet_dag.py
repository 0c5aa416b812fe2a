"""The fleet DAGs with ``dag.test()`` against the simulator and a PostgreSQL store."""

from __future__ import annotations

import collections
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from include.graph_simulator.process import SimulatorControl
from tests.fleet.fleet_mix import Kind, SeededNumber, seed
from tests.store.helpers import set_registration
from tests.support.airflow_fixtures import fresh_dag
from whatsapp.domain.registration import RegistrationState
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def fleet_run(dagbag: Any, graph_conn_env: str, pg_store_env: ChannelStore) -> Callable[..., Any]:
    def run(**conf: Any) -> Any:
        return fresh_dag("whatsapp_fleet_health").test(run_conf=conf)

    return run


def register_calls(sim: SimulatorControl) -> collections.Counter[str]:
    return collections.Counter(call["path"].split("/")[-2] for call in sim.calls("/register$"))


def time_travel(store: ChannelStore, hours: float) -> None:
    """Make every scheduled retry due, as if ``hours`` had passed (attempt times stay real)."""
    with store.engine.begin() as conn:
        if store.target.schema:
            conn.execute(text(f'SET LOCAL search_path TO "{store.target.schema}"'))
        conn.execute(
            text(
                "UPDATE channels SET next_attempt_at = next_attempt_at - :delta"
                " WHERE next_attempt_at IS NOT NULL"
            ),
            {"delta": timedelta(hours=hours)},
        )


def states(store: ChannelStore, numbers: dict[int, SeededNumber]) -> dict[Kind, collections.Counter[tuple]]:
    by_kind: dict[Kind, collections.Counter[tuple]] = collections.defaultdict(collections.Counter)
    for status in store.fleet.statuses():
        channel = status.channel
        reason = channel.reauthorization_reason.value if channel.reauthorization_reason else None
        by_kind[numbers[channel.id].kind][
            (channel.provisioning, channel.registration_state.value, reason)
        ] += 1
    return by_kind


def test_mixed_fleet_of_500_ends_as_the_spec_says(
    fleet_run, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    numbers = seed(sim, pg_store_env, 500)
    dag_run = fleet_run(max_registrations=200)
    tis = {(ti.task_id, ti.map_index): str(ti.state) for ti in dag_run.get_task_instances()}
    by_kind = states(pg_store_env, numbers)

    assert by_kind[Kind.PROVISIONED] == {("provisioned", "registered", None): 300}
    assert by_kind[Kind.YELLOW] == {("provisioned", "registered", None): 25}
    assert by_kind[Kind.RED_FLAGGED] == {("provisioned", "registered", None): 25}
    # Pending with an approved name: registered by the retry task (the simulator provisions at once).
    assert by_kind[Kind.PENDING] == {("provisioned", "registered", None): 50}  # verified after the call
    # Name in review: no call spent, retry scheduled, flagged as incomplete.
    assert by_kind[Kind.NAME_IN_REVIEW] == {("pending", "scheduled", "registration_incomplete"): 50}
    assert by_kind[Kind.NAME_DECLINED] == {("pending", "needs_attention", "registration_incomplete"): 25}
    assert by_kind[Kind.EXPIRED_TOKEN] == {(None, "unknown", "token_invalid"): 25}

    calls = register_calls(sim)
    pending = {n.phone_number_id for n in numbers.values() if n.kind is Kind.PENDING}
    assert set(calls) == pending and set(calls.values()) == {1}
    retries = [state for (task, _), state in tis.items() if task == "retry_registration"]
    assert collections.Counter(retries) == {
        "success": 100,
        "failed": 25,
    }  # 50 registered + 50 waiting; 25 declined
    assert tis[("summary", -1)] == "success"
    assert [key for key in tis if key[0] == "audit"] == [("audit", 0)]  # 500 channels: one shard
    some_channel = next(iter(numbers))
    assert dag_run.run_id in {check.run_id for check in pg_store_env.health.history(some_channel)}
    summary = pg_store_env.fleet.latest_summary().counts
    assert summary == pg_store_env.fleet.counts()


def test_audit_shards_asked_for_split_the_fleet_and_are_named_in_the_grid(
    fleet_run, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    numbers = seed(sim, pg_store_env, 60)
    dag_run = fleet_run(audit_shards=3, max_registrations=0)
    audits = sorted(
        (ti for ti in dag_run.get_task_instances() if ti.task_id == "audit"), key=lambda ti: ti.map_index
    )
    assert [ti.rendered_map_index for ti in audits] == ["shard 1 of 3", "shard 2 of 3", "shard 3 of 3"]
    assert {str(ti.state) for ti in audits} == {"success"}
    reports = [ti.xcom_pull(task_ids="audit", map_indexes=ti.map_index) for ti in audits]
    assert sum(report["channels"] for report in reports) == len(numbers)
    assert all(report["channels"] > 0 for report in reports)


def test_a_backlog_beyond_max_retry_tasks_drains_in_one_run_in_named_chunks(
    fleet_run, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    numbers = seed(sim, pg_store_env, 200)  # 20 never registered with an approved name
    pending = {n.phone_number_id for n in numbers.values() if n.kind is Kind.PENDING}
    dag_run = fleet_run(max_retry_tasks=3)
    retries = [ti for ti in dag_run.get_task_instances() if ti.task_id == "retry_registration"]
    # 20 pending + 20 in review + 10 declined due: 3 chunks of 17, 17 and 16, each named by its ends.
    assert sorted(len(ti.rendered_map_index.split(" .. ")) for ti in retries) == [2, 2, 2]
    assert sorted(int(ti.rendered_map_index.rsplit("(", 1)[1].rstrip(")")) for ti in retries) == [16, 17, 17]
    assert register_calls(sim) == {phone: 1 for phone in pending}  # one call per number, in one run
    by_kind = states(pg_store_env, numbers)
    assert by_kind[Kind.PENDING] == {("provisioned", "registered", None): 20}
    assert by_kind[Kind.NAME_DECLINED] == {("pending", "needs_attention", "registration_incomplete"): 10}


def test_chunks_are_even_and_keep_the_order() -> None:
    from whatsapp.operators.fleet import chunk_evenly

    assert chunk_evenly(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert chunk_evenly(list(range(2)), 200) == [[0], [1]]
    assert chunk_evenly([], 5) == []


def test_backoff_budget_and_due_only_retries(
    fleet_run, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    # Three numbers whose certificate never comes (name NONE: 100/2388001 on every register call).
    stuck = [sim.add_number(name_status="NONE") for _ in range(3)]
    waiting = sim.add_number(name_status="PENDING_REVIEW", review_seconds=3600)
    for number in [*stuck, waiting]:
        pg_store_env.channels.upsert(
            account_id=1,
            phone_number_id=number["phone_number_id"],
            waba_id=number["waba_id"],
            business_id=number["business_id"],
            access_token=sim.new_token(number["waba_id"]),
        )
    fleet_run()
    assert register_calls(sim) == {n["phone_number_id"]: 1 for n in stuck}

    fleet_run()  # inside the backoff window: nothing is due
    assert register_calls(sim) == {n["phone_number_id"]: 1 for n in stuck}

    sim.advance(3601)  # the review of `waiting` completes
    time_travel(pg_store_env, hours=1)
    fleet_run()  # every due channel is retried once, the approved one registers
    calls = register_calls(sim)
    assert calls == {**{n["phone_number_id"]: 2 for n in stuck}, waiting["phone_number_id"]: 1}

    for _ in range(8):  # keep failing: never more than 8 calls per number in 72 h
        time_travel(pg_store_env, hours=13)
        fleet_run()
    calls = register_calls(sim)
    assert {calls[n["phone_number_id"]] for n in stuck} == {8}
    for number in stuck:
        channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
        assert len(pg_store_env.attempts.recent(channel.id)) == 8
        assert channel.next_attempt_at is not None


def test_provisioned_numbers_meta_reports_expired_or_not_verified_get_no_register_call(
    fleet_run, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    """A live number is never registered for its ``code_verification_status``."""
    live = {"platform_type": "CLOUD_API", "throughput_level": "STANDARD", "status": "CONNECTED"}
    numbers = [
        sim.add_number(name_status="APPROVED", code_verification_status=status, **live)
        for status in ("EXPIRED", "NOT_VERIFIED") * 10
    ]
    for i, number in enumerate(numbers):
        channel = pg_store_env.channels.upsert(
            account_id=1,
            phone_number_id=number["phone_number_id"],
            waba_id=number["waba_id"],
            business_id=number["business_id"],
            access_token=sim.new_token(number["waba_id"]),
        )
        if i % 2:  # half of them even look due for a retry (as an older release left them)
            set_registration(
                pg_store_env, channel.id, RegistrationState.SCHEDULED, next_attempt_at=datetime.now(UTC)
            )
    for _ in range(10):
        fleet_run()
        time_travel(pg_store_env, hours=13)
    assert register_calls(sim) == {}
    assert sim.calls("/register$") == []
    for status in pg_store_env.fleet.statuses():
        assert status.channel.registration_state is RegistrationState.REGISTERED
        assert status.channel.provisioning == "provisioned" and not status.channel.reauthorization_required
        assert status.registration.attempts_72h == 0
