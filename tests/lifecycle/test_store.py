"""The store side of name changes and offboarding on both dialects: lifecycle calls and their
budgets, name-change columns through the bulk audit write, offboarding and reactivation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.store.helpers import NOW, add_channel
from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import NAME_CHANGE_WINDOW, NameChange, RegistrationState
from whatsapp.domain.registration_machine import DisplayNameInvalid, validate_display_name
from whatsapp.errors import GraphApiError
from whatsapp.store import ChannelStore, HealthResult
from whatsapp.store.lifecycle_calls import DEREGISTER, NAME_CHANGE, CallRefusedError, OffboardingTakenError

LIVE_APPROVED = {
    "platform_type": "CLOUD_API",
    "throughput": {"level": "STANDARD"},
    "name_status": "APPROVED",
    "new_name_status": "APPROVED",
    "new_display_name": "Acme Two",
}


def test_calls_are_written_ahead_and_counted_per_kind_and_window(store: ChannelStore) -> None:
    channel = add_channel(store, 1)
    first = store.lifecycle_calls.begin(channel.id, DEREGISTER, run_id="r1", now=NOW)
    with pytest.raises(CallRefusedError, match="in flight"):  # the first one's answer is not in yet
        store.lifecycle_calls.begin(channel.id, DEREGISTER, run_id="r1", now=NOW + timedelta(seconds=5))
    store.lifecycle_calls.complete(
        first, GraphApiError("(#133010) Account not registered", code=133010, http_status=400)
    )
    (recorded,) = store.lifecycle_calls.recent(channel.id, DEREGISTER)
    assert (recorded.outcome, recorded.code, recorded.run_id) == ("unknown", 133010, "r1")
    assert store.lifecycle_calls.count(channel.id, NAME_CHANGE, now=NOW) == 0  # kinds apart

    for day in range(10):
        call = store.lifecycle_calls.begin(channel.id, NAME_CHANGE, detail="N", now=NOW + timedelta(days=day))
        store.lifecycle_calls.complete(call, None)
    with pytest.raises(CallRefusedError, match="limit is 10") as refused:
        store.lifecycle_calls.begin(channel.id, NAME_CHANGE, now=NOW + timedelta(days=10))
    assert refused.value.reopens_at == NOW + timedelta(days=30)
    assert store.lifecycle_calls.count(channel.id, NAME_CHANGE, now=NOW + timedelta(days=10)) == 10
    store.lifecycle_calls.begin(channel.id, NAME_CHANGE, now=NOW + timedelta(days=30, seconds=1))


def test_a_deregister_claims_the_channel_for_its_run_until_it_is_onboarded_again(store: ChannelStore) -> None:
    channel = add_channel(store, 1)
    first = store.lifecycle_calls.begin(channel.id, DEREGISTER, run_id="r1", now=NOW)
    with pytest.raises(OffboardingTakenError, match="run r1 is offboarding this channel") as taken:
        store.lifecycle_calls.begin(channel.id, DEREGISTER, run_id="r2", now=NOW + timedelta(seconds=5))
    assert (taken.value.run_id, taken.value.in_flight) == ("r1", True)

    store.lifecycle_calls.complete(first, None)  # deregistered: the channel is r1's to offboard
    assert store.channels.by_id(channel.id).offboarded_at == NOW
    for run in ("r2", "r1"):  # another run, and a retry of r1 (which then sends nothing either)
        with pytest.raises(OffboardingTakenError, match="run r1 offboards this channel") as taken:
            store.lifecycle_calls.begin(channel.id, DEREGISTER, run_id=run, now=NOW + timedelta(minutes=1))
        assert (taken.value.run_id, taken.value.in_flight) == ("r1", False)
    assert store.channels.offboard(channel.id, now=NOW + timedelta(minutes=1)).offboarded_at == NOW
    assert len(store.lifecycle_calls.recent(channel.id, DEREGISTER)) == 1

    add_channel(store, 1)  # onboarded again: a new offboarding may deregister it
    store.lifecycle_calls.begin(channel.id, DEREGISTER, run_id="r3", now=NOW + timedelta(hours=1))


def test_a_failed_deregister_leaves_the_channel_to_the_next_run(store: ChannelStore) -> None:
    channel = add_channel(store, 1)
    first = store.lifecycle_calls.begin(channel.id, DEREGISTER, run_id="r1", now=NOW)
    store.lifecycle_calls.complete(
        first, GraphApiError("(#2) Service temporarily unavailable", code=2, http_status=503)
    )
    assert store.channels.by_id(channel.id).offboarded_at is None
    store.lifecycle_calls.begin(channel.id, DEREGISTER, run_id="r2", now=NOW + timedelta(seconds=5))


def test_the_audit_write_stores_the_approval_deadline_and_schedules_the_re_registration(
    store: ChannelStore,
) -> None:
    channel = add_channel(store, 1)
    health = PhoneHealth.from_graph({"id": channel.phone_number_id, **LIVE_APPROVED})
    store.health.record([HealthResult(channel.id, NOW, health=health)])
    stored = store.channels.by_id(channel.id)
    assert stored.name_change is NameChange.APPROVED
    assert stored.name_change_deadline == NOW + NAME_CHANGE_WINDOW
    assert stored.registration_state is RegistrationState.SCHEDULED and stored.next_attempt_at == NOW
    assert stored.health.new_display_name == "Acme Two"
    assert [due.id for due in store.attempts.due(now=NOW + timedelta(seconds=1))] == [channel.id]


def test_offboard_then_onboard_again(store: ChannelStore) -> None:
    a, b = add_channel(store, 1), add_channel(store, 2)
    assert store.channels.others_active_on_waba(a.waba_id, a.id) == 1
    off = store.channels.offboard(a.id, now=NOW)
    assert (off.active, off.offboarded_at, off.registration_state) == (False, NOW, RegistrationState.UNKNOWN)
    assert store.channels.others_active_on_waba(a.waba_id, b.id) == 0
    assert [target.id for page in store.health.audit_pages() for target in page] == [b.id]
    again = add_channel(store, 1)
    assert (again.id, again.inbox_id, again.active, again.offboarded_at) == (a.id, a.inbox_id, True, None)


@pytest.mark.parametrize(
    ("name", "sent"), [("  Acme  ", "Acme"), ("AB", "AB"), ("x" * 75, "x" * 75), ("Café Zoë", "Café Zoë")]
)
def test_valid_display_names(name: str, sent: str) -> None:
    assert validate_display_name(name) == sent


@pytest.mark.parametrize("name", ["A", " A ", "x" * 76, "Acme\nSupport", "Acme\tSupport", ""])
def test_invalid_display_names(name: str) -> None:
    with pytest.raises(DisplayNameInvalid):
        validate_display_name(name)
