"""The shared registration path: every call that was sent is counted; people's cases stay theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.store.helpers import set_registration
from whatsapp.domain.registration import RegistrationState
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.register_channel import attempt_registration
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres


class CrashAfterSending(WhatsAppGraphHook):
    """The register call goes out, then the task dies (timeout, SIGTERM) before seeing the answer."""

    def register(self, phone_number_id: str, access_token: str, pin: str) -> None:
        super().register(phone_number_id, access_token, pin)
        raise TimeoutError("task execution_timeout")


def saved(sim: SimulatorControl, store: ChannelStore, state: RegistrationState, **number_state: object):
    number = sim.add_number(**number_state)
    channel = store.channels.upsert(
        account_id=1,
        phone_number_id=number["phone_number_id"],
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token=sim.new_token(number["waba_id"]),
    )
    set_registration(store, channel.id, state, next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
    return channel


def test_a_call_sent_before_a_crash_is_still_recorded(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    channel = saved(sim, pg_store_env, RegistrationState.SCHEDULED, name_status="APPROVED")
    with pytest.raises(TimeoutError):
        attempt_registration(CrashAfterSending(), pg_store_env, channel.id, respect_backoff=True)
    assert len(sim.calls("/register$")) == 1
    (attempt,) = pg_store_env.attempts.recent(channel.id)
    assert attempt.outcome == "no_answer" and "outcome unknown (TimeoutError)" in attempt.message
    stored = pg_store_env.channels.by_id(channel.id)
    assert stored.registration_state is RegistrationState.SCHEDULED
    # The answer was lost: the next attempt waits two minutes and reads health first.
    assert timedelta(minutes=2) - timedelta(seconds=5) <= stored.next_attempt_at - attempt.attempted_at
    assert stored.next_attempt_at - attempt.attempted_at <= timedelta(minutes=2)


def test_a_task_retry_skips_the_backoff_but_not_a_case_for_a_person(
    graph_conn_env: str, pg_store_env: ChannelStore, sim: SimulatorControl
) -> None:
    channel = saved(sim, pg_store_env, RegistrationState.NEEDS_ATTENTION, name_status="APPROVED")
    report = attempt_registration(
        WhatsAppGraphHook(), pg_store_env, channel.id, respect_backoff=False, respect_state=True
    )
    assert report.action == "skipped" and sim.calls("/register$") == []
    # The manual "Complete registration" (a person fixed it) may go ahead.
    manual = attempt_registration(WhatsAppGraphHook(), pg_store_env, channel.id, respect_backoff=False)
    assert manual.action == "done" and len(sim.calls("/register$")) == 1
