"""The few Airflow REST API calls the end-to-end test makes, as an operator's script would make them.

Only the public API (``/auth/token``, ``/api/v2``) and the provider's ``/whatsapp`` API are
used: the test drives Airflow from the outside, the way users and the *Complete registration*
button do, never through Airflow's Python internals.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from include.airflow_processes import build_execution_api
from tests.e2e.stack import AirflowStack, wait_for

#: Run states after which nothing more happens to a DAG run.
FINISHED_RUN_STATES = frozenset({"success", "failed"})


class AirflowApi:
    """A logged-in client of one stack's API server (JWT from ``POST /auth/token``)."""

    def __init__(self, stack: AirflowStack) -> None:
        self.stack = stack
        self.http = httpx.Client(base_url=stack.api_url, timeout=30.0)

    def wait_until_up(self, timeout: float) -> None:
        """The API server answers ``/api/v2/version`` (it needs the migrated database and plugins),
        and its Execution API is built (:func:`include.airflow_processes.build_execution_api`)."""

        def up() -> bool:
            self.stack.check_alive()
            return self.http.get("/api/v2/version").status_code == 200

        started = time.monotonic()
        wait_for("the API server", up, timeout=timeout)
        build_execution_api(self.stack.api_url, timeout=max(timeout - (time.monotonic() - started), 2))

    def login(self) -> str:
        response = self.http.post(
            "/auth/token", json={"username": "admin", "password": self.stack.admin_password}
        )
        assert response.status_code in (200, 201), (
            f"POST /auth/token -> {response.status_code}: {response.text}"
        )
        token = response.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.is_success, f"{method} {path} -> {response.status_code}: {response.text}"
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """The DAG processor has parsed and serialized the DAG, so the scheduler can run it."""

        def parsed() -> bool:
            self.stack.check_alive()
            return self.request("GET", f"/api/v2/dags/{dag_id}/details").status_code == 200

        wait_for(f"DAG {dag_id} to be parsed", parsed, timeout=timeout)

    def unpause(self, dag_id: str) -> None:
        body = self.ok("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert body["is_paused"] is False

    def unpause_and_settle(self, dag_id: str, timeout: float) -> None:
        """Unpause a scheduled DAG and wait out the run that unpausing starts.

        A DAG paused since it was parsed has its next run due already: the scheduler creates that
        run as soon as it sees the DAG unpaused, and it would run beside whatever the test does next.
        Once the DAG's next run is no longer due, the scheduler has made it (or there was none).
        """
        before = self.run_ids(dag_id)
        self.unpause(dag_id)

        def next_run_not_due() -> bool:
            run_after = self.ok("GET", f"/api/v2/dags/{dag_id}")["next_dagrun_run_after"]
            return run_after is None or datetime.fromisoformat(run_after) > datetime.now(UTC)

        wait_for(f"the scheduler to start {dag_id}'s due run", next_run_not_due, timeout=timeout)
        self.wait_for_runs(dag_id, sorted(self.run_ids(dag_id) - before), timeout)

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> httpx.Response:
        """``POST .../dagRuns``; the raw response, since a refused conf is an expected outcome."""
        return self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}
        )

    def trigger_ok(self, dag_id: str, conf: dict[str, Any]) -> str:
        response = self.trigger(dag_id, conf)
        assert response.status_code == 200, f"trigger {dag_id} -> {response.status_code}: {response.text}"
        return str(response.json()["dag_run_id"])

    def post_signup(self, signup: dict[str, Any]) -> dict[str, str]:
        """``POST /whatsapp/api/v1/signups``, the way Airflow's API starts an onboarding: the signup
        is stored (its code encrypted) and its run queued; returns ``{"signup_id", "dag_run_id"}``."""
        return self.ok("POST", "/whatsapp/api/v1/signups", json=signup)

    def _all_pages(self, path: str, key: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a list endpoint: it returns at most ``[api] maximum_page_limit`` (100) a request."""
        found: list[dict[str, Any]] = []
        while True:
            body = self.ok("GET", path, params={**(params or {}), "limit": 100, "offset": len(found)})
            found.extend(body[key])
            if not body[key] or len(found) >= body["total_entries"]:
                return found

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id`` (``~``: of every DAG), oldest first."""
        return self._all_pages(f"/api/v2/dags/{dag_id}/dagRuns", "dag_runs")

    def run_ids(self, dag_id: str) -> set[str]:
        """The ids of every run of ``dag_id``: a test on the shared stack takes this before it acts and
        compares afterwards, so runs of earlier tests never count as its own."""
        return {run["dag_run_id"] for run in self.dag_runs(dag_id)}

    def pause(self, dag_id: str) -> None:
        body = self.ok("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": True})
        assert body["is_paused"] is True

    def unpaused_dags(self) -> list[str]:
        return [dag["dag_id"] for dag in self._all_pages("/api/v2/dags", "dags", {"paused": False})]

    def fail_run(self, dag_id: str, run_id: str) -> None:
        """Mark a run failed (Airflow fails or skips its unfinished tasks and stops running ones)."""
        self.ok("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The Asset events an asset-triggered run consumed (``source_dag_id``, ``source_run_id``, ...)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents"
        return self.ok("GET", path)["asset_events"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.ok("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run as the API returns it (state, map index, hostname, ...).

        Paged: the API returns at most ``[api] maximum_page_limit`` (100) per request.
        """
        return self._all_pages(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id or task_id[map_index]: state}`` for every task instance of a run."""
        body = self.ok("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {
            ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]": ti["state"]
            for ti in body["task_instances"]
        }

    def try_numbers(self, dag_id: str, run_id: str) -> dict[str, int]:
        body = self.ok("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["try_number"] for ti in body["task_instances"]}

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        body = self.ok("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        return body["state"]

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout: float) -> dict[str, str]:
        """Wait until every run finished; the error names the unfinished ones and their tasks' states."""
        states: dict[str, str] = {}

        def finished() -> bool:
            self.stack.check_alive()
            states.update({run_id: self.run_state(dag_id, run_id) for run_id in run_ids})
            return all(state in FINISHED_RUN_STATES for state in states.values())

        try:
            wait_for(f"{dag_id} runs {run_ids} to finish", finished, timeout=timeout, interval=1.0)
        except TimeoutError as exc:
            detail = {
                run: self.task_states(dag_id, run)
                for run, s in states.items()
                if s not in FINISHED_RUN_STATES
            }
            raise TimeoutError(f"{exc}\nrun states: {states}\nunfinished runs' tasks: {detail}") from None
        return states

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, wanted: str, timeout: float
    ) -> float:
        """Wait until a task instance reaches ``wanted``; returns the seconds it took."""
        started = time.monotonic()
        seen: list[str | None] = []

        def reached() -> bool:
            self.stack.check_alive()
            state = self.task_state(dag_id, run_id, task_id)
            if not seen or seen[-1] != state:
                seen.append(state)
            if state in {"failed", "upstream_failed", "success"} and state != wanted:
                raise AssertionError(f"{task_id} ended {state} while waiting for {wanted}; states {seen}")
            return state == wanted

        try:
            wait_for(f"{dag_id}.{task_id} in {run_id} to be {wanted}", reached, timeout=timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; states seen: {seen}") from None
        return time.monotonic() - started

    def close(self) -> None:
        self.http.close()
