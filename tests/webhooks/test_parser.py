"""Meta's webhook payloads (shapes from Meta's reference pages), signature and verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from whatsapp.domain.business_app import AppLink, Disconnection
from whatsapp.domain.webhooks import (
    MAX_DEPTH,
    AccountUpdate,
    ContactsSynced,
    HistoryChunks,
    MessageEchoes,
    NameDecision,
    QualityUpdate,
    WebhookPayloadError,
    digits,
    health_values,
    parse_notification,
    sign,
    signature_matches,
    verification_answer,
)

RECEIVED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SECRET = "app-secret"


def notification(
    field: str, value: dict[str, object], *, waba: str = "102290129340398", time: int = 1764057600
) -> bytes:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba, "time": time, "changes": [{"value": value, "field": field}]}],
    }
    return json.dumps(body).encode()


def test_name_update_as_meta_documents_it() -> None:
    body = notification(
        "phone_number_name_update",
        {
            "display_phone_number": "15550783881",
            "decision": "REJECTED",
            "requested_verified_name": "Lucky Shrub",
            "rejection_reason": "NAME_FORMAT_UNACCEPTABLE",
        },
    )
    [change] = parse_notification(body, RECEIVED)
    assert change.field == "phone_number_name_update"
    assert change.waba_id == "102290129340398"
    assert change.occurred_at == datetime.fromtimestamp(1764057600, UTC)
    assert change.parsed == NameDecision("15550783881", "REJECTED", "Lucky Shrub", "NAME_FORMAT_UNACCEPTABLE")
    assert change.describe() == "phone_number_name_update: REJECTED (NAME_FORMAT_UNACCEPTABLE)"


def test_quality_update_prefers_the_portfolio_limit() -> None:
    body = notification(
        "phone_number_quality_update",
        {
            "display_phone_number": "15550783881",
            "event": "DOWNGRADE",
            "old_limit": "TIER_10K",
            "current_limit": "TIER_1K",
            "max_daily_conversations_per_business": "TIER_2K",
        },
    )
    [change] = parse_notification(body, RECEIVED)
    assert change.parsed == QualityUpdate("15550783881", "DOWNGRADE", "TIER_2K", "TIER_10K")
    assert health_values(change.parsed, None) == {"messaging_limit_tier": "TIER_2K"}


def test_account_update_with_ban_info_and_violation() -> None:
    ban = parse_notification(
        notification(
            "account_update",
            {
                "event": "DISABLED_UPDATE",
                "ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "November 25, 2026"},
            },
        ),
        RECEIVED,
    )[0]
    assert ban.parsed == AccountUpdate("DISABLED_UPDATE", None, "DISABLE", "November 25, 2026")
    violation = parse_notification(
        notification(
            "account_update", {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}}
        ),
        RECEIVED,
    )[0]
    assert violation.parsed == AccountUpdate("ACCOUNT_VIOLATION", "SCAM")
    assert violation.describe() == "account_update: ACCOUNT_VIOLATION (SCAM)"


def test_an_entry_time_is_meta_s_time_of_the_change_never_later_than_its_receipt() -> None:
    body = notification(
        "phone_number_name_update", {"display_phone_number": "1", "decision": "APPROVED"}, time=1
    )
    assert parse_notification(body, RECEIVED)[0].occurred_at == datetime.fromtimestamp(1, UTC)
    ahead = int(RECEIVED.timestamp()) + 3600
    body = notification(
        "phone_number_name_update", {"display_phone_number": "1", "decision": "APPROVED"}, time=ahead
    )
    assert parse_notification(body, RECEIVED)[0].occurred_at == RECEIVED


def test_other_fields_are_kept_unparsed_and_keys_tell_redeliveries_apart() -> None:
    body = notification("messages", {"messaging_product": "whatsapp"})
    [change] = parse_notification(body, RECEIVED)
    assert change.parsed is None
    assert parse_notification(body, RECEIVED)[0].key == change.key
    assert (
        parse_notification(notification("messages", {"messaging_product": "whatsapp"}, time=1), RECEIVED)[
            0
        ].key
        != change.key
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[" * 100_000,
        b"[]",
        b'{"entry": {}}',
        b'{"entry": [{"changes": 1}]}',
        b'{"entry": [{"changes": [1]}]}',
    ],
)
def test_not_a_notification(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_notification(body, RECEIVED)


def nested(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    """A signed-looking envelope whose one change's value holds ``depth`` nested arrays (or objects)."""
    deep = opener * depth + closer * depth
    return (
        b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "time": 1, '
        b'"changes": [{"field": "messages", "value": {"x": ' + deep + b"}}]}]}"
    )


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_a_body_nested_too_deep_is_refused_with_a_clear_error(depth: int) -> None:
    with pytest.raises(WebhookPayloadError, match=f"nests deeper than {MAX_DEPTH} levels"):
        parse_notification(nested(depth), RECEIVED)
    objects = b'{"a":' * depth + b"1" + b"}" * depth
    with pytest.raises(WebhookPayloadError, match="nests deeper than"):
        parse_notification(objects, RECEIVED)


