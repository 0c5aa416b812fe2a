"""Pytest fixtures for the Graph API simulator: one process per session, clean state per test."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from include.graph_simulator.process import RunningSimulator, SimulatorControl, SimulatorProcess

GRAPH_CONN_ENV = "AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT"
CALLBACK_URL = "https://hooks.example.test/whatsapp"


@pytest.fixture(scope="session")
def simulator_process() -> Iterator[RunningSimulator]:
    """The real simulator subprocess, on a free loopback port, for the whole session."""
    with SimulatorProcess() as running:
        yield running


@pytest.fixture
def sim(simulator_process: RunningSimulator) -> SimulatorControl:
    """The control client, after ``POST /_sim/reset``: no numbers, no faults, clock at start."""
    simulator_process.control.reset()
    return simulator_process.control


def graph_connection(base_url: str, control: SimulatorControl, **extra: object) -> str:
    """The ``whatsapp_graph`` connection (as Airflow's JSON env format) for the simulator."""
    return json.dumps(
        {
            "conn_type": "whatsapp_graph",
            "host": base_url,
            "login": control.app_id,
            "password": control.app_secret,
            "extra": {"api_version": "v24.0", "callback_url": CALLBACK_URL, **extra},
        }
    )


@pytest.fixture
def graph_conn_env(
    monkeypatch: pytest.MonkeyPatch, simulator_process: RunningSimulator, sim: SimulatorControl
) -> str:
    """Points ``whatsapp_graph_default`` at the simulator; returns the connection JSON.

    The simulator then refuses business-token calls without a valid ``appsecret_proof``, as
    Meta does for apps with "Require App Secret" on: every DAG test runs that way.
    """
    sim.configure(require_appsecret_proof=True)
    value = graph_connection(simulator_process.base_url, sim)
    monkeypatch.setenv(GRAPH_CONN_ENV, value)
    return value
