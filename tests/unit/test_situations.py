"""A channel's situation, table-tested: every kind from the facts that lead to it, and its wording."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from whatsapp.domain.business_app import AppLink, SyncState
from whatsapp.domain.registration import (
    ATTENTION_ACTIONS,
    NAME_CHANGE_WINDOW,
    Attention,
    NameChange,
    ReauthorizationReason,
    RegistrationState,
)
from whatsapp.domain.registration_machine import (
    AccountEvent,
    NameReviewDecided,
    RegisterAnswered,
    Registration,
    transition,
)
from whatsapp.domain.situations import (
    NEEDS_ACTION_KINDS,
    SITUATION_RULES,
    SITUATION_SPECS,
    SITUATIONS,
    SORT_RANK,
    AccountEventSeen,
    ActionKind,
    SituationDetails,
    SituationFacts,
    SituationKind,
    SituationSeverity,
    ordered_rules,
    refused_register_text,
    rule,
    situation,
    situation_kind,
)
from whatsapp.errors import ErrorKind

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
S = RegistrationState
R = ReauthorizationReason
K = SituationKind
A = Attention
L = AppLink
Y = SyncState


@dataclass(frozen=True)
class Refused:
    """A stored Graph error (the store's ``CheckError`` has the same four attributes)."""

    kind: str
    code: int | None
    subcode: int | None
    message: str | None


NAME_NOT_READY = Refused("display_name_not_ready", 100, 2388001, "display name not approved")
TOO_MANY = Refused("register_limit", 133016, None, "too many register calls")
BAD_TOKEN = Refused("token_invalid", 190, None, "Error validating access token")


#: (facts, kind): every kind at least once, plus the precedence rules between them.
CASES: list[tuple[SituationFacts, SituationKind]] = [
    (SituationFacts(S.REGISTERED), K.HEALTHY),
    (SituationFacts(), K.NOT_CHECKED),
    (SituationFacts(S.UNKNOWN, check_failed=True), K.CHECK_FAILED),
    (SituationFacts(S.AWAITING_DISPLAY_NAME, R.REGISTRATION_INCOMPLETE), K.NAME_IN_REVIEW),
    (SituationFacts(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, name_status="PENDING_REVIEW"), K.NAME_IN_REVIEW),
    (SituationFacts(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, refused=True), K.REGISTER_BACKOFF),
    (SituationFacts(S.SCHEDULED, R.REGISTRATION_INCOMPLETE), K.REGISTRATION_PENDING),
    (SituationFacts(S.BLOCKED, R.REGISTRATION_INCOMPLETE, refused=True), K.BLOCKED),
    (SituationFacts(S.NEEDS_ATTENTION, attention=A.PIN_MISMATCH), K.PIN_MISMATCH),
    (SituationFacts(S.NEEDS_ATTENTION, attention=A.NEEDS_REVERIFICATION), K.NEEDS_REVERIFICATION),
    (SituationFacts(S.NEEDS_ATTENTION, attention=A.DISPLAY_NAME_DECLINED), K.NAME_DECLINED),
    (SituationFacts(S.NEEDS_ATTENTION, attention=A.ACCOUNT_LOCKED), K.ACCOUNT_LOCKED),
    (SituationFacts(S.NEEDS_ATTENTION, attention=A.ACCOUNT_EVENT), K.ACCOUNT_EVENT),
    (SituationFacts(S.NEEDS_ATTENTION, attention=A.GRAPH_ERROR), K.GRAPH_ERROR),
    # needs_attention stored before attentions were: the name's status tells, else Meta refused
    (SituationFacts(S.NEEDS_ATTENTION, name_status="DECLINED"), K.NAME_DECLINED),
    (SituationFacts(S.NEEDS_ATTENTION), K.GRAPH_ERROR),
    (SituationFacts(S.REAUTHORIZATION_REQUIRED, R.TOKEN_INVALID), K.TOKEN_INVALID),
    (SituationFacts(S.REGISTERED, R.PERMISSION_REVOKED), K.PERMISSION_REVOKED),
    # the customer's reasons win over every other fact
    (SituationFacts(S.NEEDS_ATTENTION, R.TOKEN_INVALID, attention=A.PIN_MISMATCH), K.TOKEN_INVALID),
    (SituationFacts(S.SCHEDULED, R.PERMISSION_REVOKED, check_failed=True), K.PERMISSION_REVOKED),
    (SituationFacts(S.REGISTERED, name_change=NameChange.REQUESTED), K.NAME_CHANGE_IN_REVIEW),
    (SituationFacts(S.SCHEDULED, name_change=NameChange.APPROVED), K.NAME_CHANGE_DUE),
    (SituationFacts(S.SCHEDULED, name_change=NameChange.APPROVED, refused=True), K.NAME_CHANGE_DUE),
    (SituationFacts(S.REGISTERED, name_change=NameChange.LAPSED), K.NAME_CHANGE_LAPSED),
    (SituationFacts(S.REGISTERED, name_change=NameChange.DECLINED), K.NAME_CHANGE_DECLINED),
    # a failed read hides neither a lapsed change nor a registration in progress...
    (SituationFacts(S.REGISTERED, name_change=NameChange.LAPSED, check_failed=True), K.NAME_CHANGE_LAPSED),
    (SituationFacts(S.SCHEDULED, check_failed=True), K.REGISTRATION_PENDING),
    # ...but a live number whose last read failed is not called healthy
    (SituationFacts(S.REGISTERED, check_failed=True), K.CHECK_FAILED),
    (SituationFacts(S.REGISTERED, R.TOKEN_INVALID, active=False), K.OFFBOARDED),
    (SituationFacts(S.UNKNOWN, active=False), K.OFFBOARDED),
    # WhatsApp Business app numbers: the link and the history sync.
    (SituationFacts(S.REGISTERED, business_app=L.CONNECTED, history_sync=Y.DUE), K.HISTORY_SYNC_DUE),
    (SituationFacts(S.REGISTERED, business_app=L.CONNECTED, history_sync=Y.DECLINED), K.HISTORY_NOT_SHARED),
    (SituationFacts(S.REGISTERED, business_app=L.CONNECTED, history_sync=Y.FINISHED), K.HEALTHY),
    (SituationFacts(S.REGISTERED, business_app=L.CONNECTED, history_sync=Y.REQUESTED), K.HEALTHY),
    (SituationFacts(S.REGISTERED, business_app=L.RECONNECTING, history_sync=Y.DUE), K.APP_RECONNECTING),
    (SituationFacts(S.UNKNOWN, active=False, business_app=L.DISCONNECTED), K.APP_DISCONNECTED),
    # Meta's quality rating: low (red, or flagged) needs a person; medium is a warning.
    (SituationFacts(S.REGISTERED, quality_rating="RED"), K.QUALITY_LOW),
    (SituationFacts(S.REGISTERED, quality_rating="GREEN", phone_status="FLAGGED"), K.QUALITY_LOW),
    (SituationFacts(S.REGISTERED, quality_rating="YELLOW"), K.QUALITY_MEDIUM),
    (SituationFacts(S.REGISTERED, quality_rating="GREEN", phone_status="CONNECTED"), K.HEALTHY),
    (SituationFacts(S.REGISTERED, R.TOKEN_INVALID, quality_rating="RED"), K.TOKEN_INVALID),
    (SituationFacts(S.REGISTERED, quality_rating="RED", active=False), K.OFFBOARDED),
    # Meta lowered the messaging limit (DOWNGRADE): never healthy; quality low still comes first.
    (SituationFacts(S.REGISTERED, quality_rating="GREEN", limit_lowered=True), K.MESSAGING_LIMIT_LOWERED),
    (SituationFacts(S.REGISTERED, quality_rating="YELLOW", limit_lowered=True), K.MESSAGING_LIMIT_LOWERED),
    (SituationFacts(S.REGISTERED, quality_rating="RED", limit_lowered=True), K.QUALITY_LOW),
    # What a person must fix comes before the app's sync.
    (
        SituationFacts(S.REGISTERED, R.TOKEN_INVALID, business_app=L.CONNECTED, history_sync=Y.DUE),
        K.TOKEN_INVALID,
    ),
]


@pytest.mark.parametrize(("facts", "kind"), CASES)
def test_situation_kind(facts: SituationFacts, kind: SituationKind) -> None:
    assert situation_kind(facts) is kind


def test_every_kind_is_reachable_and_described() -> None:
    assert {kind for _, kind in CASES} == set(SituationKind)
    assert set(SITUATIONS) == set(SituationKind)
    for kind, info in SITUATIONS.items():
        assert info.title.strip() and info.action.label.strip(), kind
        # a person must act exactly where the severity is an error
        assert info.needs_action == (info.severity is SituationSeverity.ERROR), kind


def test_needs_action_kinds() -> None:
    assert {
        K.PIN_MISMATCH,
        K.NEEDS_REVERIFICATION,
        K.NAME_DECLINED,
        K.TOKEN_INVALID,
        K.PERMISSION_REVOKED,
        K.ACCOUNT_EVENT,
        K.ACCOUNT_LOCKED,
        K.NAME_CHANGE_LAPSED,
        K.NAME_CHANGE_DECLINED,
        K.GRAPH_ERROR,
        K.QUALITY_LOW,
    } == NEEDS_ACTION_KINDS


def test_sort_rank_puts_every_kind_that_needs_action_first_most_urgent_first() -> None:
    assert sorted(SORT_RANK.values()) == list(range(len(SituationKind)))  # one rank per kind
    order = sorted(SORT_RANK, key=SORT_RANK.__getitem__)
    assert set(order[: len(NEEDS_ACTION_KINDS)]) == NEEDS_ACTION_KINDS
    assert order[:2] == [K.TOKEN_INVALID, K.PERMISSION_REVOKED]  # only the customer can fix these
    assert order[len(NEEDS_ACTION_KINDS)] is K.BLOCKED
    assert order[-4:] == [K.NOT_CHECKED, K.HEALTHY, K.APP_DISCONNECTED, K.OFFBOARDED]


def test_the_last_rule_matches_every_channel() -> None:
    assert SITUATION_RULES[-1].when == () and SITUATION_RULES[-1].kind is K.NOT_CHECKED


@pytest.mark.parametrize(("facts", "kind"), CASES)
def test_every_situation_has_words(facts: SituationFacts, kind: SituationKind) -> None:
    found = situation(facts)
    assert found.kind is kind and found.detail.strip().endswith(".")
    assert (found.severity, found.needs_action, found.title, found.action) == (
        SITUATIONS[kind].severity,
        SITUATIONS[kind].needs_action,
        SITUATIONS[kind].title,
        SITUATIONS[kind].action,
    )


@pytest.mark.parametrize(
    ("attention", "kind"),
    [
        (A.PIN_MISMATCH, K.PIN_MISMATCH),
        (A.NEEDS_REVERIFICATION, K.NEEDS_REVERIFICATION),
        (A.DISPLAY_NAME_DECLINED, K.NAME_DECLINED),
        (A.ACCOUNT_LOCKED, K.ACCOUNT_LOCKED),
        (A.GRAPH_ERROR, K.GRAPH_ERROR),
    ],
)
def test_attention_banners_reuse_the_advice(attention: Attention, kind: SituationKind) -> None:
    """The banner says what notifications say (ATTENTION_ACTIONS), as a sentence, with Meta's answer."""
    found = situation(
        SituationFacts(S.NEEDS_ATTENTION, attention=attention),
        SituationDetails(last_attempt_at=NOW, last_attempt_error=TOO_MANY),
    )
    advice = ATTENTION_ACTIONS[attention]
    assert found.kind is kind
    assert found.detail.startswith(advice[0].upper() + advice[1:])
    assert "133016" in found.detail and found.error is TOO_MANY and found.since == NOW
    assert found.action.kind in (ActionKind.OPEN_WHATSAPP_MANAGER, ActionKind.COMPLETE_REGISTRATION)


def test_backoff_names_metas_refusal_and_the_next_try() -> None:
    due = NOW + timedelta(minutes=15)
    found = situation(
        SituationFacts(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, refused=True),
        SituationDetails(last_attempt_at=NOW, last_attempt_error=NAME_NOT_READY, next_attempt_at=due),
    )
    assert (found.kind, found.since, found.next_try, found.error) == (
        K.REGISTER_BACKOFF,
        NOW,
        due,
        NAME_NOT_READY,
    )
    assert "2388001" in found.detail and found.action.kind is ActionKind.WAIT and not found.needs_action


def test_blocked_says_how_many_calls_and_waits_for_the_window() -> None:
    reopens = NOW + timedelta(hours=70)
    found = situation(
        SituationFacts(S.BLOCKED, R.REGISTRATION_INCOMPLETE, refused=True),
        SituationDetails(
            attempts_72h=8, last_attempt_at=NOW, last_attempt_error=TOO_MANY, next_attempt_at=reopens
        ),
    )
    assert found.kind is K.BLOCKED and found.next_try == reopens and "8 register calls" in found.detail


def test_name_change_due_has_its_deadline() -> None:
    deadline = NOW + NAME_CHANGE_WINDOW
    found = situation(
        SituationFacts(S.SCHEDULED, name_change=NameChange.APPROVED),
        SituationDetails(name_change_deadline=deadline, next_attempt_at=NOW, new_display_name="Acme Support"),
    )
    assert (found.kind, found.deadline, found.since, found.next_try) == (
        K.NAME_CHANGE_DUE,
        deadline,
        NOW,
        NOW,
    )
    assert "Acme Support" in found.detail and found.action.kind is ActionKind.COMPLETE_REGISTRATION


def test_account_event_names_the_event() -> None:
    event = AccountEventSeen("ACCOUNT_VIOLATION", NOW, "account_update: ACCOUNT_VIOLATION (SCAM)")
    found = situation(
        SituationFacts(S.NEEDS_ATTENTION, attention=A.ACCOUNT_EVENT), SituationDetails(account_event=event)
    )
    assert found.kind is K.ACCOUNT_EVENT and found.since == NOW
    assert found.detail.startswith("Meta reported account_update: ACCOUNT_VIOLATION (SCAM). ")


def test_customer_and_check_failures_carry_the_read_error() -> None:
    found = situation(
        SituationFacts(S.REAUTHORIZATION_REQUIRED, R.TOKEN_INVALID, check_failed=True),
        SituationDetails(last_check_failed_at=NOW, last_check_error=BAD_TOKEN),
    )
    assert (found.kind, found.error, found.since) == (K.TOKEN_INVALID, BAD_TOKEN, NOW)
    assert found.action.kind is ActionKind.CUSTOMER_REAUTHORIZE


def test_offboarded_since_it_was_offboarded() -> None:
    found = situation(
        SituationFacts(active=False), SituationDetails(offboarded_at=NOW, created_at=NOW - timedelta(days=9))
    )
    assert (found.kind, found.since, found.action.kind) == (K.OFFBOARDED, NOW, ActionKind.ONBOARD_AGAIN)


def test_healthy_has_no_since_no_error_and_no_next_try() -> None:
    found = situation(
        SituationFacts(S.REGISTERED),
        SituationDetails(last_attempt_error=NAME_NOT_READY, next_attempt_at=NOW, last_attempt_at=NOW),
    )
    assert (found.since, found.error, found.next_try, found.deadline) == (None, None, None, None)


# ---- the registration machine stores what the situation needs -----------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ErrorKind.PIN_PROBLEM, K.PIN_MISMATCH),
        (ErrorKind.NEEDS_REVERIFICATION, K.NEEDS_REVERIFICATION),
        (ErrorKind.ACCOUNT_LOCKED, K.ACCOUNT_LOCKED),
        (ErrorKind.INVALID_REQUEST, K.GRAPH_ERROR),
        (ErrorKind.DISPLAY_NAME_NOT_READY, K.REGISTER_BACKOFF),
        (ErrorKind.REGISTER_LIMIT, K.BLOCKED),
        (ErrorKind.TOKEN_INVALID, K.TOKEN_INVALID),
        (ErrorKind.PERMISSION, K.PERMISSION_REVOKED),
        (None, K.HEALTHY),
    ],
)
def test_a_register_answer_leads_to_its_situation(error: ErrorKind | None, kind: SituationKind) -> None:
    start = Registration(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, NOW)
    moved = transition(start, RegisterAnswered(error, NOW)).registration
    facts = SituationFacts(
        moved.state,
        moved.reason,
        moved.attention,
        refused=moved.failures_in_a_row > 0,
    )
    assert situation_kind(facts) is kind


