"""Channels and signups: idempotent upsert, reauthorization, secrets only through Credentials."""

from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet

from tests.store.helpers import NOW, add_channel, flag, set_registration
from whatsapp.domain.registration import ReauthorizationReason, RegistrationState
from whatsapp.domain.registration_machine import TokenRenewed
from whatsapp.store import ChannelConflictError, ChannelNotFoundError, ChannelStore, code_digest


def test_upsert_creates_then_updates_never_duplicates(store):
    first = add_channel(store, 1)
    again = store.channels.upsert(
        account_id=1,
        phone_number_id=first.phone_number_id,
        waba_id="999",
        business_id="888",
        access_token="EAAG-new-token",
    )
    assert again.id == first.id and again.inbox_id == first.inbox_id
    assert (again.waba_id, again.business_id) == ("999", "888")
    assert again.display_phone_number == first.display_phone_number  # not erased by a None
    assert store.channels.credentials(first.id).access_token == "EAAG-new-token"
    assert len(store.fleet.statuses()) == 1


def test_inbox_ids_are_next_free_per_account(store):
    assert [add_channel(store, n, account_id=7).inbox_id for n in (1, 2, 3)] == [1, 2, 3]
    assert add_channel(store, 4, account_id=8).inbox_id == 1


def test_pin_and_verify_token_are_generated_once_and_kept(store):
    channel = add_channel(store, 1)
    before = store.channels.credentials(channel.id)
    add_channel(store, 1)
    after = store.channels.credentials(channel.id)
    assert before.pin == after.pin and len(before.pin) == 6 and before.pin.isdigit()
    assert before.verify_token == after.verify_token and len(before.verify_token) >= 24


def test_credentials_never_print_their_values(store):
    channel = add_channel(store, 1)
    credentials = store.channels.credentials(channel.id)
    for text in (repr(credentials), str(credentials), f"{credentials}"):
        for secret in (credentials.access_token, credentials.pin, credentials.verify_token):
            assert secret not in text


def test_reads_and_lists_return_no_secret(store):
    channel = add_channel(store, 1)
    credentials = store.channels.credentials(channel.id)
    shown = repr([store.channels.get(1, 1), store.channels.by_phone_number(channel.phone_number_id)])
    shown += repr(store.fleet.statuses()) + repr(store.attempts.due(now=NOW))
    shown += repr(list(store.health.audit_pages()))
    for secret in (credentials.access_token, credentials.pin, credentials.verify_token):
        assert secret not in shown


def test_reauthorization_updates_only_the_matching_channel(store):
    channel = add_channel(store, 1)
    flag(store, channel.id, ReauthorizationReason.TOKEN_INVALID)
    set_registration(store, channel.id, RegistrationState.REAUTHORIZATION_REQUIRED)
    updated = store.channels.upsert(
        account_id=1,
        inbox_id=channel.inbox_id,
        phone_number_id=channel.phone_number_id,
        waba_id=channel.waba_id,
        business_id=channel.business_id,
        access_token="EAAG-reauthorized",
    )
    assert updated.id == channel.id
    assert not updated.reauthorization_required and updated.reauthorization_reason is None
    assert updated.registration_state is RegistrationState.UNKNOWN
    assert store.channels.credentials(channel.id).access_token == "EAAG-reauthorized"


def test_reauthorization_with_another_number_names_both_and_writes_nothing(store):
    channel = add_channel(store, 1)
    with pytest.raises(ChannelConflictError) as raised:
        store.channels.upsert(
            account_id=1,
            inbox_id=channel.inbox_id,
            phone_number_id="555",
            waba_id="1",
            business_id="2",
            access_token="EAAG-other",
        )
    assert channel.phone_number_id in str(raised.value) and "555" in str(raised.value)
    assert "EAAG-other" not in str(raised.value)
    assert store.channels.credentials(channel.id).access_token == "EAAG-token-1"
    assert store.channels.by_phone_number("555") is None


def test_reauthorization_of_an_unknown_inbox_is_not_found(store):
    with pytest.raises(ChannelNotFoundError):
        store.channels.upsert(
            account_id=1, inbox_id=9, phone_number_id="1", waba_id="2", business_id="3", access_token="t"
        )


def test_a_number_of_another_account_is_refused(store):
    add_channel(store, 1, account_id=1)
    with pytest.raises(ChannelConflictError, match="belongs to account 1"):
        add_channel(store, 1, account_id=2)
    assert store.channels.get(2, 1) is None


def test_signup_token_first_write_wins(store):
    digest = code_digest("one-time-code")
    assert store.signups.get(digest) is None
    saved = store.signups.save(
        digest, account_id=1, waba_id="2", business_id="3", access_token="EAAG-first", now=NOW
    )
    again = store.signups.save(digest, account_id=1, waba_id="2", business_id="3", access_token="EAAG-second")
    assert saved.access_token == again.access_token == "EAAG-first"
    assert "EAAG-first" not in repr(again)
    store.signups.set_phone_number(digest, "106")
    stored = store.signups.get(digest)
    assert stored is not None and stored.phone_number_id == "106" and stored.access_token == "EAAG-first"


def test_reauthorization_flag_precedence(store):
    channel = add_channel(store, 1)
    flag(store, channel.id, ReauthorizationReason.PERMISSION_REVOKED)
    flag(store, channel.id, ReauthorizationReason.REGISTRATION_INCOMPLETE)
    assert store.channels.by_id(channel.id).reauthorization_reason is ReauthorizationReason.PERMISSION_REVOKED
    store.channels.apply(channel.id, TokenRenewed(NOW))  # only a new token clears a customer reason
    cleared = store.channels.by_id(channel.id)
    assert not cleared.reauthorization_required and cleared.reauthorization_reason is None


def test_fernet_key_rotation_keeps_secrets_readable(store):
    from airflow.models.crypto import get_fernet

    channel = add_channel(store, 1)
    rotated = f"{Fernet.generate_key().decode()},{os.environ['AIRFLOW__CORE__FERNET_KEY']}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__FERNET_KEY", rotated)
        get_fernet.cache_clear()
        after_rotation = ChannelStore(store.engine, store.target)
        assert after_rotation.channels.credentials(channel.id).access_token == "EAAG-token-1"
    get_fernet.cache_clear()
