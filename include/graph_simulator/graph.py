"""The Graph API surface the project uses, as synchronous functions over :class:`SimState`.

One :func:`dispatch` serves a plain HTTP request and a batch sub-request alike, so both
count toward usage and fail the same way. Shapes follow Meta's documentation and the
OpenAPI spec in ``vendor/meta-openapi/`` (see README.md for the deviations).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec

from include.graph_simulator import business_app, errors
from include.graph_simulator.errors import GraphError
from include.graph_simulator.numbers import attempts_in_window
from include.graph_simulator.state import SCOPE_MESSAGING, Number, SimState, Token, Waba, iso

VERSION_RE = re.compile(r"^v\d+\.\d+$")
PIN_RE = re.compile(r"^\d{6}$")
REGISTER_LIMIT = 10  # per number per rolling 72 h, register and deregister counted apart
REGISTER_BLOCK_SECONDS = 72 * 3600.0
#: 133015: registering again this soon after a deregistration ("wait a few minutes": 5).
REREGISTER_WAIT_SECONDS = 300.0
#: Two-step PIN guessing: 133009 for a wrong PIN this soon after the last wrong one, 133008
#: (and a lockout) at the PIN_GUESS_LIMIT-th wrong PIN within the window.
PIN_TOO_FAST_SECONDS = 30.0
PIN_GUESS_LIMIT = 5
PIN_GUESS_WINDOW_SECONDS = 3600.0
PIN_LOCK_SECONDS = 3600.0
#: Meta: 10 display-name change requests per number in 30 days.
NAME_CHANGE_LIMIT = 10
NAME_CHANGE_WINDOW = 30 * 24 * 3600.0
MAX_CALLBACK_URI_LENGTH = 200
#: From this version on the messaging limit is a string and ``messaging_limit_tier`` is gone.
MESSAGING_LIMIT_STRING_VERSION = 24.0
LATEST_VERSION = 99.0
NAME_READY = frozenset({"APPROVED", "AVAILABLE_WITHOUT_REVIEW"})
PHONE_NODE = "WhatsAppBusinessPhoneNumber"
WABA_NODE = "WhatsAppBusinessAccount"
#: What ``GET /{phone_number_id}`` answers without ``fields`` (the spec's defaults).
DEFAULT_NODE_FIELDS = ("display_phone_number", "verified_name", "quality_rating")
#: The spec marks these required on every ``/{waba_id}/phone_numbers`` item.
LIST_REQUIRED_FIELDS = ("display_phone_number", "status")
DEFAULT_LIST_FIELDS = (
    "display_phone_number",
    "verified_name",
    "code_verification_status",
    "quality_rating",
    "platform_type",
    "throughput",
    "status",
)
_LIMITED_STATUSES = frozenset({"FLAGGED", "RATE_LIMITED"})


@dataclass(slots=True)
class GraphRequest:
    """One Graph call, from HTTP or from a batch: version stripped, parameters merged."""

    method: str
    path: str  # e.g. "/106540352242922/register"; "/" for a batch envelope
    params: dict[str, Any]
    token: str | None
    base_url: str
    version: str = ""
    token_in_query: bool = False
    proof: str | None = None  # appsecret_proof sent with this call (or inherited in a batch)

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


@dataclass(slots=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None  # set when a fault replaces the body with broken JSON
    fault: str | None = None

    def text(self) -> str:
        # msgspec, not json.dumps: a batch answer is encoded twice (each body, then the envelope),
        # and in a 100k audit (2,000 batches) json.dumps was a sixth of the simulator's CPU, on
        # the cores the audit it stands in for needs.
        return self.raw if self.raw is not None else msgspec.json.encode(self.body).decode()


# -- usage --------------------------------------------------------------------------------


def _pct(count: int, budget: int) -> int:
    return int(count * 100 / max(budget, 1))


def usage_headers(state: SimState, waba: Waba | None, *, regain_minutes: int = 0) -> dict[str, str]:
    """``X-App-Usage`` always; ``X-Business-Use-Case-Usage`` when the call touched a WABA."""
    now = state.clock.now()
    app_pct = _pct(state.app_usage.count(now), state.config.app_hourly_budget)
    headers = {"X-App-Usage": _app_usage_header(app_pct)}
    if waba is not None:
        pct = _pct(waba.usage.count(now), state.config.waba_hourly_budget)
        headers["X-Business-Use-Case-Usage"] = _business_usage_header(waba.waba_id, pct, regain_minutes)
    return headers


@lru_cache(maxsize=128)
def _app_usage_header(app_pct: int) -> str:
    """The ``X-App-Usage`` value for a percentage (one per answer, so built once per value)."""
    return json.dumps({"call_count": app_pct, "total_cputime": app_pct // 2, "total_time": app_pct // 2})


def _business_usage_header(waba_id: str, pct: int, regain_minutes: int) -> str:
    """``json.dumps({waba_id: [business_usage_entry(pct, regain_minutes)]})``, written out: one per
    sub-response, each for another WABA (nothing to cache), and a third of json.dumps' time."""
    if type(pct) is not int or type(regain_minutes) is not int:
        return json.dumps({waba_id: [business_usage_entry(pct, regain_minutes)]})
    half = pct // 2
    return (
        f'{{{json.dumps(waba_id)}: [{{"type": "whatsapp_business_management", "call_count": {pct}, '
        f'"total_cputime": {half}, "total_time": {half}, '
        f'"estimated_time_to_regain_access": {regain_minutes}}}]}}'
    )