def test_attention_is_kept_only_while_needs_attention() -> None:
    flagged = transition(Registration(S.SCHEDULED), RegisterAnswered(ErrorKind.PIN_PROBLEM, NOW)).registration
    assert (flagged.state, flagged.attention) == (S.NEEDS_ATTENTION, A.PIN_MISMATCH)
    fixed = transition(flagged, RegisterAnswered(None, NOW)).registration
    assert (fixed.state, fixed.attention) == (S.REGISTERED, None)


def test_meta_events_set_their_attention() -> None:
    declined = transition(
        Registration(S.AWAITING_DISPLAY_NAME), NameReviewDecided("REJECTED", NOW)
    ).registration
    banned = transition(Registration(S.REGISTERED), AccountEvent("ACCOUNT_VIOLATION", NOW)).registration
    assert (declined.attention, banned.attention) == (A.DISPLAY_NAME_DECLINED, A.ACCOUNT_EVENT)


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        (ErrorKind.PIN_PROBLEM, ATTENTION_ACTIONS[A.PIN_MISMATCH][1:]),
        (ErrorKind.DISPLAY_NAME_NOT_READY, "tries again by itself"),
        (ErrorKind.TOKEN_INVALID, "only the customer"),
    ],
)
def test_refused_register_text(kind: ErrorKind, says: str) -> None:
    text = refused_register_text(kind)
    assert text.startswith("Meta refused the register call") and says in text


