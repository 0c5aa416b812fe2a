"""The provider on CeleryExecutor: two ``airflow celery worker`` processes share every DAG's tasks.

The package's shared stack (``tests/e2e/shared.py``) runs on the settings docker-compose.yaml
uses: Redis on 127.0.0.1:6379 as broker, PostgreSQL as result backend, metadata database and
channel store. Each worker reports its own name as the task instances' ``hostname``, so the test
can tell that both ran audit shards and registration retries; since they are separate processes
with separate environments, the only state they can share is the PostgreSQL store (no
worker-local SQLite file is ever created).

Operations ride along: StatsD is on (a UDP listener of the stack receives Airflow's metrics, the
provider's ``whatsapp.*`` among them), and ``whatsapp_fleet_digest``, scheduled on the fleet
summary Asset, must run on an event of this test's fleet runs.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from tests.e2e.rest import AirflowApi
from tests.e2e.shared import TASKS_TIMEOUT, WORKERS, SharedStack, StatsdListener, store_of
from tests.e2e.stack import AirflowStack, wait_for
from tests.fleet.fleet_mix import SPECS, Kind

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ONBOARDING = "whatsapp_onboarding"
FLEET = "whatsapp_fleet_health"
REGISTER = "whatsapp_register_channel"
DIGEST = "whatsapp_fleet_digest"
AUDIT_SHARDS = 4
#: Seeded channels: healthy ones for the audit, never-registered ones the fleet run retries.
PROVISIONED, PENDING, IN_REVIEW = 8, 6, 2
#: Per Graph request during the fleet run: long enough that a task outlives the others' start.
GRAPH_LATENCY_MS = 1000


@pytest.mark.timeout(480)
def test_two_celery_workers_share_onboarding_fleet_and_register(e2e: SharedStack) -> None:
    started = time.monotonic()
    run_scenario(e2e.stack, e2e.api, e2e.sim, started)
    check_metrics(e2e.statsd)
    print(f"Celery end-to-end test took {time.monotonic() - started:.0f}s; logs in {e2e.stack.run_dir}")


def phase(started: float, what: str) -> None:
    print(f"[celery +{time.monotonic() - started:5.1f}s] {what}")


def hostnames(tis: list[dict[str, Any]], task_id: str) -> collections.Counter[str]:
    """Who ran ``task_id``'s instances (a skipped one never ran anywhere)."""
    return collections.Counter(
        ti["hostname"] for ti in tis if ti["task_id"] == task_id and ti["state"] == "success"
    )


def run_scenario(stack: AirflowStack, api: AirflowApi, sim: SimulatorControl, started: float) -> None:
    # The hourly schedule's run that unpausing the fleet DAG starts (on the stack's first unpause)
    # ends before this test does anything: beside the onboarding it found the number being onboarded
    # due for a retry, beside the seeding some seeded numbers (one retry task more than expected).
    api.unpause_and_settle(FLEET, TASKS_TIMEOUT)
    earlier_fleet_runs, earlier_digest_runs = api.run_ids(FLEET), api.run_ids(DIGEST)
    for dag_id in (ONBOARDING, REGISTER, DIGEST):
        api.unpause(dag_id)

    # 1. Onboarding through a worker (the signup intake queues the run).
    approved = sim.add_number(name_status="APPROVED")
    onboarding_run = api.post_signup(onboarding_conf(approved))["dag_run_id"]
    assert api.wait_for_runs(ONBOARDING, [onboarding_run], TASKS_TIMEOUT)[onboarding_run] == "success", (
        api.task_states(ONBOARDING, onboarding_run)
    )
    onboarding_hosts = {ti["hostname"] for ti in api.task_instances(ONBOARDING, onboarding_run)}
    assert onboarding_hosts <= WORKERS, onboarding_hosts
    phase(started, f"onboarded on {sorted(onboarding_hosts)}")

    # 2. A fleet to audit in 4 shards, with never-registered numbers to retry (one mapped task each).
    seeded = seed_channels(stack, sim)
    # Slow Graph down so tasks overlap: 4 slots in all, each worker holds at most 2 tasks (Airflow's
    # Celery prefetch of 1 with late acks), so overlapping shards and retries must reach both.
    sim.configure(latency_ms=GRAPH_LATENCY_MS)
    fleet_run = api.trigger_ok(FLEET, {"audit_shards": AUDIT_SHARDS})
    # No other fleet run: the schedule's next one is an hour away.
    assert sorted(api.run_ids(FLEET) - earlier_fleet_runs) == [fleet_run]
    fleet_state = api.wait_for_runs(FLEET, [fleet_run], TASKS_TIMEOUT)[fleet_run]
    assert fleet_state == "success", api.task_states(FLEET, fleet_run)
    tis = api.task_instances(FLEET, fleet_run)
    # "skipped": a task mapped over nothing (no number due) never ran.
    assert {ti["state"] for ti in tis} <= {"success", "skipped"}, api.task_states(FLEET, fleet_run)
    audit_hosts, retry_hosts = hostnames(tis, "audit"), hostnames(tis, "retry_registration")
    assert audit_hosts.total() == AUDIT_SHARDS
    assert retry_hosts.total() == PENDING + IN_REVIEW  # one mapped task per due number
    assert set(audit_hosts) == WORKERS, f"audit shards ran on {audit_hosts}"
    assert set(retry_hosts) == WORKERS, f"registration retries ran on {retry_hosts}"
    phase(started, f"fleet run: audit shards on {dict(audit_hosts)}, retries on {dict(retry_hosts)}")

    # The summary Asset the fleet run updated schedules the digest DAG, on its event.
    def digest_of_this_fleet_run() -> list[dict[str, Any]]:
        new = [run for run in api.dag_runs(DIGEST) if run["dag_run_id"] not in earlier_digest_runs]
        consumed = {
            (event["source_dag_id"], event["source_run_id"])
            for run in new
            for event in api.upstream_asset_events(DIGEST, run["dag_run_id"])
        }
        return new if (FLEET, fleet_run) in consumed else []

    digest_runs = wait_for(
        "a whatsapp_fleet_digest run on this test's fleet run", digest_of_this_fleet_run, timeout=60
    )
    assert {run["run_type"] for run in digest_runs} == {"asset_triggered"}, digest_runs
    digest_ids = [run["dag_run_id"] for run in digest_runs]
    assert set(api.wait_for_runs(DIGEST, digest_ids, TASKS_TIMEOUT).values()) == {"success"}
    phase(started, f"{len(digest_ids)} asset-triggered digest run(s) done")

    # 3. Review over for one waiting number: the register DAG ("Complete registration") on a worker.
    sim.advance(SPECS[Kind.NAME_IN_REVIEW]["review_seconds"] + 1)
    waiting = seeded[Kind.NAME_IN_REVIEW][0]
    register_run = api.trigger_ok(
        REGISTER, {"account_id": waiting["account_id"], "inbox_id": waiting["inbox_id"]}
    )
    assert api.wait_for_runs(REGISTER, [register_run], TASKS_TIMEOUT)[register_run] == "success", (
        api.task_states(REGISTER, register_run)
    )
    assert {ti["hostname"] for ti in api.task_instances(REGISTER, register_run)} <= WORKERS
    phase(started, "register DAG done")

    check_shared_store(stack, sim, approved, seeded)