def business_usage_entry(pct: int, regain_minutes: int) -> dict[str, Any]:
    return {
        "type": "whatsapp_business_management",
        "call_count": pct,
        "total_cputime": pct // 2,
        "total_time": pct // 2,
        "estimated_time_to_regain_access": regain_minutes,
    }


def _spend_budget(state: SimState, waba: Waba | None, now: float) -> None:
    """Count the call, or refuse it when the WABA's or the app's hourly budget is spent."""
    if waba is not None and waba.usage.count(now) >= state.config.waba_hourly_budget:
        raise errors.waba_throttled(waba.usage.minutes_to_regain(now))
    if state.app_usage.count(now) >= state.config.app_hourly_budget:
        raise errors.app_throttled(state.app_usage.minutes_to_regain(now))
    if waba is not None:
        waba.usage.add(now)
    state.app_usage.add(now)


def target_waba(state: SimState, request: GraphRequest) -> Waba | None:
    """The WABA a call is about (its own id, or the WABA of the phone number addressed)."""
    segments = request.segments
    if not segments:
        return None
    number = state.numbers.get(segments[0])
    if number is not None:
        return state.wabas[number.waba_id]
    return state.wabas.get(segments[0])


def dispatch(state: SimState, request: GraphRequest) -> Answer:
    """Answer one Graph call: usage accounting, routing, Meta's error shape."""
    waba = target_waba(state, request)
    now = state.clock.now()
    try:
        _spend_budget(state, waba, now)
        body = _route(state, request)
    except GraphError as exc:
        regain = (exc.error_data or {}).get("estimated_time_to_regain_access", 0) if exc.code == 80007 else 0
        return Answer(exc.status, exc.body(), usage_headers(state, waba, regain_minutes=regain))
    return Answer(200, body, usage_headers(state, waba))


def error_answer(state: SimState, exc: GraphError) -> Answer:
    return Answer(exc.status, exc.body(), usage_headers(state, None))


# -- routing ------------------------------------------------------------------------------


def _route(state: SimState, request: GraphRequest) -> Any:
    segments = request.segments
    method = request.method
    if segments == ["oauth", "access_token"] and method == "GET":
        return _exchange_code(state, request)
    if segments == ["debug_token"] and method == "GET":
        return _debug_token(state, request)
    if len(segments) == 1:
        number = state.numbers.get(segments[0])
        if number is not None and method == "GET":
            return _phone_node(state, request, number)
        if number is not None and method == "POST":
            return _update_phone(state, request, number)
        if segments[0] in state.wabas and method == "GET":
            return _waba_node(state, request, segments[0])
        raise errors.no_such_object(segments[0], method)
    if len(segments) == 2:
        handler = _EDGES.get((segments[1], method))
        if handler is not None:
            return handler(state, request, segments[0])
        raise errors.no_such_object(segments[0], method)
    raise errors.unknown_path()


# -- auth ---------------------------------------------------------------------------------


def _business_token(state: SimState, request: GraphRequest) -> Token:
    if not request.token:
        raise errors.missing_token()
    token = state.tokens.get(request.token)
    if token is None:
        if "|" in request.token and request.token != state.app_token():
            raise errors.invalid_token(message="Invalid OAuth access token signature.")
        raise errors.invalid_token()
    if token.state == "expired":
        raise errors.invalid_token(463)
    if token.state == "revoked":
        raise errors.invalid_token(460)
    check_appsecret_proof(state, request.token, request.proof)
    return token


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """hex HMAC-SHA256 of the access token keyed with the app secret (Meta's definition)."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def check_appsecret_proof(state: SimState, access_token: str, proof: str | None) -> None:
    """With "Require App Secret" on, a business-token call without a valid proof is refused."""
    if not state.config.require_appsecret_proof:
        return
    if not proof:
        raise errors.appsecret_proof_missing()
    if not hmac.compare_digest(str(proof), appsecret_proof(state.config.app_secret, access_token)):
        raise errors.appsecret_proof_invalid()


def _authorize(state: SimState, request: GraphRequest, waba_id: str, object_id: str) -> None:
    """A business token for this WABA, valid and not stripped of its permission."""
    if request.token and request.token == state.app_token():
        raise errors.no_such_object(object_id, request.method)
    token = _business_token(state, request)
    if token.state == "no_permission":
        raise errors.permission_denied()
    if token.waba_id != waba_id or state.wabas[waba_id].partner_removed:
        # A WABA unshared from the partner (PARTNER_REMOVED) is one its token cannot see.
        raise errors.no_such_object(object_id, request.method)


# -- oauth and debug_token ----------------------------------------------------------------


def _exchange_code(state: SimState, request: GraphRequest) -> dict[str, Any]:
    params = request.params
    if str(params.get("client_id") or "") != state.config.app_id:
        raise GraphError(400, 101, "Error validating application. Invalid application ID.")
    if str(params.get("client_secret") or "") != state.config.app_secret:
        raise GraphError(400, 1, "Error validating client secret.")
    code = str(params.get("code") or "")
    if not code:
        raise errors.invalid_param("(#100) The parameter code is required")
    if code in state.used_codes:
        raise errors.invalid_param("This authorization code has been used.", subcode=36009)
    waba_id = state.codes.pop(code, None)
    if waba_id is None:
        raise errors.invalid_param("Invalid verification code format.", subcode=36008)
    state.used_codes.add(code)
    _first_exchange(state, waba_id)
    return {"access_token": state.issue_token(waba_id).value, "token_type": "bearer"}


def _first_exchange(state: SimState, waba_id: str) -> None:
    """The partner onboards a WABA when it exchanges its first signup code: a WhatsApp Business
    app number's 24 h sync window starts then (a reauthorization code later does not restart it)."""
    waba = state.wabas[waba_id]
    if waba.code_exchanged_at is not None:
        return
    now = state.clock.now()
    waba.code_exchanged_at = now
    for number_id in waba.number_ids:
        number = state.numbers[number_id]
        if number.is_on_biz_app:
            number.onboarded_at = now


