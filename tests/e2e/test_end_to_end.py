"""Onboarding and fleet health on a real, running Airflow, driven only through its REST API.

The stack (``tests/e2e/shared.py``, shared by this package's tests and reset for each):
``airflow api-server``, ``scheduler`` (CeleryExecutor, two workers), ``dag-processor`` and
``triggerer`` on loopback, fresh PostgreSQL databases for Airflow's metadata and the channel
store, and the Graph API simulator. A bad conf sent to
``POST /api/v2/dags/whatsapp_onboarding/dagRuns`` is refused at the door (400, no run). Two
signups go in through the signup intake (``POST /whatsapp/api/v1/signups``, the way the API
starts onboardings): one approved, one whose display name is still in review (it must wait
*deferred in the triggerer* and register only after the review ends). Then the fleet health DAG
runs, and the store, the provider's health API and the simulator's request log must all tell
the same story. Last, a fourth signup goes in through the intake and, once onboarded, Airflow's
metadata database (every table, ``dag_run`` and ``log`` included), every log the stack wrote
and a dump of the store are scanned for secrets, the codes of all four numbers included.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from tests.e2e.rest import AirflowApi
from tests.e2e.shared import TASKS_TIMEOUT, SharedStack, store_of
from tests.e2e.stack import AirflowStack, wait_for
from tests.onboarding.test_no_secret_leaks import (
    leaks_in,
    log_files_text,
    log_sizes,
    metadata_db_text,
    number_secrets,
    store_dump,
    stored_ciphertexts,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ONBOARDING = "whatsapp_onboarding"
FLEET = "whatsapp_fleet_health"
#: Simulated seconds Meta's review of the second number takes (the clock only moves when told).
REVIEW_SECONDS = 3600


def calls_for(sim: SimulatorControl, pattern: str, method: str | None = None) -> list[dict[str, Any]]:
    return [c for c in sim.calls(pattern) if method is None or c["method"] == method]


def test_three_signups_and_fleet_health_on_a_running_airflow(e2e: SharedStack) -> None:
    started = time.monotonic()
    run_scenario(e2e.stack, e2e.api, e2e.sim, log_sizes(e2e.stack.run_dir))
    print(f"end-to-end test took {time.monotonic() - started:.0f}s; logs in {e2e.stack.run_dir}")


def phase(started: float, what: str) -> None:
    """Timings in the captured output, to tell a slow machine from a hang when a wait times out."""
    print(f"[e2e +{time.monotonic() - started:5.1f}s] {what}")


def run_scenario(
    stack: AirflowStack, api: AirflowApi, sim: SimulatorControl, logs_before: dict[Path, int]
) -> None:
    """The whole story; ``logs_before``: the stack's log sizes when it began (the leak check reads
    only what this test made the stack write)."""
    started = time.monotonic()
    api.unpause(ONBOARDING)
    earlier_runs = api.run_ids(ONBOARDING)  # of earlier tests on the shared stack

    approved = sim.add_number(name_status="APPROVED")
    in_review = sim.add_number(name_status="PENDING_REVIEW", review_seconds=REVIEW_SECONDS)
    bad = sim.add_number(name_status="APPROVED")
    review_phone = in_review["phone_number_id"]

    # 1. A bad conf is refused by the API itself: 400 naming the param, no run, no Graph call.
    refused = api.trigger(ONBOARDING, onboarding_conf(bad, account_id=0))
    assert refused.status_code == 400, refused.text
    assert "account_id" in refused.text and bad["code"] not in refused.text
    assert api.run_ids(ONBOARDING) == earlier_runs

    # 2. Two good signups at once, through the intake; their runs' confs hold no code.
    approved_signup = api.post_signup(onboarding_conf(approved))
    review_signup = api.post_signup(onboarding_conf(in_review, name_poke_interval=1))
    approved_run, review_run = approved_signup["dag_run_id"], review_signup["dag_run_id"]
    confs = {
        run: api.ok("GET", f"/api/v2/dags/{ONBOARDING}/dagRuns/{run}")["conf"]
        for run in (approved_run, review_run)
    }
    assert confs == {
        approved_run: {"signup_id": approved_signup["signup_id"]},
        review_run: {"signup_id": review_signup["signup_id"], "name_poke_interval": 1},
    }

    # 3. The in-review one waits in the triggerer, polling, without spending a register call.
    api.wait_for_task_state(ONBOARDING, review_run, "wait_for_display_name", "deferred", TASKS_TIMEOUT)
    polls_before = len(calls_for(sim, f"/{review_phone}$", "GET"))
    wait_for(
        "the trigger to poll the display name twice",
        lambda: len(calls_for(sim, f"/{review_phone}$", "GET")) >= polls_before + 2,
        timeout=60,
    )
    assert api.task_state(ONBOARDING, review_run, "wait_for_display_name") == "deferred"
    phase(started, "in-review signup deferred, trigger polling")
    assert calls_for(sim, f"/{review_phone}/register$") == [], "register was called while in review"
    # Airflow 3.3 race (apache/airflow#72716): should the trigger fire before the scheduler has
    # drained the executor's "success" of the deferring attempt, the resumed attempt is failed as
    # "state changed externally" and retried. A real review takes hours; this one ends on
    # command, so let the scheduler see the deferral first.
    deferral = ("TaskInstance Finished:", "task_id=wait_for_display_name,", f"run_id={review_run},")
    stack.wait_for_log("scheduler", (*deferral, "state=deferred"), timeout=60)
    review_end = sim.advance(REVIEW_SECONDS + 1)["now"]
    phase(started, "review over (simulator clock advanced)")

    states = api.wait_for_runs(ONBOARDING, [approved_run, review_run], TASKS_TIMEOUT)
    assert states == {approved_run: "success", review_run: "success"}, {
        run: api.task_states(ONBOARDING, run) for run in states
    }
    assert api.task_states(ONBOARDING, review_run)["register"] == "success"
    for run in (approved_run, review_run):
        retried = {task: n for task, n in api.try_numbers(ONBOARDING, run).items() if n != 1}
        assert not retried, f"tasks of {run} needed retries on a healthy simulator: {retried}"
    # The refused conf never became a run.
    assert api.run_ids(ONBOARDING) - earlier_runs == {approved_run, review_run}
    phase(started, "both signups onboarded")

    # 4. The fleet audit over both channels.
    api.unpause_and_settle(FLEET, TASKS_TIMEOUT)  # the schedule's due run, if any, first and alone
    fleet_run = api.trigger_ok(FLEET, {})
    fleet_states = api.wait_for_runs(FLEET, [fleet_run], TASKS_TIMEOUT)
    assert fleet_states[fleet_run] == "success", api.task_states(FLEET, fleet_run)
    phase(started, "fleet health run done")

    check_store(stack, approved, in_review, bad)
    check_simulator_log(sim, approved, in_review, bad, review_end)
    check_health_api(stack, api, approved, in_review)

    # 5. One more signup through the intake, then a scan of everything the stack kept for secrets.
    check_intake_leaves_no_secret(
        stack, api, sim, earlier=[approved, in_review], refused=bad, logs_before=logs_before
    )
    phase(started, "intake signup onboarded, no secret found anywhere")


def check_store(stack: AirflowStack, *numbers: dict[str, Any]) -> None:
    """Both good numbers provisioned and registered once, audited by the fleet run; the bad one absent."""
    approved, in_review, bad = numbers
    store = store_of(stack)
    try:
        assert len(store.fleet.statuses()) == 2
        assert store.channels.by_phone_number(bad["phone_number_id"]) is None
        for number in (approved, in_review):
            channel = store.channels.by_phone_number(number["phone_number_id"])
            assert channel is not None, number
            assert channel.account_id == 1 and channel.waba_id == number["waba_id"]
            assert channel.provisioning == "provisioned"
            assert channel.registration_state.value == "registered"
            assert channel.reauthorization_required is False
            assert [a.outcome for a in store.attempts.recent(channel.id)] == ["success"]
            # One snapshot from the onboarding's health check, one from the fleet audit.
            assert len(store.health.history(channel.id)) >= 2
        summary = store.fleet.latest_summary()
        assert summary is not None, "the fleet run stored no summary"
    finally:
        store.dispose()


def check_simulator_log(
    sim: SimulatorControl,
    approved: dict[str, Any],
    in_review: dict[str, Any],
    bad: dict[str, Any],
    review_end: str,
) -> None:
    """One successful register per number, the in-review one only after its review; nothing for ``bad``."""
    for number in (approved, in_review):
        registers = calls_for(sim, f"/{number['phone_number_id']}/register$")
        assert [c["status"] for c in registers] == [200], registers
    (late_register,) = calls_for(sim, f"/{in_review['phone_number_id']}/register$")
    assert late_register["sim_time"] >= review_end, (late_register, review_end)  # same ISO format
    assert len(calls_for(sim, "/oauth/access_token$")) == 2  # each good code exchanged once
    assert calls_for(sim, bad["phone_number_id"]) == []
    assert calls_for(sim, bad["waba_id"]) == []


def check_health_api(stack: AirflowStack, api: AirflowApi, *numbers: dict[str, Any]) -> None:
    """The provider's API (in the API server, same login as Airflow) shows both channels healthy."""
    store = store_of(stack)
    try:
        inboxes = {
            n["phone_number_id"]: store.channels.by_phone_number(n["phone_number_id"]) for n in numbers
        }
    finally:
        store.dispose()
    for phone, channel in inboxes.items():
        assert channel is not None
        path = f"/whatsapp/api/v1/accounts/{channel.account_id}/inboxes/{channel.inbox_id}/health"
        health = api.ok("GET", path)
        assert health["phone_number_id"] == phone
        assert health["provisioning"] == "provisioned"
        assert health["name_status"] == "APPROVED"
        assert health["reauthorization_required"] is False
        assert health["registration"]["state"] == "registered"
        unauthenticated = httpx.get(f"{stack.api_url}{path}", timeout=30)
        assert unauthenticated.status_code == 401, unauthenticated.text