@pytest.mark.parametrize(
    "kind", [K.NAME_CHANGE_LAPSED, K.NAME_CHANGE_DECLINED, K.OFFBOARDED, K.ACCOUNT_EVENT]
)
def test_an_old_register_refusal_is_not_shown_where_it_is_not_the_cause(kind: SituationKind) -> None:
    facts = next(f for f, k in CASES if k is kind)
    found = situation(facts, SituationDetails(last_attempt_at=NOW, last_attempt_error=NAME_NOT_READY))
    assert found.error is None and "2388001" not in found.detail


def test_a_spec_table_that_cannot_decide_every_channel_is_refused() -> None:
    """The rules are derived from the specs; a table with a gap or an ambiguity fails at import."""
    without_healthy = tuple(spec for spec in SITUATION_SPECS if spec.kind is not K.HEALTHY)
    with pytest.raises(ValueError, match="exactly one spec"):
        ordered_rules(without_healthy)
    healthy = SITUATIONS[K.HEALTHY]
    clash = replace(healthy, rules=(rule(SITUATIONS[K.BLOCKED].rules[0].precedence, state=S.REGISTERED),))
    with pytest.raises(ValueError, match="share a precedence"):
        ordered_rules((*without_healthy, clash))
    catch_all = replace(healthy, rules=(rule(50),))
    with pytest.raises(ValueError, match="the last, must match every channel"):
        ordered_rules((*without_healthy, catch_all))
    assert ordered_rules(SITUATION_SPECS) == SITUATION_RULES