def _debug_token(state: SimState, request: GraphRequest) -> dict[str, Any]:
    app_token = state.app_token()
    if not request.token:
        raise errors.missing_token()
    if request.token != app_token:
        if "|" in request.token:
            raise errors.invalid_token(message="Invalid OAuth access token signature.")
        raise errors.invalid_param(
            "(#100) You must provide an app access token, or a user access token that is an owner or "
            "developer of the app"
        )
    input_token = str(request.params.get("input_token") or "")
    if not input_token:
        raise errors.invalid_param("(#100) The parameter input_token is required")
    base = {"app_id": state.config.app_id, "application": state.config.app_name}
    if input_token == app_token:
        return {"data": {**base, "type": "APP", "is_valid": True, "scopes": []}}
    token = state.tokens.get(input_token)
    if token is None:
        return {
            "data": {
                "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
                "is_valid": False,
                "scopes": [],
            }
        }
    waba = state.wabas[token.waba_id]
    data: dict[str, Any] = {
        **base,
        "type": "SYSTEM_USER",
        "data_access_expires_at": 0,
        "expires_at": 0,
        "issued_at": int(token.issued_at),
        "is_valid": token.state in ("valid", "no_permission"),
        "user_id": f"9{waba.waba_id[1:]}",
    }
    scopes = [SCOPE_MESSAGING] if token.state == "no_permission" else [waba.scope, SCOPE_MESSAGING]
    data["scopes"] = scopes
    data["granular_scopes"] = [{"scope": scope, "target_ids": [waba.waba_id]} for scope in scopes]
    if token.state in ("expired", "revoked"):
        subcode = 463 if token.state == "expired" else 460
        data["error"] = {"code": 190, "subcode": subcode, "message": errors.invalid_token(subcode).message}
        if token.state == "expired":
            data["expires_at"] = int(state.clock.now()) - 60
    return {"data": data}


# -- phone number node --------------------------------------------------------------------


def api_version(request: GraphRequest) -> float:
    """``v23.0`` -> 23.0; an unversioned call gets the newest behaviour (Meta: the app's default)."""
    try:
        return float(request.version.lstrip("v")) if request.version else LATEST_VERSION
    except ValueError:
        return LATEST_VERSION


def _health_status(state: SimState, number: Number, version: float) -> dict[str, Any]:
    waba = state.wabas[number.waba_id]
    registered = number.platform_type == "CLOUD_API" and number.status == "CONNECTED"
    phone: dict[str, Any] = {"entity_type": "PHONE_NUMBER", "id": number.phone_number_id}
    if number.status in _LIMITED_STATUSES or (registered and number.quality_rating == "RED"):
        phone["can_send_message"] = "LIMITED"
    elif registered:
        phone["can_send_message"] = "AVAILABLE"
    else:
        phone["can_send_message"] = "BLOCKED"
        phone["errors"] = [
            {
                "error_code": 133010,
                "error_description": "The phone number is not registered on the WhatsApp Business Platform.",
                "possible_solution": "Register the phone number with POST /{phone_number_id}/register.",
            }
        ]
    entities = [phone, *_account_entities(state, waba)]
    return {"can_send_message": phone["can_send_message"], "entities": entities}


def _account_entities(state: SimState, waba: Waba) -> list[dict[str, Any]]:
    return [
        {"entity_type": "WABA", "id": waba.waba_id, "can_send_message": "AVAILABLE"},
        {"entity_type": "BUSINESS", "id": waba.business_id, "can_send_message": "AVAILABLE"},
        {"entity_type": "APP", "id": state.config.app_id, "can_send_message": "AVAILABLE"},
    ]


