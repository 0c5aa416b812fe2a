"""Meta does not deliver notifications in order: an old name decision never beats what is known.

The story: a number's display name is in review, Meta approves it, the ``APPROVED`` webhook is
lost, and a ``REJECTED`` decision six hours old arrives late. Whatever it did, a health read from
Meta that is newer than it decides, and the number registers through the usual fleet path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from include.graph_simulator.process import SimulatorControl
from whatsapp.domain.registration import Attention, RegistrationState
from whatsapp.domain.webhooks import parse_notification
from whatsapp.fleet_audit import run_audit
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.register_channel import attempt_registration
from whatsapp.store import ChannelStore
from whatsapp.store.schema import webhook_events

S = RegistrationState


def rejected(waba_id: str, display_phone_number: str, decided_at: datetime) -> bytes:
    value = {
        "display_phone_number": "".join(ch for ch in display_phone_number if ch.isdigit()),
        "decision": "REJECTED",
        "requested_verified_name": "Lucky Shrub",
        "rejection_reason": "NAME_FORMAT_UNACCEPTABLE",
    }
    entry = {
        "id": waba_id,
        "time": int(decided_at.timestamp()),
        "changes": [{"value": value, "field": "phone_number_name_update"}],
    }
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def deliver(store: ChannelStore, body: bytes, at: datetime) -> None:
    """What the receiver route does with a signed body."""
    store.webhooks.record_all(parse_notification(body, at), received_at=at)


@pytest.fixture
def in_review(graph_conn_env: str, store: ChannelStore, sim: SimulatorControl) -> tuple[int, dict[str, str]]:
    """A number whose name is in review, held by the fleet (audited 8 h ago), then approved by Meta."""
    number = sim.add_number(name_status="PENDING_REVIEW", review_seconds=10**6)
    channel = store.channels.upsert(
        account_id=1,
        phone_number_id=number["phone_number_id"],
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token=sim.new_token(number["waba_id"]),
        display_phone_number=number["display_phone_number"],
    )
    run_audit(WhatsAppGraphHook(), store, now=datetime.now(UTC) - timedelta(hours=8))
    held = store.channels.by_id(channel.id)
    assert held is not None and held.registration_state is S.SCHEDULED
    sim.update_number(number["phone_number_id"], name_status="APPROVED")  # its webhook is lost
    sim.clear_calls()
    return channel.id, number


def registers_through_the_fleet(store: ChannelStore, sim: SimulatorControl, channel_id: int) -> None:
    channel = store.channels.by_id(channel_id)
    assert channel is not None
    assert channel.registration_state is S.SCHEDULED and channel.attention is None
    assert channel.next_attempt_at is not None and channel.next_attempt_at <= datetime.now(UTC)
    report = attempt_registration(WhatsAppGraphHook(), store, channel_id, respect_backoff=True)
    assert (report.action, report.register_calls) == ("done", 1)
    assert len(sim.calls("/register$")) == 1


def test_a_late_rejection_is_undone_by_the_next_audit_that_reads_the_approval(
    store: ChannelStore, sim: SimulatorControl, in_review: tuple[int, dict[str, str]]
) -> None:
    channel_id, number = in_review
    now = datetime.now(UTC)
    deliver(store, rejected(number["waba_id"], number["display_phone_number"], now - timedelta(hours=6)), now)
    # Nothing newer than the rejection was known: it is applied, and flags the channel.
    declined = store.channels.by_id(channel_id)
    assert declined is not None and declined.registration_state is S.NEEDS_ATTENTION
    assert declined.attention is Attention.DISPLAY_NAME_DECLINED

    run_audit(WhatsAppGraphHook(), store, now=datetime.now(UTC))

    registers_through_the_fleet(store, sim, channel_id)


def test_a_rejection_older_than_the_last_read_changes_nothing(
    store: ChannelStore, sim: SimulatorControl, in_review: tuple[int, dict[str, str]]
) -> None:
    channel_id, number = in_review
    run_audit(WhatsAppGraphHook(), store, now=datetime.now(UTC) - timedelta(hours=1))  # reads APPROVED
    before = store.channels.by_id(channel_id)
    assert before is not None
    now = datetime.now(UTC)
    deliver(store, rejected(number["waba_id"], number["display_phone_number"], now - timedelta(hours=6)), now)

    after = store.channels.by_id(channel_id)
    assert after is not None and after.registration == before.registration
    assert after.health is not None and after.health.name_status == "APPROVED"
    [history] = [h for h in store.health.history(channel_id) if h.event]
    assert history.event == (
        "phone_number_name_update: REJECTED (NAME_FORMAT_UNACCEPTABLE), older than what is known: not applied"
    )
    # the onboarding sensor's trigger does not see it either
    assert store.webhooks.name_decisions([channel_id], since=now - timedelta(days=1)) == {}
    with store.engine.connect() as conn:
        assert conn.execute(select(webhook_events.c.stale)).scalars().all() == [True]
    registers_through_the_fleet(store, sim, channel_id)
