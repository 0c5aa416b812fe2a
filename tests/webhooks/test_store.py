"""``store.webhooks`` on both dialects: each change once, snapshot + history + registration, reports once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from whatsapp.domain.registration import ReauthorizationReason, RegistrationState
from whatsapp.domain.registration_machine import Registration
from whatsapp.domain.webhooks import parse_notification
from whatsapp.store import ChannelStore
from whatsapp.store import webhooks as webhook_store

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
WABA = "102290129340398"


def notify(field: str, value: dict[str, object], time: int = 1764057600) -> bytes:
    entry = {"id": WABA, "time": time, "changes": [{"value": value, "field": field}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def channel(store: ChannelStore, phone: str, display: str) -> int:
    return store.channels.upsert(
        account_id=1,
        phone_number_id=phone,
        waba_id=WABA,
        business_id="5",
        access_token="EAAtoken",
        display_phone_number=display,
    ).id


def record(store: ChannelStore, body: bytes, at: datetime = NOW):  # type: ignore[no-untyped-def]
    [change] = parse_notification(body, at)
    return store.webhooks.record(change, received_at=at)


def test_approval_for_a_scheduled_number_registers_now_and_is_stored_once(store: ChannelStore) -> None:
    cid = channel(store, "301", "+1 555-078-3881")
    other = channel(store, "302", "+1 555-078-0000")
    store.channels.save_registration(
        cid,
        Registration(
            RegistrationState.SCHEDULED,
            ReauthorizationReason.REGISTRATION_INCOMPLETE,
            NOW + timedelta(hours=3),
            1,
        ),
    )
    body = notify(
        "phone_number_name_update",
        {"display_phone_number": "15550783881", "decision": "APPROVED", "requested_verified_name": "Shrub"},
    )
    outcome = record(store, body)
    assert not outcome.duplicate
    [effect] = outcome.effects
    assert effect.channel_id == cid and effect.transition.register_now
    stored = store.channels.by_id(cid)
    assert stored is not None and stored.next_attempt_at == NOW
    assert stored.health is None or stored.health.name_status in (None, "APPROVED")
    decisions = store.webhooks.name_decisions
    assert decisions([cid, other], since=NOW - timedelta(seconds=1)) == {cid: ("APPROVED", NOW)}
    assert decisions([cid, other], since=NOW + timedelta(seconds=1)) == {}
    assert decisions([], since=NOW) == {}
    [history] = store.health.history(cid)
    assert history.event == "phone_number_name_update: APPROVED"
    # Meta's redelivery: nothing happens again
    again = record(store, body, NOW + timedelta(seconds=5))
    assert again.duplicate and again.effects == ()
    assert len(store.health.history(cid)) == 1


def test_flagged_quality_is_stored_and_reported_once(store: ChannelStore) -> None:
    cid = channel(store, "301", "+1 555-078-3881")
    flagged = {"display_phone_number": "15550783881", "event": "FLAGGED", "current_limit": "TIER_1K"}
    first = record(store, notify("phone_number_quality_update", flagged))
    [effect] = first.effects
    assert effect.reported == ("quality_rating None -> RED", "status None -> FLAGGED")
    stored = store.channels.by_id(cid)
    assert stored is not None
    [history] = store.health.history(cid)
    assert (
        history.fields["quality_rating"],
        history.fields["status"],
        history.fields["messaging_limit_tier"],
    ) == ("RED", "FLAGGED", "TIER_1K")
    assert history.event == "phone_number_quality_update: FLAGGED (limit ? -> TIER_1K)"
    # a second FLAGGED (a new change, not a redelivery) changes nothing worth reporting
    second = record(
        store, notify("phone_number_quality_update", flagged, time=1764057700), NOW + timedelta(minutes=1)
    )
    assert not second.duplicate and second.effects[0].reported == ()


def test_account_event_flags_every_channel_of_the_waba(store: ChannelStore) -> None:
    ids = [channel(store, "301", "+1 555-078-3881"), channel(store, "302", "+1 555-078-0000")]
    outcome = record(
        store,
        notify(
            "account_update", {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}}
        ),
    )
    assert sorted(e.channel_id for e in outcome.effects) == ids
    for cid in ids:
        stored = store.channels.by_id(cid)
        assert stored is not None and stored.registration_state is RegistrationState.NEEDS_ATTENTION
        assert store.health.history(cid)[0].event == "account_update: ACCOUNT_VIOLATION (SCAM)"


def test_unknown_number_and_other_fields_are_stored_without_effects(store: ChannelStore) -> None:
    channel(store, "301", "+1 555-078-3881")
    assert (
        record(
            store,
            notify(
                "phone_number_name_update", {"display_phone_number": "19999999999", "decision": "APPROVED"}
            ),
        ).effects
        == ()
    )
    assert record(store, notify("messages", {"messaging_product": "whatsapp"})).effects == ()


def test_a_body_applies_in_order_across_its_transactions_and_repeats_are_duplicates(
    store: ChannelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_store, "CHANGES_PER_TRANSACTION", 2)
    cid = channel(store, "301", "+1 555-078-3881")
    number = "15550783881"
    flagged = {
        "value": {"display_phone_number": number, "event": "FLAGGED"},
        "field": "phone_number_quality_update",
    }
    unflagged = {
        "value": {"display_phone_number": number, "event": "UNFLAGGED"},
        "field": "phone_number_quality_update",
    }
    limit = {
        "value": {"display_phone_number": number, "event": "DOWNGRADE", "current_limit": "TIER_250"},
        "field": "phone_number_quality_update",
    }
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": WABA, "time": 1764057600, "changes": [flagged, unflagged]},
                {"id": WABA, "time": 1764057600, "changes": [flagged]},  # the first change again
                {"id": WABA, "time": 1764057700, "changes": [limit]},
            ],
        }
    ).encode()
    outcomes = store.webhooks.record_all(parse_notification(body, NOW), received_at=NOW)
    assert [o.duplicate for o in outcomes] == [False, False, True, False]
    # each change saw what the one before it (in an earlier transaction) did
    assert outcomes[0].effects[0].reported == ("quality_rating None -> RED", "status None -> FLAGGED")
    assert outcomes[1].effects[0].reported == ()  # FLAGGED -> CONNECTED is a recovery
    history = [
        (h.event, h.fields["status"], h.fields["messaging_limit_tier"]) for h in store.health.history(cid)
    ]
    assert list(reversed(history)) == [
        ("phone_number_quality_update: FLAGGED", "FLAGGED", None),
        ("phone_number_quality_update: UNFLAGGED", "CONNECTED", None),
        ("phone_number_quality_update: DOWNGRADE (limit ? -> TIER_250)", "CONNECTED", "TIER_250"),
    ]
    again = store.webhooks.record_all(parse_notification(body, NOW), received_at=NOW + timedelta(minutes=1))
    assert all(o.duplicate for o in again) and len(store.health.history(cid)) == 3