def _webhook_configuration(state: SimState, number: Number, version: float) -> dict[str, str]:
    waba = state.wabas[number.waba_id]
    config = {}
    if number.webhook_override_uri:
        config["phone_number"] = number.webhook_override_uri
    if waba.override_callback_uri:
        config["whatsapp_business_account"] = waba.override_callback_uri
    return config


def _messaging_limit(state: SimState, number: Number, version: float) -> Any:
    """A string such as ``TIER_2K`` from v24.0 on; the object form ``{"current_limit"}`` before."""
    if version >= MESSAGING_LIMIT_STRING_VERSION:
        return number.messaging_limit_tier
    return {"current_limit": number.messaging_limit_tier}


def _legacy_tier(state: SimState, number: Number, version: float) -> str | None:
    """Deprecated on v24.0+ (Meta: request ``whatsapp_business_manager_messaging_limit``):
    still accepted there, but left out of the answer."""
    return number.messaging_limit_tier if version < MESSAGING_LIMIT_STRING_VERSION else None


def _certificate(number: Number) -> str:
    return base64.b64encode(f"sim-cert:{number.phone_number_id}:{number.verified_name}".encode()).decode()


def _unified_cert_status(name_status: str) -> str:
    if name_status in NAME_READY:
        return "APPROVED"
    return "NAME_PENDING_REVIEW" if name_status == "PENDING_REVIEW" else "NAME_NOT_APPROVED"


FieldGetter = Callable[[SimState, Number, float], Any]

#: Every field Meta documents for the WhatsApp Business Phone Number node; ``None`` = left out.
PHONE_FIELDS: dict[str, FieldGetter] = {
    "id": lambda s, n, v: n.phone_number_id,
    "account_mode": lambda s, n, v: n.account_mode,
    "certificate": lambda s, n, v: _certificate(n) if n.name_status in NAME_READY else None,
    "code_verification_status": lambda s, n, v: n.code_verification_status,
    "conversational_automation": lambda s, n, v: {"enable_welcome_message": False, "id": n.phone_number_id},
    "country_code": lambda s, n, v: "US",
    "country_dial_code": lambda s, n, v: "1",
    "display_phone_number": lambda s, n, v: n.display_phone_number,
    "eligibility_for_api_business_global_search": lambda s, n, v: "NON_ELIGIBLE_UNDEFINED_COUNTRY",
    "health_status": _health_status,
    "host_platform": lambda s, n, v: n.platform_type,
    "is_official_business_account": lambda s, n, v: n.is_official_business_account,
    "is_on_biz_app": lambda s, n, v: n.is_on_biz_app,
    "is_pin_enabled": lambda s, n, v: n.pin is not None,
    "is_preverified_number": lambda s, n, v: False,
    "last_onboarded_time": lambda s, n, v: iso(n.onboarding_time()),
    "messaging_limit_tier": _legacy_tier,
    "name_status": lambda s, n, v: n.name_status,
    "new_certificate": lambda s, n, v: _certificate(n) if n.new_name_status == "APPROVED" else None,
    "new_display_name": lambda s, n, v: n.new_display_name,
    "new_name_status": lambda s, n, v: n.new_name_status,
    "platform_type": lambda s, n, v: n.platform_type,
    "quality_rating": lambda s, n, v: n.quality_rating,
    "quality_score": lambda s, n, v: {"score": n.quality_rating},
    "search_visibility": lambda s, n, v: "VISIBLE",
    "status": lambda s, n, v: n.status,
    "throughput": lambda s, n, v: {"level": n.throughput_level},
    "unified_cert_status": lambda s, n, v: _unified_cert_status(n.name_status),
    "verified_name": lambda s, n, v: n.verified_name,
    "webhook_configuration": _webhook_configuration,
    "whatsapp_business_manager_messaging_limit": _messaging_limit,
}


def parse_fields(
    raw: Any, default: tuple[str, ...], known: Mapping[str, Any] = PHONE_FIELDS, node_type: str = PHONE_NODE
) -> list[str]:
    """``a,b{c,d},e`` -> ``[a, b, e]``; unknown names raise Meta's error 100."""
    if not raw:
        return list(default)
    names = _top_level_names(str(raw))
    for name in names:
        if name not in known:
            raise errors.invalid_param(
                f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})"
            )
    return list(names)


@lru_cache(maxsize=256)
def _top_level_names(raw: str) -> tuple[str, ...]:
    """The top-level names of a ``fields`` value; cached, as every audit sub-request sends the same."""
    names: list[str] = []
    depth, current = 0, ""
    for char in f"{raw},":
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            if current.strip():
                names.append(current.strip())
            current = ""
        elif depth == 0:
            current += char
    return tuple(names)


def _node(state: SimState, number: Number, names: list[str], version: float) -> dict[str, Any]:
    number.refresh(state.clock.now())
    node = {}
    for name in names:
        value = PHONE_FIELDS[name](state, number, version)
        if value is not None:  # Graph leaves out fields that have no value
            node[name] = value
    node["id"] = number.phone_number_id
    return node