def test_metas_own_period_is_not_doubled() -> None:
    expired = Refused("token_invalid", 190, None, "Error validating access token: Session has expired.")
    found = situation(
        SituationFacts(S.REGISTERED, R.TOKEN_INVALID), SituationDetails(last_check_error=expired)
    )
    assert found.detail.endswith("Session has expired.") and ".." not in found.detail, found.detail


def test_a_refusal_says_meta_refused_once() -> None:
    text = refused_register_text(ErrorKind.INVALID_REQUEST)
    assert text.count("Meta refused the register call") == 1, text


def test_a_name_not_ready_refusal_says_the_certificate_is_not_ready() -> None:
    """2388001 reads "(#100) Invalid parameter" beside a name Meta shows APPROVED: the hint says why."""
    found = situation(
        SituationFacts(S.SCHEDULED, R.REGISTRATION_INCOMPLETE, refused=True),
        SituationDetails(last_attempt_at=NOW, last_attempt_error=NAME_NOT_READY),
    )
    assert "certificate is not ready yet" in found.detail
    assert "certificate is not ready yet" in refused_register_text(ErrorKind.DISPLAY_NAME_NOT_READY)
    assert "certificate" not in refused_register_text(ErrorKind.PIN_PROBLEM)


@pytest.mark.parametrize(("facts", "kind"), CASES)
def test_no_banner_says_the_fleet_retries_while_it_is_paused(
    facts: SituationFacts, kind: SituationKind
) -> None:
    paused = situation(facts, SituationDetails(fleet_paused=True, next_attempt_at=NOW))
    running = situation(facts, SituationDetails(next_attempt_at=NOW))
    words = f"{paused.detail} {paused.action.label}".lower()
    assert "by itself" not in words, (kind, words)
    if SITUATIONS[kind].fleet_moves_it:
        assert "paused" in words, (kind, words)
    else:
        assert (paused.detail, paused.action) == (running.detail, running.action)


def test_the_kinds_fixed_in_whatsapp_manager_offer_complete_registration() -> None:
    offered = {spec.kind for spec in SITUATION_SPECS if spec.also_register}
    assert offered == {
        K.PIN_MISMATCH,
        K.NEEDS_REVERIFICATION,
        K.NAME_DECLINED,
        K.ACCOUNT_LOCKED,
        K.ACCOUNT_EVENT,
    }
    assert all(SITUATIONS[kind].action.kind is ActionKind.OPEN_WHATSAPP_MANAGER for kind in offered)


def test_groups_never_call_a_problem_healthy() -> None:
    healthy = {spec.kind for spec in SITUATION_SPECS if spec.group.value == "healthy"}
    assert healthy == {K.HEALTHY, K.HISTORY_NOT_SHARED}
    assert {spec.kind for spec in SITUATION_SPECS if spec.group.value == "needs_action"} == NEEDS_ACTION_KINDS
