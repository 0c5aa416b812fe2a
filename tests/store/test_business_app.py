"""Sync requests of WhatsApp Business app numbers, written ahead; the link after Meta's events.

Both dialects. The rules are the domain's (tests/unit/test_business_app.py); here: what the store
writes, what it refuses before anything is sent, and that a second onboarding keeps the link.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.store.helpers import add_channel
from whatsapp.domain.business_app import SYNC_WINDOW, AppLink, Disconnection, SyncState, SyncType
from whatsapp.errors import GraphApiError
from whatsapp.store import ChannelStore, business_app
from whatsapp.store.business_app import SyncRefusedError
from whatsapp.store.schema import lifecycle_calls

NOW = datetime.now(UTC).replace(microsecond=0)


def calls(store: ChannelStore, channel_id: int) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            lifecycle_calls.select()
            .where(lifecycle_calls.c.channel_id == channel_id)
            .order_by(lifecycle_calls.c.id)
        ).all()
    return [(row.call, row.outcome) for row in rows]


def test_a_business_app_channel_opens_with_both_syncs_due_for_24_hours(store: ChannelStore) -> None:
    channel = add_channel(store, 1, on_business_app=True, now=NOW)
    assert channel.business_app is AppLink.CONNECTED
    assert (channel.contacts_sync, channel.history_sync) == (SyncState.DUE, SyncState.DUE)
    assert channel.sync_deadline == NOW + SYNC_WINDOW
    assert add_channel(store, 2).business_app is None  # another number has no link


def test_a_second_onboarding_keeps_the_link_and_an_onboarding_after_offboarding_opens_a_new_one(
    store: ChannelStore,
) -> None:
    channel = add_channel(store, 1, on_business_app=True, now=NOW)
    intent = store.business_app.begin_sync(channel.id, SyncType.CONTACTS, now=NOW)
    store.business_app.complete_sync(intent, None)
    later = NOW + timedelta(hours=3)
    again = add_channel(store, 1, on_business_app=True, now=later)
    assert (again.contacts_sync, again.history_sync, again.sync_deadline) == (
        SyncState.ACCEPTED,
        SyncState.DUE,
        NOW + SYNC_WINDOW,
    )
    store.channels.offboard(channel.id, now=later)
    back = add_channel(store, 1, on_business_app=True, now=later)
    assert back.active and back.business_app is AppLink.CONNECTED
    assert (back.contacts_sync, back.history_sync, back.sync_deadline) == (
        SyncState.DUE,
        SyncState.DUE,
        later + SYNC_WINDOW,
    )


def test_each_sync_is_written_ahead_once_contacts_first(store: ChannelStore) -> None:
    channel = add_channel(store, 1, on_business_app=True, now=NOW)
    with pytest.raises(SyncRefusedError, match="Contacts sync comes first"):
        store.business_app.begin_sync(channel.id, SyncType.HISTORY, now=NOW)
    assert calls(store, channel.id) == []  # a refusal writes nothing

    contacts = store.business_app.begin_sync(channel.id, SyncType.CONTACTS, run_id="r1", now=NOW)
    assert store.channels.by_id(channel.id).contacts_sync is SyncState.REQUESTED
    assert calls(store, channel.id) == [("contacts_sync", "sent")]
    with pytest.raises(SyncRefusedError, match="not sent again") as refused:
        store.business_app.begin_sync(channel.id, SyncType.CONTACTS, now=NOW)
    assert refused.value.state is SyncState.REQUESTED

    assert store.business_app.complete_sync(contacts, None) is SyncState.ACCEPTED
    history = store.business_app.begin_sync(channel.id, SyncType.HISTORY, now=NOW)
    lost = GraphApiError.transport("ReadTimeout", operation="request_sync")
    assert store.business_app.complete_sync(history, lost) is SyncState.REQUESTED  # answer unknown
    assert calls(store, channel.id) == [("contacts_sync", "success"), ("history_sync", "no_answer")]
    with pytest.raises(SyncRefusedError, match="answer unknown"):
        store.business_app.begin_sync(channel.id, SyncType.HISTORY, now=NOW)


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (GraphApiError("(#100) Invalid parameter", http_status=400, code=100), SyncState.REFUSED),
        (
            GraphApiError("Service unavailable", http_status=503, code=2, is_transient=True),
            SyncState.REQUESTED,
        ),
    ],
)
def test_a_refusal_is_final_and_a_transient_error_is_an_unknown_answer(
    store: ChannelStore, error: GraphApiError, state: SyncState
) -> None:
    channel = add_channel(store, 1, on_business_app=True, now=NOW)
    intent = store.business_app.begin_sync(channel.id, SyncType.CONTACTS, now=NOW)
    assert store.business_app.complete_sync(intent, error) is state
    assert store.channels.by_id(channel.id).contacts_sync is state


def test_no_request_after_the_deadline_and_the_fleet_expires_what_was_not_sent(store: ChannelStore) -> None:
    channel = add_channel(store, 1, on_business_app=True, now=NOW)
    late = NOW + SYNC_WINDOW
    with pytest.raises(SyncRefusedError, match="window closed"):
        store.business_app.begin_sync(channel.id, SyncType.CONTACTS, now=late)
    assert calls(store, channel.id) == []
    other = add_channel(store, 2, on_business_app=True, now=late)
    assert store.business_app.expire(now=late) == 2  # both syncs of the first channel
    expired = store.channels.by_id(channel.id)
    assert (expired.contacts_sync, expired.history_sync) == (SyncState.EXPIRED, SyncState.EXPIRED)
    assert store.channels.by_id(other.id).history_sync is SyncState.DUE


def test_only_a_linked_business_app_number_is_synced(store: ChannelStore) -> None:
    plain = add_channel(store, 1)
    with pytest.raises(SyncRefusedError, match="not a WhatsApp Business app number"):
        store.business_app.begin_sync(plain.id, SyncType.CONTACTS, now=NOW)
    moving = add_channel(store, 2, on_business_app=True, now=NOW)
    with store.engine.begin() as conn:
        assert (
            business_app.link_event(conn, moving.id, "ACCOUNT_OFFBOARDED", None, NOW) is AppLink.RECONNECTING
        )
    with pytest.raises(SyncRefusedError, match="reconnecting"):
        store.business_app.begin_sync(moving.id, SyncType.CONTACTS, now=NOW)
    assert calls(store, plain.id) == calls(store, moving.id) == []


def test_a_disconnection_offboards_with_metas_reason(store: ChannelStore) -> None:
    channel = add_channel(store, 1, on_business_app=True, now=NOW)
    gone = Disconnection("CHANGE_NUMBER", "USER")
    with store.engine.begin() as conn:
        assert business_app.link_event(conn, channel.id, "PARTNER_REMOVED", gone, NOW) is AppLink.DISCONNECTED
    stored = store.channels.by_id(channel.id)
    assert not stored.active and stored.offboarded_at == NOW
    assert (stored.offboard_reason, stored.offboarded_by) == ("CHANGE_NUMBER", "USER")
    assert stored.business_app is AppLink.DISCONNECTED
    assert stored.registration_state.value == "unknown"  # reset, as an offboarding does
    with store.engine.begin() as conn:  # a redelivery changes nothing
        assert business_app.link_event(conn, channel.id, "PARTNER_REMOVED", gone, NOW) is AppLink.DISCONNECTED


def test_history_progress_and_echoes_are_counted_not_kept(store: ChannelStore) -> None:
    channel = add_channel(store, 1, on_business_app=True, now=NOW)
    intent = store.business_app.begin_sync(channel.id, SyncType.CONTACTS, now=NOW)
    store.business_app.complete_sync(intent, None)
    with store.engine.begin() as conn:
        assert business_app.contacts_seen(conn, channel.id) is SyncState.FINISHED
        assert business_app.history_seen(conn, channel.id, progress=100, declined=False) is SyncState.FINISHED
        assert business_app.history_seen(conn, channel.id, progress=40, declined=False) is SyncState.FINISHED
        business_app.count_echoes(conn, channel.id, 2)
        business_app.count_echoes(conn, channel.id, 1)
    stored = store.channels.by_id(channel.id)
    assert (stored.contacts_sync, stored.history_sync) == (SyncState.FINISHED, SyncState.FINISHED)
    assert stored.history_sync_progress == 100 and stored.message_echoes == 3


def test_the_notes_offer_the_deadline_only_while_a_sync_may_still_be_sent(store: ChannelStore) -> None:
    from whatsapp.store.views import lifecycle_notes

    linked = add_channel(store, 1, on_business_app=True, now=NOW)
    assert any("can be requested until" in note for note in lifecycle_notes(linked))
    with store.engine.begin() as conn:
        business_app.link_event(conn, linked.id, "ACCOUNT_OFFBOARDED", None, NOW)
    moving = store.channels.by_id(linked.id)
    assert moving.syncs.waiting and not any("can be requested" in note for note in lifecycle_notes(moving))
    assert "WhatsApp Business app + API: reconnecting" in lifecycle_notes(moving)
