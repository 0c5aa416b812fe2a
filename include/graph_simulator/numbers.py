"""Creating, changing and showing phone numbers: shared by the control API and ``--seed``."""

from __future__ import annotations

from collections import deque
from typing import Any

from include.graph_simulator.business_app import COEXISTENCE_STATE, start_onboarding
from include.graph_simulator.state import Number, SimState, Waba, iso

#: Keys a number spec may set directly on :class:`Number`.
NUMBER_ATTRIBUTES = (
    "display_phone_number",
    "verified_name",
    "name_status",
    "new_name_status",
    "review_outcome",
    "code_verification_status",
    "platform_type",
    "throughput_level",
    "messaging_limit_tier",
    "quality_rating",
    "status",
    "account_mode",
    "is_official_business_account",
    "pin",
    "locked",
    "needs_reverification",
    "is_on_biz_app",
    "history_shared",
)
REGISTER_WINDOW_SECONDS = 72 * 3600.0


class SpecError(ValueError):
    """A control request that cannot be applied (unknown id, id clash): answered with 4xx."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _waba_for(state: SimState, spec: dict[str, Any]) -> Waba:
    waba_id = spec.get("waba_id")
    business_id = spec.get("business_id")
    if waba_id and waba_id in state.wabas:
        waba = state.wabas[waba_id]
        if business_id and business_id != waba.business_id:
            raise SpecError(409, f"WABA {waba_id} belongs to business {waba.business_id}, not {business_id}")
    else:
        waba = Waba(
            waba_id=waba_id or state.next_id("1"),
            business_id=business_id or state.next_id("5"),
            name=f"Sim WhatsApp Business Account {len(state.wabas) + 1}",
        )
        state.wabas[waba.waba_id] = waba
    if spec.get("scope"):
        waba.scope = spec["scope"]
    if spec.get("subscribed") is not None:
        waba.subscribed = bool(spec["subscribed"])
    return waba


def create_number(state: SimState, spec: dict[str, Any]) -> Number:
    """Add one number (and its WABA if new); ids left out are generated as 15 digits."""
    phone_number_id = spec.get("phone_number_id")
    if phone_number_id and (phone_number_id in state.numbers or phone_number_id in state.wabas):
        raise SpecError(409, f"id {phone_number_id} already exists")
    waba = _waba_for(state, spec)
    serial = len(state.numbers) + 1
    now = state.clock.now()
    number = Number(
        phone_number_id=phone_number_id or state.next_id("3"),
        waba_id=waba.waba_id,
        display_phone_number=f"+1 555-{serial // 10000 % 1000:03d}-{serial % 10000:04d}",
        verified_name=f"Sim Business {serial}",
        created_at=now,
    )
    for key in NUMBER_ATTRIBUTES:
        if spec.get(key) is not None:
            setattr(number, key, spec[key])
    if spec.get("is_on_biz_app"):
        _onboard_business_app(number, spec, now)
    if spec.get("review_seconds") is not None:
        number.review_seconds = float(spec["review_seconds"])
    if number.name_status == "PENDING_REVIEW":
        number.review_at = now + number.review_seconds
    state.numbers[number.phone_number_id] = number
    waba.number_ids.append(number.phone_number_id)
    return number


def update_number(state: SimState, number: Number, changes: dict[str, Any]) -> None:
    """Change a number's state later (quality drops, bans, token expiry, a new review...)."""
    now = state.clock.now()
    number.refresh(now)
    for key in NUMBER_ATTRIBUTES:
        if key in changes:
            setattr(number, key, changes[key])
    waba = state.wabas[number.waba_id]
    if changes.get("is_on_biz_app"):
        # Saying so again is a new coexistence onboarding (the business went through the flow).
        _onboard_business_app(number, changes, now)
        number.review_at = None
        waba.partner_removed = False
    if changes.get("review_seconds") is not None:
        number.review_seconds = float(changes["review_seconds"])
    if changes.get("name_status") == "PENDING_REVIEW" or "review_seconds" in changes:
        number.review_at = now + number.review_seconds
    elif "name_status" in changes:
        number.review_at = None
    if "new_name_status" in changes:
        # A decision taken through /_sim ends a pending name-change review at once.
        number.new_name_review_at = None
        if changes["new_name_status"] == "APPROVED":
            number.new_name_approved_at = now
        elif changes["new_name_status"] in ("DECLINED", "NONE", "EXPIRED"):
            number.new_name_approved_at = None
    if changes.get("scope"):
        waba.scope = changes["scope"]
    if changes.get("subscribed") is not None:
        waba.subscribed = bool(changes["subscribed"])
    if changes.get("token_state"):
        for token in state.tokens_by_waba.get(number.waba_id, []):
            token.state = changes["token_state"]
    if changes.get("clear_register_attempts"):
        for attempts in (number.register_attempts, number.deregister_attempts, number.pin_failures):
            attempts.clear()
        number.register_blocked_until = number.deregister_blocked_until = number.pin_locked_until = None


