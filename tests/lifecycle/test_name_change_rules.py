"""The lifecycle's display-name change and offboarding rules, table-tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import (
    NAME_CHANGE_WINDOW,
    Attention,
    Decision,
    NameChange,
    ReauthorizationReason,
    RegistrationState,
    decide,
)
from whatsapp.domain.registration_machine import (
    VERIFY_AGAIN_AFTER,
    FlagNameChange,
    HealthRead,
    NameChangeRequested,
    NameReviewDecided,
    Offboarded,
    ReadyToDecide,
    RegisterAnswered,
    RegisterNow,
    Registration,
    transition,
)
from whatsapp.errors import ErrorKind

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
S = RegistrationState
N = NameChange
DEADLINE = NOW + NAME_CHANGE_WINDOW


def live(new_name_status: str | None = None) -> PhoneHealth:
    values = {"platform_type": "CLOUD_API", "throughput_level": "STANDARD", "name_status": "APPROVED"}
    if new_name_status is not None:
        values["new_name_status"] = new_name_status
    return PhoneHealth("1", values)


def approved(state: S = S.REGISTERED, deadline: datetime = DEADLINE, **kw: object) -> Registration:
    return Registration(state, name_change=N.APPROVED, name_change_deadline=deadline, **kw)  # type: ignore[arg-type]


def test_decide_registers_a_live_number_only_for_an_approved_name_change() -> None:
    assert decide(live("APPROVED")) is Decision.REGISTER_NEW_NAME
    for status in (None, "NONE", "PENDING_REVIEW", "DECLINED", "EXPIRED"):
        assert decide(live(status)) is Decision.ALREADY_PROVISIONED


@pytest.mark.parametrize(
    ("before", "status", "at", "state", "name_change", "deadline", "next_at"),
    [
        # approval seen: re-registration scheduled now, deadline = first sight + 14 days
        (Registration(S.REGISTERED), "APPROVED", NOW, S.SCHEDULED, N.APPROVED, DEADLINE, NOW),
        (
            Registration(S.REGISTERED, name_change=N.REQUESTED),
            "APPROVED",
            NOW,
            S.SCHEDULED,
            N.APPROVED,
            DEADLINE,
            NOW,
        ),
        # a later read keeps the first deadline and the backoff already planned
        (
            approved(S.SCHEDULED, next_attempt_at=NOW + timedelta(hours=1)),
            "APPROVED",
            NOW + timedelta(days=1),
            S.SCHEDULED,
            N.APPROVED,
            DEADLINE,
            NOW + timedelta(hours=1),
        ),
        # a person must act on an earlier refusal: that stays
        (approved(S.NEEDS_ATTENTION), "APPROVED", NOW, S.NEEDS_ATTENTION, N.APPROVED, DEADLINE, None),
        # applied (our registration or a person's): cleared
        (approved(), "NONE", NOW + timedelta(days=2), S.REGISTERED, None, None, None),
        (approved(S.SCHEDULED, next_attempt_at=NOW), None, NOW, S.REGISTERED, None, None, None),
        # past the deadline: lapsed, whatever Graph shows
        (
            approved(S.SCHEDULED, next_attempt_at=NOW),
            "NONE",
            DEADLINE,
            S.REGISTERED,
            N.LAPSED,
            DEADLINE,
            None,
        ),
        (
            approved(S.SCHEDULED, next_attempt_at=NOW),
            "APPROVED",
            DEADLINE,
            S.REGISTERED,
            N.LAPSED,
            DEADLINE,
            None,
        ),
        (approved(), "EXPIRED", NOW + timedelta(days=3), S.REGISTERED, N.LAPSED, DEADLINE, None),
        # declined, in review
        (
            Registration(S.REGISTERED, name_change=N.REQUESTED),
            "DECLINED",
            NOW,
            S.REGISTERED,
            N.DECLINED,
            None,
            None,
        ),
        (Registration(S.REGISTERED), "PENDING_REVIEW", NOW, S.REGISTERED, N.REQUESTED, None, None),
        # lapsed and declined stay flagged until a new request
        (
            Registration(S.REGISTERED, name_change=N.LAPSED, name_change_deadline=DEADLINE),
            "NONE",
            NOW,
            S.REGISTERED,
            N.LAPSED,
            DEADLINE,
            None,
        ),
        (Registration(S.REGISTERED, name_change=N.DECLINED), None, NOW, S.REGISTERED, N.DECLINED, None, None),
        # an approval still shown after the lapse is the lapsed one: no new deadline, no call
        (
            Registration(S.REGISTERED, name_change=N.LAPSED, name_change_deadline=DEADLINE),
            "APPROVED",
            DEADLINE + timedelta(hours=1),
            S.REGISTERED,
            N.LAPSED,
            DEADLINE,
            None,
        ),
    ],
)
def test_health_reads_of_a_live_number(before, status, at, state, name_change, deadline, next_at) -> None:
    moved = transition(before, HealthRead(live(status), at))
    assert moved.registration.state is state
    assert moved.registration.name_change is name_change
    assert moved.registration.name_change_deadline == deadline
    assert moved.registration.next_attempt_at == next_at


def test_right_after_our_register_call_a_lagging_approval_is_looked_at_again_soon() -> None:
    moved = transition(approved(), HealthRead(live("APPROVED"), NOW, just_registered=True))
    assert moved.registration.state is S.SCHEDULED
    assert moved.registration.next_attempt_at == NOW + VERIFY_AGAIN_AFTER


def test_lapse_and_decline_flag_once_with_advice() -> None:
    moved = transition(approved(), HealthRead(live("EXPIRED"), NOW))
    assert [e for e in moved.effects if isinstance(e, FlagNameChange)] == [
        FlagNameChange(N.LAPSED, moved.effects[-1].advice)  # type: ignore[union-attr]
    ]
    assert "request the new name again" in moved.effects[-1].advice  # type: ignore[union-attr]
    again = transition(moved.registration, HealthRead(live("EXPIRED"), NOW + timedelta(hours=1)))
    assert not [e for e in again.effects if isinstance(e, FlagNameChange)]
    declined = transition(
        Registration(S.REGISTERED, name_change=N.REQUESTED), HealthRead(live("DECLINED"), NOW)
    )
    assert [type(e) for e in declined.effects] == [FlagNameChange]


def test_ready_to_decide_registers_inside_the_window_and_never_after() -> None:
    inside = transition(
        approved(S.SCHEDULED), ReadyToDecide(DEADLINE - timedelta(seconds=1), health=live("APPROVED"))
    )
    assert inside.effects == (RegisterNow(),) and inside.decision is Decision.REGISTER_NEW_NAME
    after = transition(approved(S.SCHEDULED), ReadyToDecide(DEADLINE, health=live("APPROVED")))
    assert not after.register_now
    assert after.registration.state is S.REGISTERED and after.registration.name_change is N.LAPSED
    assert after.outcome is not None and after.outcome.attention is Attention.NAME_CHANGE_LAPSED


def test_register_answers_keep_the_name_change_until_a_read_confirms_it() -> None:
    refused = transition(approved(S.SCHEDULED), RegisterAnswered(ErrorKind.DISPLAY_NAME_NOT_READY, NOW))
    assert refused.registration.state is S.SCHEDULED and refused.registration.failures_in_a_row == 1
    assert (
        refused.registration.name_change is N.APPROVED
        and refused.registration.name_change_deadline == DEADLINE
    )
    ok = transition(refused.registration, RegisterAnswered(None, NOW + timedelta(minutes=20)))
    assert ok.registration.state is S.REGISTERED and ok.registration.name_change is N.APPROVED
    confirmed = transition(ok.registration, HealthRead(live("NONE"), NOW, just_registered=True))
    assert confirmed.registration == Registration(S.REGISTERED, name_decided_at=NOW)


def test_name_change_requested_and_offboarded() -> None:
    lapsed = Registration(S.REGISTERED, name_change=N.LAPSED, name_change_deadline=DEADLINE)
    assert transition(lapsed, NameChangeRequested(NOW)).registration == Registration(
        S.REGISTERED, name_change=N.REQUESTED
    )
    busy = approved(S.SCHEDULED, reason=ReauthorizationReason.TOKEN_INVALID, next_attempt_at=NOW)
    assert transition(busy, Offboarded(NOW)).registration == Registration()


def test_metas_webhook_decision_on_a_requested_change_of_a_live_number() -> None:
    requested = Registration(S.REGISTERED, name_change=N.REQUESTED)
    approved_now = transition(requested, NameReviewDecided("APPROVED", NOW))
    assert approved_now.register_now
    assert approved_now.registration == Registration(
        S.SCHEDULED,
        next_attempt_at=NOW,
        name_change=N.APPROVED,
        name_change_deadline=DEADLINE,
        name_decided_at=NOW,
    )
    rejected = transition(requested, NameReviewDecided("REJECTED", NOW, rejection_reason="generic"))
    assert rejected.registration == Registration(S.REGISTERED, name_change=N.DECLINED, name_decided_at=NOW)
    assert [type(e) for e in rejected.effects] == [FlagNameChange]
    # No change of ours open: the webhook helper's rules apply unchanged (a registered number stays).
    assert transition(
        Registration(S.REGISTERED), NameReviewDecided("REJECTED", NOW)
    ).registration == Registration(S.REGISTERED, name_decided_at=NOW)
