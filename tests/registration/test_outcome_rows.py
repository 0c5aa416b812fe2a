"""Every row of the register outcome table (docs/states-and-situations.md), on the real path.

``attempt_registration`` (what every register task runs) against the simulator and the
PostgreSQL store. Where the simulator has the row's real cause (a PIN set by someone else, a
locked account, a number deregistered a minute ago, ...) the test builds that cause; the rest
use the simulator's ``graph_error``/``throttle``/``http_500`` faults, which answer in Meta's
Cloud API error shape. Each row checks the stored state, the next attempt and that the
fleet's next pass makes no second call where none should be made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from include.graph_simulator.process import RunningSimulator, SimulatorControl
from tests.registration.support import Seeded, direct_call, due_channel, register_calls
from whatsapp.domain.registration import ATTENTION_ACTIONS, Attention, RegistrationState
from whatsapp.errors import GraphApiError
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.register_channel import RegistrationFailed, RegistrationReport, attempt_registration
from whatsapp.store import ChannelStore

pytestmark = pytest.mark.postgres

S = RegistrationState
BACKOFF = "backoff"  # 15 min +/- 10 % (the first failure in a row)
PENDING_APPROVED = {"name_status": "APPROVED"}  # a new number is pending until registered
OTHER_PIN = "111111"  # set by someone else: never the channel's generated PIN (checked below)


@dataclass(frozen=True)
class Row:
    """One outcome row: how to cause it, and what must follow."""

    name: str
    cause: Callable[[SimulatorControl, Seeded, str], Any]
    outcome: str  # the stored attempt's outcome (the error kind)
    state: RegistrationState
    raises: type[Exception] | None
    next_attempt: timedelta | str | None
    code: int | None = None
    attention: Attention | None = None
    reason: str | None = "registration_incomplete"
    number: dict[str, Any] = field(default_factory=lambda: dict(PENDING_APPROVED))


def fault(**spec: Any) -> Callable[[SimulatorControl, Seeded, str], Any]:
    def cause(sim: SimulatorControl, seeded: Seeded, base_url: str) -> None:
        sim.add_fault(path="/register$", **spec)

    return cause


def nothing(sim: SimulatorControl, seeded: Seeded, base_url: str) -> None:
    """The number's own state is the cause."""


def other_pin(sim: SimulatorControl, seeded: Seeded, base_url: str) -> None:
    sim.update_number(seeded.number["phone_number_id"], pin=OTHER_PIN)


def pin_guessed_too_fast(sim: SimulatorControl, seeded: Seeded, base_url: str) -> None:
    other_pin(sim, seeded, base_url)
    assert direct_call(base_url, seeded, "register", pin="222222")["error"]["code"] == 133005


def pin_guessed_too_often(sim: SimulatorControl, seeded: Seeded, base_url: str) -> None:
    other_pin(sim, seeded, base_url)
    for _ in range(4):  # four wrong PINs 31 s apart; the fifth (ours) locks the PIN for an hour
        assert direct_call(base_url, seeded, "register", pin="222222")["error"]["code"] == 133005
        sim.advance(31)


def deregistered_a_moment_ago(sim: SimulatorControl, seeded: Seeded, base_url: str) -> None:
    assert direct_call(base_url, seeded, "deregister") == {"success": True}


def ten_calls_in_72_hours(sim: SimulatorControl, seeded: Seeded, base_url: str) -> None:
    for _ in range(10):  # name not approved yet: each fails with 2388001, and each counts
        assert direct_call(base_url, seeded, "register")["error"]["error_subcode"] == 2388001
    sim.update_number(seeded.number["phone_number_id"], name_status="APPROVED")


def graph_error(code: int, http_status: int = 400, **extra: Any) -> Callable[..., Any]:
    return fault(kind="graph_error", code=code, http_status=http_status, **extra)


