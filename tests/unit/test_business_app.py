"""The rules of WhatsApp Business app numbers (domain/business_app.py), table-tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from whatsapp.domain.business_app import (
    HISTORY_COMPLETE,
    SYNC_WINDOW,
    AppLink,
    Disconnection,
    Syncs,
    SyncState,
    SyncType,
    answered,
    contacts_seen,
    history_seen,
    link_after,
)
from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import Decision, decide

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DUE, REQ, ACC, INP, FIN, DEC, REF, EXP = (
    SyncState.DUE,
    SyncState.REQUESTED,
    SyncState.ACCEPTED,
    SyncState.IN_PROGRESS,
    SyncState.FINISHED,
    SyncState.DECLINED,
    SyncState.REFUSED,
    SyncState.EXPIRED,
)


@pytest.mark.parametrize(
    ("contacts", "history", "deadline", "expected"),
    [
        (DUE, DUE, NOW + SYNC_WINDOW, SyncType.CONTACTS),  # contacts first
        (ACC, DUE, NOW + timedelta(hours=1), SyncType.HISTORY),
        (REQ, DUE, NOW + timedelta(hours=1), SyncType.HISTORY),  # the contacts answer was lost: sent anyway
        (REF, DUE, NOW + timedelta(hours=1), SyncType.HISTORY),
        (ACC, ACC, NOW + timedelta(hours=1), None),
        (ACC, REQ, NOW + timedelta(hours=1), None),  # answer unknown: never resent
        (DUE, DUE, NOW, None),  # the deadline is exclusive
        (DUE, DUE, NOW - timedelta(seconds=1), None),
        (DUE, DUE, None, None),  # no window known: nothing is sent
        (None, None, None, None),  # not a WhatsApp Business app number
    ],
)
def test_next_due_sync(
    contacts: SyncState | None,
    history: SyncState | None,
    deadline: datetime | None,
    expected: SyncType | None,
) -> None:
    assert Syncs(contacts, history, deadline).next_due(NOW) is expected


def test_a_new_link_opens_both_syncs_for_24_hours() -> None:
    assert Syncs.opened(NOW) == Syncs(DUE, DUE, NOW + timedelta(hours=24))
    assert Syncs.opened(NOW).waiting


@pytest.mark.parametrize(
    ("syncs", "expected"),
    [
        (Syncs(DUE, DUE, NOW), Syncs(EXP, EXP, NOW)),
        (Syncs(ACC, DUE, NOW - timedelta(hours=1)), Syncs(ACC, EXP, NOW - timedelta(hours=1))),
        (Syncs(REQ, ACC, NOW), Syncs(REQ, ACC, NOW)),
        (Syncs(DUE, DUE, NOW + timedelta(seconds=1)), Syncs(DUE, DUE, NOW + timedelta(seconds=1))),
        (Syncs(), Syncs()),
    ],
)
def test_expired(syncs: Syncs, expected: Syncs) -> None:
    assert syncs.expired(NOW) == expected


@pytest.mark.parametrize(
    ("accepted", "known", "expected"),
    [(True, True, ACC), (False, True, REF), (True, False, REQ), (False, False, REQ)],
)
def test_a_request_answer(accepted: bool, known: bool, expected: SyncState) -> None:
    assert answered(accepted=accepted, answer_known=known) is expected


@pytest.mark.parametrize(
    ("current", "progress", "declined", "expected"),
    [
        (ACC, 50, False, INP),
        (ACC, HISTORY_COMPLETE, False, FIN),
        (INP, 100, False, FIN),
        (FIN, 50, False, FIN),  # a late chunk does not undo the end (Meta delivers out of order)
        (ACC, None, True, DEC),
        (INP, None, True, DEC),
        (REQ, 50, False, INP),  # the lost answer was an acceptance after all
        (DEC, 100, False, DEC),
        (None, 50, False, None),  # not a WhatsApp Business app number
    ],
)
def test_history_webhooks(
    current: SyncState | None, progress: int | None, declined: bool, expected: SyncState | None
) -> None:
    assert history_seen(current, progress=progress, declined=declined) is expected


@pytest.mark.parametrize(
    ("current", "expected"), [(ACC, FIN), (REQ, FIN), (FIN, FIN), (REF, REF), (DUE, FIN), (None, None)]
)
def test_contacts_webhooks(current: SyncState | None, expected: SyncState | None) -> None:
    assert contacts_seen(current) is expected


GONE = Disconnection("ACCOUNT_DISCONNECTED", "USER")


@pytest.mark.parametrize(
    ("current", "event", "disconnection", "expected"),
    [
        (AppLink.CONNECTED, "ACCOUNT_OFFBOARDED", None, AppLink.RECONNECTING),
        (AppLink.RECONNECTING, "ACCOUNT_RECONNECTED", None, AppLink.CONNECTED),
        (AppLink.CONNECTED, "PARTNER_REMOVED", GONE, AppLink.DISCONNECTED),
        (AppLink.RECONNECTING, "PARTNER_REMOVED", GONE, AppLink.DISCONNECTED),
        (AppLink.CONNECTED, "PARTNER_REMOVED", None, AppLink.CONNECTED),  # no disconnection_info
        (AppLink.DISCONNECTED, "ACCOUNT_RECONNECTED", None, AppLink.DISCONNECTED),  # final
        (AppLink.CONNECTED, "ACCOUNT_VIOLATION", None, AppLink.CONNECTED),
        (None, "ACCOUNT_OFFBOARDED", None, None),  # not a WhatsApp Business app number
    ],
)
def test_link_events(
    current: AppLink | None, event: str, disconnection: Disconnection | None, expected: AppLink | None
) -> None:
    assert link_after(current, event, disconnection) is expected


def test_disconnection_info_is_read_from_the_account_update() -> None:
    value = {
        "event": "PARTNER_REMOVED",
        "disconnection_info": {"reason": "CHANGE_NUMBER", "initiated_by": "USER"},
    }
    found = Disconnection.from_value(value)
    assert found == Disconnection("CHANGE_NUMBER", "USER")
    assert found.describe() == "disconnected from the WhatsApp Business app by USER: CHANGE_NUMBER"
    assert Disconnection.from_value({"event": "PARTNER_REMOVED"}) is None
    assert Disconnection.from_value({"disconnection_info": "junk"}) is None
    assert Disconnection.from_value({"disconnection_info": {}}) == Disconnection(None, None)


@pytest.mark.parametrize(
    ("node", "pending", "decision"),
    [
        # Meta fixes a business app number's throughput: never read as pending, never registered.
        (
            {"is_on_biz_app": True, "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"}},
            False,
            "on_business_app",
        ),
        ({"is_on_biz_app": True, "throughput": {"level": "NOT_APPLICABLE"}}, False, "on_business_app"),
        (
            {"is_on_biz_app": True, "name_status": "PENDING_REVIEW", "platform_type": "NOT_APPLICABLE"},
            False,
            "on_business_app",
        ),
        ({"is_on_biz_app": True, "new_name_status": "APPROVED"}, False, "on_business_app"),
        (
            {"is_on_biz_app": False, "platform_type": "NOT_APPLICABLE", "name_status": "APPROVED"},
            True,
            "register",
        ),
        ({"platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"}}, False, "already_provisioned"),
    ],
)
def test_a_business_app_number_is_never_pending_nor_registered(
    node: dict[str, object], pending: bool, decision: str
) -> None:
    health = PhoneHealth.from_graph({"id": "1", **node})
    assert health.is_pending is pending
    assert decide(health) is Decision(decision)


def test_graph_booleans_are_read_as_json_spells_them() -> None:
    assert PhoneHealth.from_graph({"id": "1", "is_on_biz_app": True}).get("is_on_biz_app") == "true"
    assert PhoneHealth.from_graph({"id": "1", "is_on_biz_app": False}).get("is_on_biz_app") == "false"
    assert PhoneHealth.from_graph({"id": "1"}).get("is_on_biz_app") is None


def test_metas_words_are_cut_to_what_the_store_keeps() -> None:
    long = Disconnection.from_value({"disconnection_info": {"reason": "R" * 300, "initiated_by": "U" * 100}})
    assert long is not None and len(long.reason or "") == 255 and len(long.initiated_by or "") == 64
