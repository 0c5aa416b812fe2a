"""Rows for the fleet trend (``GET /fleet/trend``): saved summaries, intake signups and register
calls, written straight into the store's tables, and removed again by the tests that share a store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert

from whatsapp.store import ChannelStore
from whatsapp.store.schema import fleet_summaries, registration_attempts, signup_intake, signups


def summary_counts(total: int, needs_action: int, healthy: int) -> dict[str, Any]:
    """A summary as ``fleet_listing.counts_of`` shapes it (dimensions the trend does not read left out)."""
    return {
        "channels": total,
        "registration_state": {"registered": healthy},
        "situation": {"healthy": healthy, "blocked": needs_action},
        "needs_action": needs_action,
    }


def add_attempt(store: ChannelStore, channel_id: int, at: datetime, outcome: str = "success") -> None:
    """A completed register call (``success`` or another outcome) of a channel."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(registration_attempts).values(
                channel_id=channel_id, attempted_at=at, outcome=outcome, resulting_state="registered"
            )
        )


def add_signup(
    store: ChannelStore,
    signup_id: str,
    at: datetime,
    phone_number_id: str | None,
    *,
    exchanged_phone: str | None = None,
) -> None:
    """An intake row (``signup_intake``); ``exchanged_phone``: the intake did not know the number,
    the code's exchange (``signups``) found it."""
    digest = signup_id.rjust(64, "0")
    with store.engine.begin() as conn:
        conn.execute(
            insert(signup_intake).values(
                signup_id=signup_id, account_id=1, business_id="b", waba_id="w",
                phone_number_id=phone_number_id, code_digest=digest, received_at=at,
            )
        )  # fmt: skip
        if exchanged_phone:
            conn.execute(
                insert(signups).values(
                    code_digest=digest, account_id=1, waba_id="w", business_id="b",
                    access_token_enc="x", phone_number_id=exchanged_phone, created_at=at,
                )
            )  # fmt: skip


def remove_trend_rows(store: ChannelStore, *, summary_times: list[datetime], signup_ids: list[str]) -> None:
    """Delete the summaries saved at exactly ``summary_times`` and the named intake signups (the
    attempts go with their channels, which the caller deletes): a shared store's own rows stay."""
    digests = [signup_id.rjust(64, "0") for signup_id in signup_ids]
    with store.engine.begin() as conn:
        conn.execute(delete(fleet_summaries).where(fleet_summaries.c.created_at.in_(summary_times)))
        conn.execute(delete(signup_intake).where(signup_intake.c.signup_id.in_(signup_ids)))
        conn.execute(delete(signups).where(signups.c.code_digest.in_(digests)))