def _phone_node(state: SimState, request: GraphRequest, number: Number) -> dict[str, Any]:
    names = parse_fields(request.params.get("fields"), DEFAULT_NODE_FIELDS)
    _authorize(state, request, number.waba_id, number.phone_number_id)
    return _node(state, number, names, api_version(request))


def _json_param(value: Any) -> Any:
    """Form bodies carry nested objects as JSON strings; JSON bodies carry them as objects."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise errors.invalid_param("(#100) Invalid parameter: expected a JSON object") from None
    return value


def _callback_uri(value: Any, verify_token: Any) -> str | None:
    """An alternate callback URL as Meta accepts it: https, at most 200 characters, with a
    verify token. An empty value means "remove the override"."""
    uri = str(value or "").strip()
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.netloc:
        raise errors.invalid_param("(#100) Param override_callback_uri must be a valid https URL")
    if len(uri) > MAX_CALLBACK_URI_LENGTH:
        raise errors.invalid_param(
            f"(#100) Param override_callback_uri must be at most {MAX_CALLBACK_URI_LENGTH} characters long"
        )
    if not verify_token:
        raise errors.invalid_param("(#100) Param verify_token is required with override_callback_uri")
    return uri


def _update_phone(state: SimState, request: GraphRequest, number: Number) -> dict[str, Any]:
    """``POST /{phone_number_id}``: phone-level webhook override, two-step PIN, new display name."""
    _authorize(state, request, number.waba_id, number.phone_number_id)
    params = request.params
    if "webhook_configuration" in params:
        config = _json_param(params["webhook_configuration"])
        if not isinstance(config, dict):
            raise errors.invalid_param("(#100) Param webhook_configuration must be a JSON object")
        if not state.wabas[number.waba_id].subscribed:
            raise errors.invalid_param(
                "(#100) Before override the current callback uri, your app must be subscribed to receive "
                "messages for WhatsApp Business Account"
            )
        uri = _callback_uri(config.get("override_callback_uri"), config.get("verify_token"))
        number.webhook_override_uri = uri
        number.webhook_verify_token = str(config["verify_token"]) if uri else None
    if "pin" in params:
        if not PIN_RE.match(str(params["pin"])):
            raise errors.invalid_param("(#100) Param pin must be 6 characters long.")
        number.pin = str(params["pin"])
    if "new_display_name" in params:
        _request_name_change(state, number, str(params["new_display_name"]).strip())
    return {"success": True}


def _request_name_change(state: SimState, number: Number, name: str) -> None:
    """Start a display-name review; Meta allows 10 requests per number in 30 days."""
    if not 2 <= len(name) <= 75:
        raise errors.invalid_param("(#100) Param new_display_name must be between 2 and 75 characters long")
    now = state.clock.now()
    number.refresh(now)
    if attempts_in_window(number.name_change_requests, now, NAME_CHANGE_WINDOW) >= NAME_CHANGE_LIMIT:
        raise errors.invalid_param(
            f"(#100) Display name change limit reached: {NAME_CHANGE_LIMIT} requests per 30 days"
        )
    number.name_change_requests.append(now)
    number.new_display_name = name
    number.new_name_status = "PENDING_REVIEW"
    number.new_name_approved_at = None
    number.new_name_review_at = now + number.review_seconds


def _in_window_or_block(attempts: deque[float], blocked_until: float | None, now: float) -> float | None:
    """Count a register/deregister call; the new block end once the 10-per-72 h limit is passed."""
    attempts.append(now)
    if blocked_until is not None and now < blocked_until:
        raise _register_limit()
    if attempts_in_window(attempts, now) > REGISTER_LIMIT:
        return now + REGISTER_BLOCK_SECONDS
    return None


def _register(state: SimState, request: GraphRequest, phone_number_id: str) -> dict[str, Any]:
    """Meta's register rules; every call that reaches the number counts toward 10 per 72 h."""
    number = state.numbers.get(phone_number_id)
    if number is None:
        raise errors.no_such_object(phone_number_id, "POST")
    _authorize(state, request, number.waba_id, phone_number_id)
    now = state.clock.now()
    blocked = _in_window_or_block(number.register_attempts, number.register_blocked_until, now)
    if blocked is not None:
        number.register_blocked_until = blocked
        raise _register_limit()
    if number.is_on_biz_app:
        raise _already_registered_on_business_app()
    params = request.params
    _require_whatsapp_product(params)
    pin = str(params.get("pin") or "")
    if not PIN_RE.match(pin):
        raise errors.invalid_param("(#100) Param pin must be 6 characters long.")
    number.refresh(now)
    _refuse_locked(number)
    if number.needs_reverification:
        raise errors.whatsapp_error(
            400, 133006, "Phone number needs to be verified before registering. Verify it, then register."
        )
    if number.deregistered_at is not None and now < number.deregistered_at + REREGISTER_WAIT_SECONDS:
        raise errors.whatsapp_error(
            400,
            133015,
            "The phone number you are attempting to register was recently deleted, and deletion has not "
            f"yet completed. Wait {int(REREGISTER_WAIT_SECONDS // 60)} minutes before re-trying the request.",
        )
    if number.name_status not in NAME_READY:
        raise GraphError(
            400,
            100,
            "(#100) Invalid parameter",
            subcode=2388001,
            user_title="Cannot Create Certificate",
            user_msg="Your display name could not be processed. Please edit your display name and try again.",
        )
    _check_pin(number, pin, now)
    number.pin = pin
    number.platform_type = "CLOUD_API"
    number.throughput_level = "STANDARD"
    number.status = "CONNECTED"
    number.code_verification_status = "VERIFIED"
    number.deregistered_at = None
    if number.new_name_status == "APPROVED" and number.new_display_name:
        # Registering again within the window makes the approved new name the number's name.
        number.verified_name = number.new_display_name
        number.name_status = "APPROVED"
        number.new_name_status = "NONE"
        number.new_display_name = number.new_name_approved_at = None
    return {"success": True}