def test_depth_counts_json_nesting_not_brackets_inside_strings() -> None:
    envelope_depth = 6  # the body, "entry", an entry, "changes", a change, its "value"
    [change] = parse_notification(nested(MAX_DEPTH - envelope_depth), RECEIVED)
    assert change.field == "messages"
    with pytest.raises(WebhookPayloadError):
        parse_notification(nested(MAX_DEPTH - envelope_depth + 1), RECEIVED)
    brackets = json.dumps({"text": "[{" * 10_000 + '\\"]'}).encode()
    wrapped = b'{"entry": [{"id": "1", "time": 1, "changes": [{"field": "messages", "value": ' + brackets
    [change] = parse_notification(wrapped + b"}]}]}", RECEIVED)
    assert change.value["text"].startswith("[{[{")


@pytest.mark.parametrize(
    ("parsed", "stored", "values"),
    [
        (NameDecision("1", "APPROVED"), "PENDING_REVIEW", {"name_status": "APPROVED"}),
        (NameDecision("1", "REJECTED", None, "x"), None, {"name_status": "DECLINED"}),
        (NameDecision("1", "REJECTED", None, "x"), "APPROVED", {}),  # an edit of an approved name
        (NameDecision("1", "APPROVED"), "DECLINED", {"name_status": "APPROVED"}),  # a new review
        (NameDecision("1", "DEFERRED"), "PENDING_REVIEW", {}),
        (QualityUpdate("1", "FLAGGED"), None, {"quality_rating": "RED", "status": "FLAGGED"}),
        (
            QualityUpdate("1", "UNFLAGGED", "TIER_250"),
            None,
            {"status": "CONNECTED", "messaging_limit_tier": "TIER_250"},
        ),
        (AccountUpdate("ACCOUNT_DELETED"), None, {}),
    ],
)
def test_health_values(parsed: object, stored: str | None, values: dict[str, str]) -> None:
    assert health_values(parsed, stored) == values  # type: ignore[arg-type]


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"entry": []}'
    header = sign(body, SECRET)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature_matches(body, header, SECRET)
    assert not signature_matches(body + b" ", header, SECRET)
    assert not signature_matches(body, header, "other")
    assert not signature_matches(body, None, SECRET)
    assert not signature_matches(body, "sha1=abc", SECRET)
    assert not signature_matches(body, header, "")


def test_verification() -> None:
    ok = {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1158201444"}
    assert verification_answer(ok, "vt") == "1158201444"
    assert verification_answer({**ok, "hub.verify_token": "no"}, "vt") is None
    assert verification_answer({**ok, "hub.mode": "unsubscribe"}, "vt") is None
    assert verification_answer(ok, None) is None


def test_digits() -> None:
    assert digits("+1 555-078-3881") == digits("15550783881") == "15550783881"


# ---- WhatsApp Business app numbers ---------------------------------------------------------------

BUSINESS = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}


def test_history_chunks_keep_progress_and_counts_only() -> None:
    message = {"from": "16505551234", "id": "wamid.X", "type": "text", "text": {"body": "secret"}}
    value = {
        "messaging_product": "whatsapp",
        "metadata": BUSINESS,
        "history": [
            {
                "metadata": {"phase": 1, "chunk_order": 2, "progress": "100"},  # a numeric string too
                "threads": [{"id": "16505551234", "messages": [message, message]}, {"id": "x"}],
            },
            {"metadata": {"phase": 0, "chunk_order": 1, "progress": 55}, "threads": []},
        ],
    }
    [change] = parse_notification(notification("history", value), RECEIVED)
    assert change.parsed == HistoryChunks("15550783881", "106540352242922", progress=100)
    assert change.display_phone_number == "15550783881" and change.phone_number_id == "106540352242922"
    assert not change.waba_wide and change.event is None
    assert change.describe() == "history: 100 %"
    assert change.value == {
        "messaging_product": "whatsapp",
        "metadata": BUSINESS,
        "history": [
            {"metadata": {"phase": 1, "chunk_order": 2, "progress": 100}, "threads": 2, "messages": 2},
            {"metadata": {"phase": 0, "chunk_order": 1, "progress": 55}, "threads": 0, "messages": 0},
        ],
    }
    assert "secret" not in json.dumps(change.value) and "16505551234" not in json.dumps(change.value)