def check_metrics(statsd: StatsdListener) -> None:
    """The provider's metrics reached StatsD under Airflow's prefix: counts by state, register outcomes."""
    metrics = wait_for(
        "whatsapp metrics over StatsD",
        lambda: (
            (m := statsd.whatsapp()) and any(name.startswith("whatsapp.register.") for name, _, _ in m) and m
        ),
        timeout=30,
    )
    gauges = {name: int(float(value)) for name, value, kind in metrics if kind == "g"}
    # After the fleet run: all registered but the 2 numbers whose name is in review.
    assert gauges["whatsapp.channels.registration_state.registered"] == 1 + PROVISIONED + PENDING, gauges
    assert gauges["whatsapp.channels.total"] == 1 + PROVISIONED + PENDING + IN_REVIEW
    outcomes = collections.Counter(
        name for name, _, kind in metrics if kind == "c" and name.startswith("whatsapp.register.")
    )
    assert sum(outcomes.values()) >= PENDING + IN_REVIEW, outcomes
    assert any(name == "whatsapp.audit.duration" and kind == "ms" for name, _, kind in metrics)


def seed_channels(stack: AirflowStack, sim: SimulatorControl) -> dict[Kind, list[dict[str, Any]]]:
    """Channels as earlier signups left them, written through the store's public API."""
    seeded: dict[Kind, list[dict[str, Any]]] = collections.defaultdict(list)
    store = store_of(stack)
    try:
        for kind, count in (
            (Kind.PROVISIONED, PROVISIONED),
            (Kind.PENDING, PENDING),
            (Kind.NAME_IN_REVIEW, IN_REVIEW),
        ):
            for _ in range(count):
                number = sim.add_number(**SPECS[kind])
                channel = store.channels.upsert(
                    account_id=2,
                    phone_number_id=number["phone_number_id"],
                    waba_id=number["waba_id"],
                    business_id=number["business_id"],
                    access_token=sim.new_token(number["waba_id"]),
                    display_phone_number=number["display_phone_number"],
                )
                seeded[kind].append(
                    {**number, "account_id": channel.account_id, "inbox_id": channel.inbox_id}
                )
    finally:
        store.dispose()
    return seeded


def check_shared_store(
    stack: AirflowStack,
    sim: SimulatorControl,
    approved: dict[str, Any],
    seeded: dict[Kind, list[dict[str, Any]]],
) -> None:
    """What the workers did is in the one PostgreSQL store; no SQLite file appeared anywhere."""
    store = store_of(stack)
    try:
        statuses = {s.channel.phone_number_id: s for s in store.fleet.statuses()}
        assert len(statuses) == 1 + PROVISIONED + PENDING + IN_REVIEW
        registered = [approved, *seeded[Kind.PENDING], seeded[Kind.NAME_IN_REVIEW][0]]
        for number in registered:
            channel = statuses[number["phone_number_id"]].channel
            assert channel.registration_state.value == "registered", number["phone_number_id"]
        still_waiting = statuses[seeded[Kind.NAME_IN_REVIEW][1]["phone_number_id"]].channel
        assert still_waiting.registration_state.value == "scheduled"
        for number in seeded[Kind.PROVISIONED]:
            assert len(store.health.history(statuses[number["phone_number_id"]].channel.id)) == 1
        assert store.fleet.latest_summary() is not None
    finally:
        store.dispose()
    calls = collections.Counter(
        c["path"].split("/")[-2] for c in sim.calls("/register$") if c["status"] == 200
    )
    assert calls == {n["phone_number_id"]: 1 for n in registered}
    assert not list(stack.run_dir.rglob("*.db")), "a worker-local SQLite file was created"