def _require_whatsapp_product(params: dict[str, Any]) -> None:
    product = str(params.get("messaging_product") or "")
    if product.lower() != "whatsapp":
        raise errors.invalid_param(
            f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{product}".'
        )


def _refuse_locked(number: Number) -> None:
    if number.locked:
        raise errors.whatsapp_error(
            403,
            131031,
            "The WhatsApp Business Account associated with this phone number has been restricted or "
            "disabled for violating a platform policy, or the data in the request could not be verified.",
        )


def _check_pin(number: Number, pin: str, now: float) -> None:
    """Two-step PIN: mismatch 133005; wrong guesses too fast 133009; too many 133008 (locks)."""
    if number.pin_locked_until is not None and now < number.pin_locked_until:
        raise _pin_guesses(number.pin_locked_until - now)
    if number.pin is None or pin == number.pin:
        number.pin_failures.clear()
        return
    previous = number.pin_failures[-1] if number.pin_failures else None
    attempts_in_window(number.pin_failures, now, PIN_GUESS_WINDOW_SECONDS)
    number.pin_failures.append(now)
    if len(number.pin_failures) >= PIN_GUESS_LIMIT:
        number.pin_locked_until = now + PIN_LOCK_SECONDS
        number.pin_failures.clear()
        raise _pin_guesses(PIN_LOCK_SECONDS)
    if previous is not None and now - previous < PIN_TOO_FAST_SECONDS:
        raise errors.whatsapp_error(
            400,
            133009,
            "Two step verification PIN was entered too quickly. "
            f"Try again after {_duration(previous + PIN_TOO_FAST_SECONDS - now)}.",
        )
    raise errors.whatsapp_error(
        400, 133005, "Two step verification PIN incorrect. Verify the PIN included in the request."
    )


def _pin_guesses(wait_seconds: float) -> GraphError:
    return errors.whatsapp_error(
        400,
        133008,
        "Too many two step verification PIN guesses for this phone number. "
        f"Try again after {_duration(wait_seconds)}.",
    )


def _duration(seconds: float) -> str:
    """``3600`` -> ``60 minutes``; under two minutes in seconds (the wait Meta puts in details)."""
    seconds = max(1, math.ceil(seconds))
    return f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"


def _deregister(state: SimState, request: GraphRequest, phone_number_id: str) -> dict[str, Any]:
    """``POST /{phone_number_id}/deregister``: its own 10 per 72 h; 133010 if not registered."""
    number = state.numbers.get(phone_number_id)
    if number is None:
        raise errors.no_such_object(phone_number_id, "POST")
    _authorize(state, request, number.waba_id, phone_number_id)
    now = state.clock.now()
    blocked = _in_window_or_block(number.deregister_attempts, number.deregister_blocked_until, now)
    if blocked is not None:
        number.deregister_blocked_until = blocked
        raise _register_limit()
    if number.is_on_biz_app:
        # "You cannot use the Deregister API to deregister a business phone number from Cloud API
        # if it is already in use with both Cloud API and the WhatsApp Business app" (onboarding
        # page, "Offboarding business customers"); the answer is the spec's ``smb_account_error``
        # example of POST /{Phone-Number-ID}/deregister (vendor/meta-openapi/).
        raise errors.invalid_param(
            "Deregister endpoint is not available for API solution for SMB businesses."
        )
    number.refresh(now)
    _refuse_locked(number)
    if number.platform_type != "CLOUD_API":
        raise errors.whatsapp_error(
            400, 133010, "Phone number not registered on the WhatsApp Business Platform."
        )
    number.platform_type = "NOT_APPLICABLE"
    number.throughput_level = "NOT_APPLICABLE"
    number.status = "DISCONNECTED"
    number.deregistered_at = now
    return {"success": True}