@pytest.mark.parametrize(
    ("chunks", "parsed", "line"),
    [
        (
            [{"errors": [{"code": 2593109, "title": "History sync is turned off", "error_data": {"x": 1}}]}],
            HistoryChunks("15550783881", "106540352242922", None, (2593109,)),
            "history: not shared by the customer (2593109)",
        ),
        (
            [{"errors": [{"code": "131000", "title": "Something went wrong"}]}],
            HistoryChunks("15550783881", "106540352242922", None, (131000,)),
            "history: error 131000",
        ),
        (
            [{"metadata": {"progress": 250}}],
            HistoryChunks("15550783881", "106540352242922", 100),
            "history: 100 %",
        ),
        (
            [{"metadata": {"progress": "lots"}}, 7],
            HistoryChunks("15550783881", "106540352242922"),
            "history: no progress given",
        ),
    ],
    ids=["declined", "another error", "progress above 100", "no progress"],
)
def test_history_errors_and_odd_progress(chunks: list[object], parsed: HistoryChunks, line: str) -> None:
    value = {"messaging_product": "whatsapp", "metadata": BUSINESS, "history": chunks}
    [change] = parse_notification(notification("history", value), RECEIVED)
    assert change.parsed == parsed and change.describe() == line
    assert change.parsed.declined is (parsed.error_codes == (2593109,))


def test_contacts_and_echoes_are_counted_not_kept() -> None:
    contact = {"full_name": "Pablo Morales", "first_name": "Pablo", "phone_number": "16505551234"}
    items = [
        {"type": "contact", "contact": contact, "action": "add", "metadata": {"timestamp": "1"}},
        {"type": "contact", "contact": contact, "action": "edit", "metadata": {"timestamp": "2"}},
        {"type": "contact", "contact": contact, "action": "add", "metadata": {"timestamp": "3"}},
    ]
    value = {"messaging_product": "whatsapp", "metadata": BUSINESS, "state_sync": items}
    [synced] = parse_notification(notification("smb_app_state_sync", value), RECEIVED)
    assert synced.parsed == ContactsSynced("15550783881", "106540352242922", 3)
    assert synced.describe() == "smb_app_state_sync: 3 contacts"
    assert synced.value["state_sync"] == [
        {"type": "contact", "action": "add", "count": 2},
        {"type": "contact", "action": "edit", "count": 1},
    ]
    echo = {"from": "15550783881", "to": "16505551234", "id": "wamid.E", "timestamp": "1", "type": "image"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": BUSINESS,
        "message_echoes": [{**echo, "image": {"id": "9"}}],
    }
    [echoed] = parse_notification(notification("smb_message_echoes", value), RECEIVED)
    assert echoed.parsed == MessageEchoes("15550783881", "106540352242922", 1)
    assert echoed.describe() == "smb_message_echoes: 1 message"
    assert echoed.value == {
        "messaging_product": "whatsapp",
        "metadata": BUSINESS,
        "message_echoes": [{"type": "image", "count": 1}],
    }
    for stored in (synced.value, echoed.value):
        assert not {"Pablo", "16505551234", "wamid.E"} & set(json.dumps(stored).replace('"', " ").split())


def test_app_data_naming_no_number_is_kept_unparsed() -> None:
    value = {"messaging_product": "whatsapp", "message_echoes": [{"text": {"body": "secret"}}]}
    [change] = parse_notification(notification("smb_message_echoes", value), RECEIVED)
    assert change.parsed is None
    assert change.value == {
        "messaging_product": "whatsapp",
        "metadata": {},
        "message_echoes": [{"type": None, "count": 1}],
    }
    [odd] = parse_notification(notification("history", {"metadata": BUSINESS, "history": {"x": 1}}), RECEIVED)
    assert odd.parsed == HistoryChunks("15550783881", "106540352242922")


def test_account_update_of_a_business_app_number() -> None:
    value = {
        "phone_number": "+1 555-078-3881",
        "event": "PARTNER_REMOVED",
        "waba_info": {"waba_id": "102290129340398", "owner_business_id": "5"},
        "disconnection_info": {"reason": "ACCOUNT_DISCONNECTED", "initiated_by": "USER"},
    }
    [change] = parse_notification(notification("account_update", value), RECEIVED)
    update = change.parsed
    assert update == AccountUpdate(
        "PARTNER_REMOVED",
        phone_number="15550783881",
        disconnection=Disconnection("ACCOUNT_DISCONNECTED", "USER"),
    )
    assert change.describe() == "account_update: PARTNER_REMOVED (USER: ACCOUNT_DISCONNECTED)"
    assert change.waba_wide and change.display_phone_number == "15550783881"
    assert change.value == value  # no message or contact in it: kept whole
    assert isinstance(update, AccountUpdate)
    assert update.moves_link(AppLink.CONNECTED, "+1 555-078-3881")
    assert not update.moves_link(AppLink.CONNECTED, "+1 555-078-0000")  # another number
    assert not update.moves_link(None, "+1 555-078-3881")  # not a WhatsApp Business app number
    plain = AccountUpdate("PARTNER_REMOVED")  # no disconnection_info: the WABA's partner access
    assert not plain.moves_link(AppLink.CONNECTED, "+1 555-078-3881")
    for event in ("ACCOUNT_OFFBOARDED", "ACCOUNT_RECONNECTED"):
        [device] = parse_notification(notification("account_update", {"event": event}), RECEIVED)
        assert device.describe() == f"account_update: {event}" and device.display_phone_number is None
        assert isinstance(device.parsed, AccountUpdate)
        assert device.parsed.moves_link(AppLink.CONNECTED, None)
        assert not device.parsed.moves_link(None, None)