def _onboard_business_app(number: Number, spec: dict[str, Any], now: float) -> None:
    """A WhatsApp Business app number is registered through the app from the start: Graph
    shows it connected on Cloud API (``business_app.COEXISTENCE_STATE``), unless the spec says
    otherwise field by field."""
    for key, value in COEXISTENCE_STATE.items():
        if spec.get(key) is None:
            setattr(number, key, value)
    start_onboarding(number, now)


def attempts_in_window(attempts: deque[float], now: float, window: float = REGISTER_WINDOW_SECONDS) -> int:
    """Calls in the rolling window ending now (older ones are dropped from ``attempts``)."""
    while attempts and attempts[0] <= now - window:
        attempts.popleft()
    return len(attempts)


def number_view(state: SimState, number: Number) -> dict[str, Any]:
    """A number's whole state, secrets included: tests use it to prove secrets never leak."""
    now = state.clock.now()
    number.refresh(now)
    waba = state.wabas[number.waba_id]
    return {
        "phone_number_id": number.phone_number_id,
        "waba_id": waba.waba_id,
        "business_id": waba.business_id,
        "display_phone_number": number.display_phone_number,
        "verified_name": number.verified_name,
        "name_status": number.name_status,
        "new_name_status": number.new_name_status,
        "review_at": None if number.review_at is None else iso(number.review_at),
        "review_outcome": number.review_outcome,
        "code_verification_status": number.code_verification_status,
        "platform_type": number.platform_type,
        "throughput": {"level": number.throughput_level},
        "messaging_limit_tier": number.messaging_limit_tier,
        "quality_rating": number.quality_rating,
        "status": number.status,
        "account_mode": number.account_mode,
        "is_official_business_account": number.is_official_business_account,
        "is_on_biz_app": number.is_on_biz_app,
        "history_shared": number.history_shared,
        "onboarded_at": iso(number.onboarding_time()),
        "smb_syncs": dict(number.smb_syncs),
        "app_offboarded": number.app_offboarded,
        "created_at": iso(number.created_at),
        "pin": number.pin,
        "webhook_configuration": {
            "override_callback_uri": number.webhook_override_uri,
            "verify_token": number.webhook_verify_token,
        },
        "register_attempts": [iso(t) for t in number.register_attempts],
        "register_attempts_72h": attempts_in_window(number.register_attempts, now),
        "register_blocked_until": _iso_or_none(number.register_blocked_until),
        "deregister_attempts_72h": attempts_in_window(number.deregister_attempts, now),
        "deregister_blocked_until": _iso_or_none(number.deregister_blocked_until),
        "deregistered_at": _iso_or_none(number.deregistered_at),
        "pin_failures": len(number.pin_failures),
        "pin_locked_until": _iso_or_none(number.pin_locked_until),
        "locked": number.locked,
        "needs_reverification": number.needs_reverification,
        "review_seconds": number.review_seconds,
        "new_display_name": number.new_display_name,
        "new_name_review_at": _iso_or_none(number.new_name_review_at),
        "new_name_approved_at": _iso_or_none(number.new_name_approved_at),
        "name_change_requests_30d": len(number.name_change_requests),
        "waba": {
            "name": waba.name,
            "subscribed": waba.subscribed,
            "scope": waba.scope,
            "override_callback_uri": waba.override_callback_uri,
            "verify_token": waba.verify_token,
            "number_ids": list(waba.number_ids),
            "code_exchanged_at": _iso_or_none(waba.code_exchanged_at),
            "partner_removed": waba.partner_removed,
        },
        "tokens": [
            {"access_token": t.value, "state": t.state, "issued_at": iso(t.issued_at)}
            for t in state.tokens_by_waba.get(waba.waba_id, [])
        ],
        "codes": [code for code, waba_id in state.codes.items() if waba_id == waba.waba_id],
    }


def _iso_or_none(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)
