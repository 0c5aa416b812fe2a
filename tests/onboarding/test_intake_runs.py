"""Onboarding runs started by the signup intake: conf ``{"signup_id"}``, the code read from the store.

The intake itself is tested in ``tests/api/test_signups.py``; here the store holds what it would
have stored, and ``dag.test()`` runs the DAG on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include.graph_simulator.process import SimulatorControl
from whatsapp.domain.signup import CODE_LIFETIME, Signup
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres


def receive(store: ChannelStore, number: dict[str, Any], *, now: datetime | None = None) -> str:
    keys = ("code", "business_id", "waba_id", "phone_number_id")
    signup = Signup.from_mapping({"account_id": 1, **{key: number[key] for key in keys}})
    return store.signups.receive(signup, now=now).signup_id


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_a_stored_signup_onboards_and_its_code_is_deleted_once_spent(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number = sim.add_number(name_status="APPROVED")
    signup_id = receive(pg_store_env, number)
    dag_run = onboarding(signup_id=signup_id)
    assert str(dag_run.state) == "success", states(dag_run)
    channel = pg_store_env.channels.by_phone_number(number["phone_number_id"])
    assert channel is not None and channel.registration_state.value == "registered"
    assert len(sim.calls("/oauth/access_token")) == 1
    pending = pg_store_env.signups.pending(signup_id)
    assert pending is not None and pending.code_held is False  # the ciphertext is gone
    assert pg_store_env.signups.get(pending.code_digest) is not None  # the token is kept

    again = onboarding(signup_id=signup_id)  # a re-run: the saved token, no second exchange
    assert str(again.state) == "success", states(again)
    assert len(sim.calls("/oauth/access_token")) == 1


def test_a_code_past_its_lifetime_is_deleted_and_never_sent(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number = sim.add_number(name_status="APPROVED")
    received = datetime.now(UTC) - CODE_LIFETIME - timedelta(seconds=1)
    signup_id = receive(pg_store_env, number, now=received)
    sim.clear_calls()
    dag_run = onboarding(signup_id=signup_id)
    task_states = states(dag_run)
    assert (task_states["validate"], task_states["exchange_and_save"]) == ("success", "failed"), task_states
    assert sim.calls() == []
    pending = pg_store_env.signups.pending(signup_id)
    assert pending is not None and pending.code_held is False


def test_a_code_meta_refuses_is_deleted(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    number = sim.add_number(name_status="APPROVED")
    signup_id = receive(pg_store_env, {**number, "code": "not-a-code-meta-issued"})
    dag_run = onboarding(signup_id=signup_id)
    assert states(dag_run)["exchange_and_save"] == "failed"
    assert len(sim.calls("/oauth/access_token")) == 1  # 100/36008 is permanent: no retry
    assert pg_store_env.signups.pending(signup_id).code_held is False


def test_every_intake_deletes_the_codes_that_outlived_their_lifetime(pg_store_env: ChannelStore) -> None:
    number = {"code": "stale-code", "business_id": "1", "waba_id": "2", "phone_number_id": "3"}
    now = datetime.now(UTC)
    stale = receive(pg_store_env, number, now=now - CODE_LIFETIME - timedelta(seconds=1))
    fresh = receive(pg_store_env, {**number, "code": "fresh-code"}, now=now)
    assert pg_store_env.signups.pending(stale).code_held is False
    assert pg_store_env.signups.pending(fresh).code_held is True
    assert pg_store_env.signups.take_code(fresh, now=now) == "fresh-code"
