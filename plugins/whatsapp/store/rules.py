"""How stored flags move, as SQL expressions shared by every write (one rule, many statements).

Reauthorization reasons have a precedence: ``token_invalid`` and ``permission_revoked`` need the
customer to redo Embedded Signup, so only a new token (reauthorization) or an explicit clear
removes them — a health read that happens to succeed does not, because reads need fewer
permissions than ``/register`` and the flag drives a human workflow. ``registration_incomplete``
follows the facts: set while Meta reads the number as pending, cleared once it is provisioned.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, literal, true
from sqlalchemy.sql.elements import KeyedColumnElement

from whatsapp.domain.registration import ReauthorizationReason, RegistrationState
from whatsapp.store.schema import channels

#: Reasons that need the customer; facts about provisioning never clear them.
HUMAN_REASONS: tuple[str, ...] = (
    ReauthorizationReason.TOKEN_INVALID.value,
    ReauthorizationReason.PERMISSION_REVOKED.value,
)
#: States the fleet DAG retries on its own once ``next_attempt_at`` has passed.
RETRYABLE_STATES: tuple[str, ...] = (
    RegistrationState.SCHEDULED.value,
    RegistrationState.AWAITING_DISPLAY_NAME.value,
    RegistrationState.BLOCKED.value,
)

Expr = ColumnElement[Any] | KeyedColumnElement[Any]


def reason_value(reason: ReauthorizationReason | str | None) -> Expr:
    return literal(None if reason is None else str(reason), channels.c.reauthorization_reason.type)


def reauthorization_values(new_reason: Expr) -> dict[str, Expr]:
    """SET values applying ``new_reason`` (NULL = "no incomplete registration") with precedence."""
    current = channels.c.reauthorization_reason
    reason = case(
        (new_reason.in_(HUMAN_REASONS), new_reason),
        (current.in_(HUMAN_REASONS), current),
        else_=new_reason,
    )
    return {
        "reauthorization_reason": reason,
        "reauthorization_required": case((reason.is_(None), false()), else_=true()),
    }


def new_token_values() -> dict[str, Expr]:
    """A fresh token from Embedded Signup resolves the reasons that needed the customer.

    A channel parked in ``reauthorization_required`` goes back to ``unknown``: the onboarding
    run decides its registration again with the new token.
    """
    current = channels.c.reauthorization_reason
    human = current.in_(HUMAN_REASONS)
    return {
        "reauthorization_reason": case((human, None), else_=current),
        "reauthorization_required": case((human, false()), else_=channels.c.reauthorization_required),
        "registration_state": case(
            (
                channels.c.registration_state == RegistrationState.REAUTHORIZATION_REQUIRED.value,
                RegistrationState.UNKNOWN.value,
            ),
            else_=channels.c.registration_state,
        ),
    }


def snapshot_registration_values(needs_registration: Expr, checked_at: Expr) -> dict[str, Expr]:
    """What a successful health check says about registration.

    Provisioned and verified: ``registered`` (also when someone fixed it by hand in WhatsApp
    Manager). Needs registration but nothing planned (``unknown``, or ``registered`` and Meta
    reads it as pending again): ``scheduled`` now, so the fleet DAG picks it up. Any other
    state is the registration flow's to move, not the audit's.
    """
    state = channels.c.registration_state
    unplanned = (RegistrationState.UNKNOWN.value, RegistrationState.REGISTERED.value)
    never_planned = and_(needs_registration, state.in_(unplanned))
    return {
        "registration_state": case(
            (~needs_registration, RegistrationState.REGISTERED.value),
            (never_planned, RegistrationState.SCHEDULED.value),
            else_=state,
        ),
        "next_attempt_at": case(
            (~needs_registration, None), (never_planned, checked_at), else_=channels.c.next_attempt_at
        ),
        "failures_in_a_row": case((~needs_registration, 0), else_=channels.c.failures_in_a_row),
    }