def check_intake_leaves_no_secret(
    stack: AirflowStack,
    api: AirflowApi,
    sim: SimulatorControl,
    earlier: list[dict[str, Any]],
    refused: dict[str, Any],
    logs_before: dict[Path, int],
) -> None:
    """Onboard a number through the intake; then no code, token, PIN, verify token or app secret
    (nor a ciphertext of one in a log) is in the metadata database, the logs or the store dump:
    neither this number's nor the earlier intake signups' nor the code of the conf the door
    refused (Airflow's event log never saw that request).
    """
    number = sim.add_number(name_status="APPROVED")
    answer = api.post_signup(onboarding_conf(number, account_id=2))
    store = store_of(stack)
    try:
        ciphertexts = stored_ciphertexts(store)  # the code's too, unless the run already spent it
        states = api.wait_for_runs(ONBOARDING, [answer["dag_run_id"]], TASKS_TIMEOUT)
        assert states[answer["dag_run_id"]] == "success", api.task_states(ONBOARDING, answer["dag_run_id"])
        pending = store.signups.pending(answer["signup_id"])
        assert pending is not None and not pending.code_held  # spent and deleted
        ciphertexts.update(stored_ciphertexts(store))
        secrets = {"app secret": "sim-app-secret", f"code {refused['phone_number_id']}": refused["code"]}
        for onboarded in (*earlier, number):
            secrets.update(number_secrets(sim, store, onboarded))
        dump = store_dump(store)
    finally:
        store.dispose()
    run = api.ok("GET", f"/api/v2/dags/{ONBOARDING}/dagRuns/{answer['dag_run_id']}")
    assert run["conf"] == {"signup_id": answer["signup_id"]}
    logs = {"stack logs": log_files_text(stack.run_dir, since=logs_before)}
    meta = metadata_db_text(
        skip=(), url=stack.pg_admin_url.set(database=stack.meta_db).render_as_string(False)
    )
    assert answer["signup_id"] in meta and "whatsapp_signup_intake" in meta  # dag_run and log were read
    assert "Channel saved" in logs["stack logs"]  # ... and the intake run's task logs
    assert leaks_in({**logs, "metadata database": meta, "store dump": dump}, secrets) == []
    assert leaks_in({**logs, "metadata database": meta}, ciphertexts) == []