def _smb_app_data(state: SimState, request: GraphRequest, phone_number_id: str) -> dict[str, Any]:
    """``POST /{phone_number_id}/smb_app_data``: a WhatsApp Business app number's contacts
    (``smb_app_state_sync``) or chat history (``history``), each once per onboarding and within
    24 hours of it (onboarding page, "Synchronizing WhatsApp Business app data"; the answer is
    its example response). The webhooks follow the answer.

    Meta documents no error for a number that is not on the app, a second request of a kind or
    a late one; each answers code 100 in the Cloud API shape with its own ``error_data.details``
    (assumptions, README "WhatsApp Business app numbers").
    """
    number = state.numbers.get(phone_number_id)
    if number is None:
        raise errors.no_such_object(phone_number_id, "POST")
    _authorize(state, request, number.waba_id, phone_number_id)
    _require_whatsapp_product(request.params)
    sync_type = str(request.params.get("sync_type") or "")
    if sync_type not in business_app.SYNC_TYPES:
        raise errors.invalid_param(
            f'(#100) Param sync_type must be one of {{SMB_APP_STATE_SYNC, HISTORY}} - got "{sync_type}".'
        )
    if not number.is_on_biz_app or number.app_offboarded:
        raise errors.whatsapp_error(
            400,
            100,
            "This phone number is not connected to the WhatsApp Business app and Cloud API together; "
            "only WhatsApp Business app numbers can synchronize app data.",
        )
    if sync_type in number.smb_syncs:
        raise errors.whatsapp_error(
            400,
            100,
            f"The {sync_type} synchronization was already requested for this onboarding. It can be "
            "requested again only after the business offboards and completes Embedded Signup again.",
        )
    if state.clock.now() >= number.onboarding_time() + business_app.SYNC_WINDOW_SECONDS:
        raise errors.whatsapp_error(
            400,
            100,
            "The 24 hours to synchronize WhatsApp Business app data after onboarding have passed. The "
            "business must offboard and complete Embedded Signup again.",
        )
    number.smb_syncs[sync_type] = business_app.request_id()
    business_app.queue_sync(state, number, sync_type)
    return {"messaging_product": "whatsapp", "request_id": number.smb_syncs[sync_type]}


def _already_registered_on_business_app() -> GraphError:
    """Meta: "skip the phone number registration step, as the number is already registered"
    (onboarding page, "Onboarding business customers"). What Graph answers a register anyway is
    not documented: the spec's example for "already registered or in invalid state" of
    POST /{Phone-Number-ID}/register (vendor/meta-openapi/; the spec files it under HTTP 422,
    Graph answers code 100 with 400 as everywhere else) is the assumption."""
    return GraphError(
        400,
        100,
        "Phone number is already registered or in invalid state for registration",
        type="GraphMethodException",
    )


def _register_limit() -> GraphError:
    error = errors.whatsapp_error(
        400,
        133016,
        "Registration or Deregistration failed because there were too many attempts for this phone number "
        "in a short period of time. Try again in 72 hours.",
    )
    error.user_title = "Too many register attempts"
    error.user_msg = "This number was registered or deregistered too many times. Try again in 72 hours."
    return error


# -- WABA edges ---------------------------------------------------------------------------


def _waba(state: SimState, request: GraphRequest, waba_id: str) -> Waba:
    waba = state.wabas.get(waba_id)
    if waba is None:
        raise errors.no_such_object(waba_id, request.method)
    _authorize(state, request, waba_id, waba_id)
    return waba


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"sim:{index}".encode()).decode()


def _uncursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise errors.invalid_param("(#100) Invalid cursor") from None


def _phone_numbers(state: SimState, request: GraphRequest, waba_id: str) -> dict[str, Any]:
    """Paged like Meta: cursors on every page, ``next`` (absolute URL) while more remain."""
    params = request.params
    names = parse_fields(params.get("fields"), DEFAULT_LIST_FIELDS)
    names += [name for name in LIST_REQUIRED_FIELDS if name not in names]
    waba = _waba(state, request, waba_id)
    try:
        limit = max(1, min(int(params.get("limit") or state.config.page_size), 100))
    except ValueError:
        raise errors.invalid_param("(#100) Param limit must be an integer") from None
    total = len(waba.number_ids)
    if params.get("after"):
        start = _uncursor(str(params["after"])) + 1
    elif params.get("before"):
        start = max(0, _uncursor(str(params["before"])) - limit)
    else:
        start = 0
    end = min(start + limit, total)
    version = api_version(request)
    data = [_node(state, state.numbers[pid], names, version) for pid in waba.number_ids[start:end]]
    if not data:
        return {"data": []}
    paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(end - 1)}}
    if end < total:
        paging["next"] = _page_url(request, waba_id, limit, after=_cursor(end - 1))
    if start > 0:
        paging["previous"] = _page_url(request, waba_id, limit, before=_cursor(start))
    return {"data": data, "paging": paging}


def _page_url(request: GraphRequest, waba_id: str, limit: int, **cursor: str) -> str:
    query: dict[str, Any] = {}
    if request.params.get("fields"):
        query["fields"] = request.params["fields"]
    query["limit"] = limit
    query.update(cursor)
    if request.token_in_query and request.token:
        query["access_token"] = request.token  # Meta echoes a query-string token into paging URLs
        if request.proof:
            query["appsecret_proof"] = request.proof
    version = f"/{request.version}" if request.version else ""
    return f"{request.base_url}{version}/{waba_id}/phone_numbers?{urlencode(query)}"


