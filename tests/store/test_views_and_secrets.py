"""The shared API shape, fleet counts and summaries, and no plaintext secret at rest (pg_dump)."""

from __future__ import annotations

import subprocess

from tests.store.helpers import NOW, PENDING, add_channel, health
from whatsapp.domain.health import PUBLIC_FIELDS
from whatsapp.domain.situations import SituationKind
from whatsapp.store import HealthResult, channel_api_dict, code_digest

#: The keys of the health API's example in docs/http-api.md.
DOCUMENTED_KEYS = {
    "account_id",
    "inbox_id",
    "phone_number_id",
    "waba_id",
    "business_id",
    "display_phone_number",
    "verified_name",
    "name_status",
    "code_verification_status",
    "platform_type",
    "throughput",
    "messaging_limit_tier",
    "quality_rating",
    "account_mode",
    "status",
    "checked_at",
    "provisioning",
    "reauthorization_required",
    "reauthorization_reason",
    "registration",
    "links",
}


def test_channel_api_dict_has_the_documented_shape(store):
    channel = add_channel(store, 1)
    store.health.record([HealthResult(channel.id, NOW, health=health(channel.phone_number_id))])
    body = channel_api_dict(store.fleet.channel_status(1, channel.inbox_id, now=NOW))
    # The documented example, plus any public health field declared since (HEALTH_FIELDS grows the shape).
    lifecycle = {"active", "offboarded_at", "name_change", "business_app", "notes"}
    situation = {"situation"}
    assert set(body) == DOCUMENTED_KEYS | lifecycle | situation | {f.api_key_path[0] for f in PUBLIC_FIELDS}
    assert body["checked_at"] == "2026-11-24T08:00:00Z"
    assert body["throughput"] == {"level": "STANDARD"} and body["provisioning"] == "provisioned"
    assert body["registration"] == {
        "state": "registered",
        "attempts_72h": 0,
        "last_attempt_at": None,
        "last_error": None,
        "next_attempt_at": None,
    }
    assert body["links"]["whatsapp_manager"] == (
        "https://business.facebook.com/latest/whatsapp_manager/phone_numbers/"
        "?business_id=506914307656634&asset_id=102290129340398"
    )
    assert body["situation"]["kind"] == "healthy" and body["situation"]["severity"] == "ok"
    assert body["situation"]["action"] == {"kind": "none", "label": "Nothing to do"}


def test_fleet_counts_and_saved_summary(store):
    a, b, c = (add_channel(store, n) for n in range(3))
    store.health.record(
        [
            HealthResult(a.id, NOW, health=health(a.phone_number_id)),
            HealthResult(b.id, NOW, health=health(b.phone_number_id, **{**PENDING, "quality_rating": "RED"})),
        ]
    )
    counts = store.fleet.counts()
    assert counts == {
        "channels": 3,
        "provisioning": {"none": 1, "pending": 1, "provisioned": 1},
        "registration_state": {"registered": 1, "scheduled": 1, "unknown": 1},
        "reauthorization_reason": {"none": 2, "registration_incomplete": 1},
        "quality_rating": {"GREEN": 1, "RED": 1, "none": 1},
        "situation": {
            **dict.fromkeys(SituationKind, 0),
            "healthy": 1,
            "quality_low": 1,  # Meta's red rating before its pending registration
            "not_checked": 1,
        },
        "needs_action": 1,
    }
    assert store.fleet.latest_summary() is None
    store.fleet.save_summary({"old": True}, now=NOW)
    saved = store.fleet.save_summary(counts)
    assert store.fleet.latest_summary() == saved
    assert c.id not in {d.id for d in store.attempts.due(now=NOW)}


def test_pg_dump_holds_no_plaintext_secret(pg_store):
    code = "AQD-one-time-signup-code-4242"
    token = "EAAG-plaintext-token-must-not-leak"
    pg_store.signups.save(code_digest(code), account_id=1, waba_id="2", business_id="3", access_token=token)
    channel = pg_store.channels.upsert(
        account_id=1, phone_number_id="106", waba_id="2", business_id="3", access_token=token
    )
    credentials = pg_store.channels.credentials(channel.id)
    url = pg_store.target.url
    dump = subprocess.run(
        [
            *("pg_dump", "--no-owner", "-h", url.host, "-p", str(url.port or 5432), "-U", url.username),
            *("-n", pg_store.target.schema, url.database),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "106" in dump and code_digest(code) in dump  # the dump does hold the store's rows
    for secret in (code, token, credentials.pin, credentials.verify_token):
        assert secret not in dump
