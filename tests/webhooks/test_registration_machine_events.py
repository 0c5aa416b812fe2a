"""Meta's pushed events in the registration state machine, table-tested from every relevant state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import Attention, NameChange, ReauthorizationReason, RegistrationState
from whatsapp.domain.registration_machine import (
    AccountEvent,
    EndNameWait,
    FlagForPerson,
    HealthRead,
    NameReviewDecided,
    QualityChanged,
    RegisterNow,
    Registration,
    ScheduleAt,
    transition,
)

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)
S = RegistrationState
R = ReauthorizationReason
#: Why a person must act (kept on the registration while ``needs_attention``).
DECLINED = Attention.DISPLAY_NAME_DECLINED
ACCOUNT = Attention.ACCOUNT_EVENT

AWAITING = Registration(S.AWAITING_DISPLAY_NAME)
FLEET_HOLDS = Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, LATER, 1)
REGISTERED = Registration(S.REGISTERED)
REAUTH = Registration(S.REAUTHORIZATION_REQUIRED, R.TOKEN_INVALID)
BLOCKED = Registration(S.BLOCKED, R.REGISTRATION_INCOMPLETE, LATER, 3)
SCHEDULED_BUT_CUSTOMER = Registration(S.SCHEDULED, R.PERMISSION_REVOKED, LATER, 0)


@pytest.mark.parametrize(
    ("before", "event", "after", "effects"),
    [
        # approval: the onboarding wait ends (its trigger reads the store); state unchanged
        (AWAITING, NameReviewDecided("APPROVED", NOW), AWAITING, (EndNameWait(),)),
        # approval while the fleet holds it: due now, register at once
        (
            FLEET_HOLDS,
            NameReviewDecided("APPROVED", NOW),
            Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW, 1),
            (ScheduleAt(NOW), RegisterNow()),
        ),
        # approval changes nothing where a register call cannot help or is not needed
        (REGISTERED, NameReviewDecided("APPROVED", NOW), REGISTERED, ()),
        (BLOCKED, NameReviewDecided("APPROVED", NOW), BLOCKED, ()),
        (REAUTH, NameReviewDecided("APPROVED", NOW), REAUTH, ()),
        (SCHEDULED_BUT_CUSTOMER, NameReviewDecided("APPROVED", NOW), SCHEDULED_BUT_CUSTOMER, ()),
        # rejection: a person must act, the onboarding wait ends
        (
            AWAITING,
            NameReviewDecided("REJECTED", NOW, "NAME_FORMAT"),
            Registration(S.NEEDS_ATTENTION, R.REGISTRATION_INCOMPLETE, None, 0, attention=DECLINED),
            (FlagForPerson(S.NEEDS_ATTENTION, R.REGISTRATION_INCOMPLETE), EndNameWait()),
        ),
        (
            FLEET_HOLDS,
            NameReviewDecided("REJECTED", NOW, "NAME_FORMAT"),
            Registration(S.NEEDS_ATTENTION, R.REGISTRATION_INCOMPLETE, None, 1, attention=DECLINED),
            (FlagForPerson(S.NEEDS_ATTENTION, R.REGISTRATION_INCOMPLETE),),
        ),
        # a rejected *edit* of a registered number's name leaves it registered
        (REGISTERED, NameReviewDecided("REJECTED", NOW, "x"), REGISTERED, ()),
        (REAUTH, NameReviewDecided("REJECTED", NOW, "x"), REAUTH, ()),
        # deferred / pending: recorded only
        (AWAITING, NameReviewDecided("DEFERRED", NOW), AWAITING, ()),
        (FLEET_HOLDS, NameReviewDecided("PENDING", NOW), FLEET_HOLDS, ()),
        # quality never moves the registration's state; a lowered messaging limit is kept (until UPGRADE)
        (REGISTERED, QualityChanged("FLAGGED", NOW), REGISTERED, ()),
        (FLEET_HOLDS, QualityChanged("DOWNGRADE", NOW), replace(FLEET_HOLDS, limit_lowered=True), ()),
        (replace(REGISTERED, limit_lowered=True), QualityChanged("UPGRADE", NOW), REGISTERED, ()),
        # account events: partner access gone → the customer; violations and bans → a person
        (
            REGISTERED,
            AccountEvent("PARTNER_REMOVED", NOW),
            Registration(S.REGISTERED, R.PERMISSION_REVOKED),
            (FlagForPerson(S.REGISTERED, R.PERMISSION_REVOKED),),
        ),
        (
            REGISTERED,
            AccountEvent("ACCOUNT_VIOLATION", NOW),
            Registration(S.NEEDS_ATTENTION, attention=ACCOUNT),
            (FlagForPerson(S.NEEDS_ATTENTION, None),),
        ),
        (
            FLEET_HOLDS,
            AccountEvent("DISABLED_UPDATE", NOW, ban_state="DISABLE"),
            Registration(S.NEEDS_ATTENTION, R.REGISTRATION_INCOMPLETE, None, 1, attention=ACCOUNT),
            (FlagForPerson(S.NEEDS_ATTENTION, R.REGISTRATION_INCOMPLETE),),
        ),
        (REGISTERED, AccountEvent("DISABLED_UPDATE", NOW, ban_state="REINSTATE"), REGISTERED, ()),
        (REGISTERED, AccountEvent("MM_LITE_TERMS_SIGNED", NOW), REGISTERED, ()),
        # reauthorization keeps precedence over an operator flag
        (REAUTH, AccountEvent("ACCOUNT_DELETED", NOW), REAUTH, ()),
    ],
)
def test_meta_events(
    before: Registration, event: object, after: Registration, effects: tuple[object, ...]
) -> None:
    moved = transition(before, event)  # type: ignore[arg-type]
    if isinstance(event, NameReviewDecided):  # a decision applied records Meta's time of it
        after = replace(after, name_decided_at=event.observed_at)
    assert moved.registration == after
    assert not moved.stale
    assert moved.effects == effects
    assert moved.register_now is any(isinstance(e, RegisterNow) for e in effects)


def test_a_repeated_event_raises_no_second_flag() -> None:
    once = transition(REGISTERED, AccountEvent("ACCOUNT_VIOLATION", NOW))
    again = transition(once.registration, AccountEvent("ACCOUNT_VIOLATION", LATER))
    assert again.registration == once.registration
    assert again.effects == ()


# ---- Meta does not deliver in order: the newest name fact wins ---------------------------------

EARLIER = NOW - timedelta(hours=6)
#: Flagged for a rejected name that Meta decided at NOW.
DECLINED_AT_NOW = Registration(
    S.NEEDS_ATTENTION, R.REGISTRATION_INCOMPLETE, None, 1, attention=DECLINED, name_decided_at=NOW
)


def pending(name_status: str) -> PhoneHealth:
    return PhoneHealth("1", {"platform_type": "NOT_APPLICABLE", "name_status": name_status})


@pytest.mark.parametrize(
    "before",
    [
        replace(AWAITING, name_decided_at=NOW),
        replace(FLEET_HOLDS, name_decided_at=NOW),
        DECLINED_AT_NOW,
        Registration(S.REGISTERED, name_change=NameChange.REQUESTED, name_decided_at=NOW),
    ],
)
@pytest.mark.parametrize("decision", ["APPROVED", "REJECTED", "DEFERRED"])
def test_a_decision_older_than_the_newest_name_fact_changes_nothing(
    before: Registration, decision: str
) -> None:
    late = NameReviewDecided(decision, LATER, "NAME_FORMAT_UNACCEPTABLE", decided_at=EARLIER)
    moved = transition(before, late)
    assert moved.stale
    assert (moved.registration, moved.effects) == (before, ())


def test_a_decision_as_new_as_the_newest_fact_applies_and_records_its_time() -> None:
    moved = transition(
        replace(FLEET_HOLDS, name_decided_at=NOW), NameReviewDecided("REJECTED", LATER, decided_at=NOW)
    )
    assert not moved.stale and moved.registration.state is S.NEEDS_ATTENTION
    newer = transition(moved.registration, NameReviewDecided("APPROVED", LATER, decided_at=LATER))
    assert newer.registration.name_decided_at == LATER


def test_an_approval_after_a_rejection_registers_now() -> None:
    moved = transition(DECLINED_AT_NOW, NameReviewDecided("APPROVED", LATER, decided_at=LATER))
    assert moved.registration == Registration(
        S.SCHEDULED, R.REGISTRATION_INCOMPLETE, LATER, 1, name_decided_at=LATER
    )
    assert moved.effects == (ScheduleAt(LATER), RegisterNow())


@pytest.mark.parametrize(
    ("name_status", "at", "after"),
    [
        # a newer read of an approved (or again reviewed) name: out of "declined", due now
        (
            "APPROVED",
            LATER,
            Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, LATER, 1, name_decided_at=LATER),
        ),
        (
            "PENDING_REVIEW",
            LATER,
            Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, LATER, 1, name_decided_at=LATER),
        ),
        # a newer read that shows the decline: still declined, the read's time is the newest fact
        ("DECLINED", LATER, replace(DECLINED_AT_NOW, name_decided_at=LATER)),
        # a read older than the rejection does not undo it
        ("APPROVED", EARLIER, DECLINED_AT_NOW),
    ],
)
def test_a_health_read_wins_over_an_older_decision(
    name_status: str, at: datetime, after: Registration
) -> None:
    moved = transition(DECLINED_AT_NOW, HealthRead(pending(name_status), at))
    assert moved.registration == after
    if after.state is S.SCHEDULED:
        assert moved.effects == (ScheduleAt(LATER),)


def test_a_provisioned_read_newer_than_the_rejection_is_registered() -> None:
    live = PhoneHealth("1", {"platform_type": "CLOUD_API", "name_status": "APPROVED"})
    moved = transition(DECLINED_AT_NOW, HealthRead(live, LATER))
    assert moved.registration == Registration(S.REGISTERED, name_decided_at=LATER)
