"""Every bad onboarding conf is refused by the DAG, naming the field, before anything happens.

Refused either when the run is created (the DAG's ``Param`` schemas, built from the same rules)
or by its first task (:class:`whatsapp.domain.signup.OnboardingConf`); either way the simulator
sees no call, the store gets no row, and the code stays unused at "Meta".
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from include.graph_simulator.process import SimulatorControl, onboarding_conf
from tests.onboarding.bad_confs import BAD_CONFS, UNKNOWN_SIGNUP_ID, BadConf
from whatsapp.store import ChannelStore
from whatsapp.store.schema import channels, signup_intake, signups

pytestmark = pytest.mark.postgres


def store_rows(store: ChannelStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{store.target.schema}"')
        return {
            t.name: conn.scalar(select(func.count()).select_from(t))
            for t in (channels, signups, signup_intake)
        }


def assert_untouched(sim: SimulatorControl, store: ChannelStore, number: dict[str, Any]) -> None:
    assert sim.calls() == []
    assert store_rows(store) == {"channels": 0, "signups": 0, "signup_intake": 0}
    assert number["code"] in sim.number(number["phone_number_id"])["codes"]  # never exchanged


@pytest.mark.parametrize("bad", BAD_CONFS, ids=[bad.case for bad in BAD_CONFS])
def test_the_dag_refuses_a_bad_conf_naming_the_field(
    onboarding: Any,
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    bad: BadConf,
) -> None:
    caplog.set_level(logging.INFO)
    number = sim.add_number(name_status="APPROVED")
    sim.clear_calls()
    conf = bad.apply(onboarding_conf(number))
    try:
        dag_run = onboarding(**conf)
    except Exception as refused:  # the Param schema refused the conf: no run at all
        assert bad.field in str(refused), refused
    else:  # the run exists: its first task refused the conf, nothing after it ran
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        assert states["validate"] == "failed", states
        assert states["exchange_and_save"] == "upstream_failed", states
        output = caplog.text + "".join(capfd.readouterr())
        assert f"invalid onboarding conf: {bad.field!r}" in output
    assert_untouched(sim, pg_store_env, number)


def test_the_table_covers_every_rule_and_at_least_40_cases() -> None:
    from whatsapp.domain.signup import ONBOARDING_FIELDS

    assert len(BAD_CONFS) >= 40
    assert {rule.name for rule in ONBOARDING_FIELDS} <= {bad.field for bad in BAD_CONFS}


def test_an_unknown_signup_id_fails_in_the_first_task(
    onboarding: Any, sim: SimulatorControl, pg_store_env: ChannelStore
) -> None:
    dag_run = onboarding(signup_id=UNKNOWN_SIGNUP_ID)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert (states["validate"], states["exchange_and_save"]) == ("failed", "upstream_failed")
    assert sim.calls() == []


VALID_RAW = {"account_id": 1, "code": "AQ-code", "business_id": "1", "waba_id": "2"}


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        ({"signup_id": UNKNOWN_SIGNUP_ID}, None),
        ({"signup_id": UNKNOWN_SIGNUP_ID, "name_poke_interval": 5, "name_wait_timeout": None}, None),
        ({}, "signup_id"),
        ({"name_poke_interval": 5}, "signup_id"),
        (VALID_RAW, "code"),
        ({**VALID_RAW, "account_id": 0}, "account_id"),
        ({"signup_id": UNKNOWN_SIGNUP_ID, "account_id": 1}, "account_id"),
        ({"signup_id": UNKNOWN_SIGNUP_ID, "foo": 1}, "foo"),
        ({"foo": 1}, "foo"),
    ],
)
def test_a_conf_through_airflows_api_is_a_signup_id_only(params: dict[str, Any], refused: str | None) -> None:
    """``OnboardingConf.from_api``: every rule of the DAG, then no raw signup (its code would stay
    in ``dag_run.conf``); the error names the field and never the code."""
    from whatsapp.domain.signup import InvalidSignupError, OnboardingConf

    if refused is None:
        assert OnboardingConf.from_api(params).signup_id == UNKNOWN_SIGNUP_ID
        return
    with pytest.raises(InvalidSignupError) as error:
        OnboardingConf.from_api(params)
    assert error.value.field == refused
    assert VALID_RAW["code"] not in str(error.value)