def _subscribed_app_entry(state: SimState, waba: Waba) -> dict[str, Any]:
    app_id = state.config.app_id
    entry: dict[str, Any] = {
        "whatsapp_business_api_data": {
            "id": app_id,
            "link": f"https://www.facebook.com/games/?app_id={app_id}",
            "name": state.config.app_name,
        }
    }
    if waba.override_callback_uri:
        entry["override_callback_uri"] = waba.override_callback_uri
    return entry


def _list_subscribed_apps(state: SimState, request: GraphRequest, waba_id: str) -> dict[str, Any]:
    waba = _waba(state, request, waba_id)
    return {"data": [_subscribed_app_entry(state, waba)] if waba.subscribed else []}


def _subscribe_app(state: SimState, request: GraphRequest, waba_id: str) -> dict[str, Any]:
    """Subscribe; with ``override_callback_uri`` also set the WABA's alternate callback.

    Meta treats a POST without ``override_callback_uri`` as "delete the alternate callback"
    (webhook overrides, "Delete WABA alternate callback"), so subscribing again with ``{}``
    removes an override that was there.
    """
    waba = _waba(state, request, waba_id)
    uri = _callback_uri(request.params.get("override_callback_uri"), request.params.get("verify_token"))
    waba.override_callback_uri = uri
    waba.verify_token = str(request.params["verify_token"]) if uri else None
    waba.subscribed = True
    return {"success": True}


def _unsubscribe_app(state: SimState, request: GraphRequest, waba_id: str) -> dict[str, Any]:
    waba = _waba(state, request, waba_id)
    waba.subscribed = False
    waba.override_callback_uri = waba.verify_token = None
    return {"success": True}


def _waba_fields() -> dict[str, Callable[[SimState, Waba], Any]]:
    def subscribed_apps(state: SimState, waba: Waba) -> dict[str, Any]:
        return {"data": [_subscribed_app_entry(state, waba)] if waba.subscribed else []}

    def phone_numbers(state: SimState, waba: Waba) -> dict[str, Any]:
        numbers = (state.numbers[pid] for pid in waba.number_ids)
        return {
            "data": [
                {
                    "id": n.phone_number_id,
                    "display_phone_number": n.display_phone_number,
                    "verified_name": n.verified_name,
                }
                for n in numbers
            ]
        }

    owner = lambda s, w: {"id": w.business_id, "name": f"Sim Business {w.business_id[-4:]}"}  # noqa: E731
    return {
        "id": lambda s, w: w.waba_id,
        "account_review_status": lambda s, w: "APPROVED",
        "business_verification_status": lambda s, w: "verified",
        "country": lambda s, w: "US",
        "currency": lambda s, w: "USD",
        "disable_marketing_messages_on_cloud_api": lambda s, w: False,
        "health_status": lambda s, w: {"can_send_message": "AVAILABLE", "entities": _account_entities(s, w)},
        "is_enabled_for_insights": lambda s, w: True,
        "is_shared_with_partners": lambda s, w: True,
        "marketing_messages_lite_api_status": lambda s, w: "INELIGIBLE",
        "marketing_messages_onboarding_status": lambda s, w: "INELIGIBLE_COUNTRY_NOT_SUPPORTED",
        "message_template_namespace": lambda s, w: str(uuid.uuid5(uuid.NAMESPACE_OID, w.waba_id)),
        "name": lambda s, w: w.name,
        "on_behalf_of_business_info": lambda s, w: {**owner(s, w), "status": "APPROVED", "type": "SELF"},
        "owner_business_info": owner,
        "ownership_type": lambda s, w: "CLIENT_OWNED",
        "phone_numbers": phone_numbers,
        "primary_funding_id": lambda s, w: None,
        "purchase_order_number": lambda s, w: None,
        "status": lambda s, w: "ACTIVE",
        "subscribed_apps": subscribed_apps,
        "timezone_id": lambda s, w: "1",
    }


_WABA_FIELDS = _waba_fields()
#: What ``GET /{waba_id}`` answers without ``fields`` (Meta's reference example).
DEFAULT_WABA_FIELDS = ("id", "name", "timezone_id", "message_template_namespace")


def _waba_node(state: SimState, request: GraphRequest, waba_id: str) -> dict[str, Any]:
    """``GET /{waba_id}``: the WhatsApp Business Account's details, fields as asked."""
    names = parse_fields(request.params.get("fields"), DEFAULT_WABA_FIELDS, _WABA_FIELDS, WABA_NODE)
    waba = _waba(state, request, waba_id)
    node = {}
    for name in names:
        value = _WABA_FIELDS[name](state, waba)
        if value is not None:
            node[name] = value
    node["id"] = waba.waba_id
    return node


_EDGES: dict[tuple[str, str], Callable[[SimState, GraphRequest, str], Any]] = {
    ("phone_numbers", "GET"): _phone_numbers,
    ("subscribed_apps", "GET"): _list_subscribed_apps,
    ("subscribed_apps", "POST"): _subscribe_app,
    ("subscribed_apps", "DELETE"): _unsubscribe_app,
    ("register", "POST"): _register,
    ("deregister", "POST"): _deregister,
    ("smb_app_data", "POST"): _smb_app_data,
}
