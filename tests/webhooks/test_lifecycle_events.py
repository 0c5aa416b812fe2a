"""Meta's pushed events in the registration state machine, table-tested from every relevant state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from whatsapp.domain.lifecycle import (
    AccountEvent,
    EndNameWait,
    FlagForPerson,
    NameReviewDecided,
    QualityChanged,
    RegisterNow,
    Registration,
    ScheduleAt,
    transition,
)
from whatsapp.domain.registration import Attention, ReauthorizationReason, RegistrationState

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
        # quality never moves registration
        (REGISTERED, QualityChanged("FLAGGED", NOW), REGISTERED, ()),
        (FLEET_HOLDS, QualityChanged("DOWNGRADE", NOW), FLEET_HOLDS, ()),
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
    assert moved.registration == after
    assert moved.effects == effects
    assert moved.register_now is any(isinstance(e, RegisterNow) for e in effects)


def test_a_repeated_event_raises_no_second_flag() -> None:
    once = transition(REGISTERED, AccountEvent("ACCOUNT_VIOLATION", NOW))
    again = transition(once.registration, AccountEvent("ACCOUNT_VIOLATION", LATER))
    assert again.registration == once.registration
    assert again.effects == ()
