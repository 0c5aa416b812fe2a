"""Audit paging and the bulk health write: guard, flags, failures, history."""

from __future__ import annotations

from datetime import timedelta

from tests.store.helpers import NOW, PENDING, add_channel, health
from whatsapp.domain.registration import ReauthorizationReason, RegistrationState
from whatsapp.errors import GraphApiError
from whatsapp.store import HealthResult


def _ids(pages):
    return [target.id for page in pages for target in page]


def test_pages_cover_every_active_channel_once_in_bounded_pages(store):
    channels = [add_channel(store, n) for n in range(7)]
    store.channels.set_active(channels[3].id, False)
    pages = list(store.health.audit_pages(page_size=3))
    assert [len(p) for p in pages] == [3, 3]
    assert _ids(pages) == [c.id for c in channels if c.id != channels[3].id]
    assert pages[0][0].access_token == "EAAG-token-0"


def test_stale_only_pages_are_never_checked_first_then_oldest_checked(store):
    a, b, c, d = (add_channel(store, n) for n in range(4))
    store.health.record(
        [
            HealthResult(a.id, NOW - timedelta(hours=3), health=health(a.phone_number_id)),
            HealthResult(b.id, NOW - timedelta(hours=5), health=health(b.phone_number_id)),
            HealthResult(c.id, NOW, health=health(c.phone_number_id)),
        ]
    )
    pages = store.health.audit_pages(page_size=1, not_checked_since=NOW - timedelta(hours=1))
    seen = []
    for page in pages:
        seen.extend(t.id for t in page)
        # A channel written while the stream runs moves past the cutoff and is not yielded again.
        store.health.record([HealthResult(page[0].id, NOW, health=health(page[0].phone_number_id))])
    assert seen == [d.id, b.id, a.id]


def test_shards_split_the_fleet_without_overlap(store):
    ids = {add_channel(store, n).id for n in range(10)}
    shards = [set(_ids(store.health.audit_pages(page_size=4, shard=k, shards=3))) for k in range(3)]
    assert set().union(*shards) == ids
    assert sum(len(s) for s in shards) == len(ids)


def test_active_channels_counts_what_a_full_audit_reads(store):
    channels = [add_channel(store, n) for n in range(5)]
    store.channels.set_active(channels[0].id, False)
    assert store.health.active_channels() == 4 == len(_ids(store.health.audit_pages(page_size=2)))


def test_history_keeps_the_run_that_read_each_check(store):
    channel = add_channel(store, 1)
    store.health.record(
        [HealthResult(channel.id, NOW, health=health(channel.phone_number_id))], run_id="run-1"
    )
    later = NOW + timedelta(minutes=1)
    store.health.record([HealthResult(channel.id, later, error=GraphApiError("down", http_status=503))])
    assert [(check.checked_at, check.run_id) for check in store.health.history(channel.id)] == [
        (later, None),
        (NOW, "run-1"),
    ]


def test_late_older_snapshot_does_not_replace_a_newer_one(store):
    channel = add_channel(store, 1)
    newer = HealthResult(channel.id, NOW, health=health(channel.phone_number_id, quality_rating="RED"))
    older = HealthResult(
        channel.id, NOW - timedelta(minutes=5), health=health(channel.phone_number_id, quality_rating="GREEN")
    )
    assert store.health.record([newer]).applied == 1
    result = store.health.record([older])
    assert (result.applied, result.stale) == (0, 1)
    stored = store.channels.by_id(channel.id)
    assert stored.checked_at == NOW and stored.health.quality_rating == "RED"
    assert [h.fields["quality_rating"] for h in store.health.history(channel.id)] == ["RED", "GREEN"]


def test_pending_flags_incomplete_and_schedules_then_provisioned_clears_and_registers(store):
    channel = add_channel(store, 1)
    store.health.record([HealthResult(channel.id, NOW, health=health(channel.phone_number_id, **PENDING))])
    pending = store.channels.by_id(channel.id)
    assert pending.provisioning == "pending"
    assert pending.reauthorization_reason is ReauthorizationReason.REGISTRATION_INCOMPLETE
    assert pending.registration_state is RegistrationState.SCHEDULED and pending.next_attempt_at == NOW
    later = NOW + timedelta(hours=1)
    store.health.record([HealthResult(channel.id, later, health=health(channel.phone_number_id))])
    fixed = store.channels.by_id(channel.id)
    assert fixed.provisioning == "provisioned" and not fixed.reauthorization_required
    assert fixed.registration_state is RegistrationState.REGISTERED and fixed.next_attempt_at is None


def test_a_token_error_flags_token_invalid_keeps_the_snapshot_and_a_good_read_does_not_clear_it(store):
    channel = add_channel(store, 1)
    store.health.record([HealthResult(channel.id, NOW, health=health(channel.phone_number_id))])
    expired = GraphApiError("Error validating access token", http_status=401, code=190)
    failed = store.health.record([HealthResult(channel.id, NOW + timedelta(hours=1), error=expired)])
    assert failed.failed == 1
    stored = store.channels.by_id(channel.id)
    assert stored.checked_at == NOW and stored.health.quality_rating == "GREEN"
    assert stored.last_check_error.code == 190 and stored.last_check_error.kind == "token_invalid"
    assert stored.reauthorization_reason is ReauthorizationReason.TOKEN_INVALID
    store.health.record(
        [HealthResult(channel.id, NOW + timedelta(hours=2), health=health(channel.phone_number_id))]
    )
    still = store.channels.by_id(channel.id)
    assert still.last_check_error is None
    assert still.reauthorization_reason is ReauthorizationReason.TOKEN_INVALID
    assert store.health.history(channel.id)[1].error.code == 190


def test_transient_failures_change_no_flag(store):
    channel = add_channel(store, 1)
    store.health.record([HealthResult(channel.id, NOW, error=GraphApiError.transport("timed out"))])
    stored = store.channels.by_id(channel.id)
    assert stored.last_check_error.kind == "transient" and not stored.reauthorization_required
    assert stored.checked_at is None


def test_bulk_write_handles_many_channels_and_ignores_unknown_ids(store):
    channels = [add_channel(store, n) for n in range(200)]
    results = [HealthResult(c.id, NOW, health=health(c.phone_number_id)) for c in channels]
    results.append(HealthResult(10**9, NOW, health=health("0")))
    written = store.health.record(results)
    assert (written.applied, written.stale, written.failed) == (200, 1, 0)
    assert store.fleet.counts()["provisioning"] == {"provisioned": 200}