RF = RegistrationFailed  # a person (or the customer) must act: the task fails without retry
GE = GraphApiError  # transient: the task retries (Airflow's retries, then the domain backoff)
N = None  # no automatic retry
ROWS = [
    Row("100/2388001 name not ready", nothing, "display_name_not_ready", S.SCHEDULED, N, BACKOFF, 100,
        number={"name_status": "NONE"}),
    Row("133015 too soon", deregistered_a_moment_ago, "register_too_soon", S.SCHEDULED, N,
        timedelta(minutes=5), 133015,
        number={"name_status": "APPROVED", "platform_type": "CLOUD_API", "throughput_level": "STANDARD"}),
    Row("133016 limit", ten_calls_in_72_hours, "register_limit", S.BLOCKED, N, timedelta(hours=72), 133016,
        number={"name_status": "NONE"}),
    Row("133008 too many guesses", pin_guessed_too_often, "pin_locked", S.SCHEDULED, N,
        timedelta(minutes=60), 133008),
    Row("133009 too fast", pin_guessed_too_fast, "pin_locked", S.SCHEDULED, N,
        timedelta(seconds=30), 133009),
    Row("133009 no wait named", graph_error(133009), "pin_locked", S.SCHEDULED, N,
        timedelta(hours=1), 133009),
    Row("133005 PIN mismatch", other_pin, "pin_problem", S.NEEDS_ATTENTION, RF, N, 133005,
        attention=Attention.PIN_MISMATCH),
    Row("133006 re-verification", nothing, "needs_reverification", S.NEEDS_ATTENTION, RF, N, 133006,
        attention=Attention.NEEDS_REVERIFICATION, number={**PENDING_APPROVED, "needs_reverification": True}),
    Row("131031 locked", nothing, "account_locked", S.NEEDS_ATTENTION, RF, N, 131031,
        attention=Attention.ACCOUNT_LOCKED, number={**PENDING_APPROVED, "locked": True}),
    Row("190 token", graph_error(190, 401, subcode=463), "token_invalid", S.REAUTHORIZATION_REQUIRED, RF, N,
        190, reason="token_invalid"),
    *(
        Row(f"{code} permission", graph_error(code, 403, **extra), "permission", S.REAUTHORIZATION_REQUIRED,
            RF, N, code, reason="permission_revoked")
        for code, extra in ((10, {}), (200, {"subcode": 1349174}), (299, {}))
    ),
    *(
        Row(f"{code} throttle", fault(kind="throttle", code=code), "throttled", S.SCHEDULED, GE, BACKOFF,
            code)
        for code in (4, 80007)
    ),
    *(
        Row(f"{code} throttled", graph_error(code), "throttled", S.SCHEDULED, GE, BACKOFF, code)
        for code in (17, 32, 613, 130429)
    ),
    Row("131000 transient", graph_error(131000), "transient", S.SCHEDULED, GE, BACKOFF, 131000),
    Row("133004 transient", graph_error(133004, 503), "transient", S.SCHEDULED, GE, BACKOFF, 133004),
    Row("HTTP 500", fault(kind="http_500"), "transient", S.SCHEDULED, GE, BACKOFF, 2),
    Row("HTTP 502 is_transient", graph_error(1, 502), "transient", S.SCHEDULED, GE, BACKOFF, 1),
    Row("100 other", graph_error(100, details="Invalid parameter"), "invalid_request", S.NEEDS_ATTENTION,
        RF, N, 100, attention=Attention.GRAPH_ERROR),
    Row("131009 invalid", graph_error(131009), "invalid_request", S.NEEDS_ATTENTION, RF, N, 131009,
        attention=Attention.GRAPH_ERROR),
    Row("133010 anything else", graph_error(133010), "unknown", S.NEEDS_ATTENTION, RF, N, 133010,
        attention=Attention.GRAPH_ERROR),
]  # fmt: skip


def _attempt(
    store: ChannelStore, channel_id: int, **kwargs: Any
) -> tuple[RegistrationReport | None, Exception | None]:
    try:
        return attempt_registration(WhatsAppGraphHook(), store, channel_id, run_id="row", **kwargs), None
    except (GraphApiError, RegistrationFailed) as raised:
        return None, raised


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_outcome_row_on_the_real_path(
    row: Row,
    graph_conn_env: str,
    pg_store_env: ChannelStore,
    sim: SimulatorControl,
    simulator_process: RunningSimulator,
) -> None:
    seeded = due_channel(sim, pg_store_env, **row.number)
    assert pg_store_env.channels.credentials(seeded.channel.id).pin != OTHER_PIN
    row.cause(sim, seeded, simulator_process.base_url)
    sim.clear_calls()

    _, raised = _attempt(pg_store_env, seeded.channel.id, respect_backoff=True)

    assert (type(raised) if raised else None) is row.raises, raised
    assert register_calls(sim) == {seeded.number["phone_number_id"]: 1}
    (attempt,) = pg_store_env.attempts.recent(seeded.channel.id)
    assert (attempt.outcome, attempt.code, attempt.resulting_state) == (
        row.outcome,
        row.code,
        row.state.value,
    )
    assert attempt.message  # Graph's message is kept
    stored = pg_store_env.channels.by_id(seeded.channel.id)
    assert stored.registration_state is row.state
    assert (stored.reauthorization_reason and stored.reauthorization_reason.value) == row.reason
    if row.next_attempt is None:
        assert stored.next_attempt_at is None
    elif row.next_attempt == BACKOFF:
        assert (
            timedelta(minutes=13.5)
            <= stored.next_attempt_at - attempt.attempted_at
            <= timedelta(minutes=16.5)
        )
    else:
        assert stored.next_attempt_at - attempt.attempted_at == row.next_attempt
    if row.attention is not None:
        assert isinstance(raised, RegistrationFailed)
        assert raised.report.attention == row.attention.value
        assert ATTENTION_ACTIONS[row.attention] in raised.report.message

    # The fleet's next pass, right away: nothing is due, so no second call.
    again, _ = _attempt(pg_store_env, seeded.channel.id, respect_backoff=True)
    assert again is not None and again.action == "skipped" and again.register_calls == 0
    assert register_calls(sim) == {seeded.number["phone_number_id"]: 1}


def test_attempt_outcomes_of_the_protocol_never_read_as_an_error_kind() -> None:
    from whatsapp.errors import ErrorKind
    from whatsapp.store.models import ATTEMPT_NO_ANSWER, ATTEMPT_SENT, ATTEMPT_SUCCESS

    protocol = {ATTEMPT_SUCCESS, ATTEMPT_SENT, ATTEMPT_NO_ANSWER}
    assert len(protocol) == 3 and not protocol & {kind.value for kind in ErrorKind}
