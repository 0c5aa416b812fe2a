"""The Graph API surface the project uses, as synchronous functions over :class:`SimState`.

One :func:`dispatch` serves a plain HTTP request and a batch sub-request alike, so both
count toward usage and fail the same way. Shapes follow Meta's documentation and the
OpenAPI spec in ``shared/reference/meta-openapi`` (see README.md for the deviations).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from include.graph_simulator import errors
from include.graph_simulator.errors import GraphError
from include.graph_simulator.numbers import attempts_in_window
from include.graph_simulator.state import SCOPE_MESSAGING, Number, SimState, Token, Waba, iso

VERSION_RE = re.compile(r"^v\d+\.\d+$")
PIN_RE = re.compile(r"^\d{6}$")
REGISTER_LIMIT = 10
REGISTER_BLOCK_SECONDS = 72 * 3600.0
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
        return self.raw if self.raw is not None else json.dumps(self.body, separators=(",", ":"))


# -- usage --------------------------------------------------------------------------------


def _pct(count: int, budget: int) -> int:
    return int(count * 100 / max(budget, 1))


def usage_headers(state: SimState, waba: Waba | None, *, regain_minutes: int = 0) -> dict[str, str]:
    """``X-App-Usage`` always; ``X-Business-Use-Case-Usage`` when the call touched a WABA."""
    now = state.clock.now()
    app_pct = _pct(state.app_usage.count(now), state.config.app_hourly_budget)
    headers = {
        "X-App-Usage": json.dumps(
            {"call_count": app_pct, "total_cputime": app_pct // 2, "total_time": app_pct // 2}
        )
    }
    if waba is not None:
        pct = _pct(waba.usage.count(now), state.config.waba_hourly_budget)
        headers["X-Business-Use-Case-Usage"] = json.dumps(
            {waba.waba_id: [business_usage_entry(pct, regain_minutes)]}
        )
    return headers


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
        if number is None:
            raise errors.no_such_object(segments[0], method)
        if method == "GET":
            return _phone_node(state, request, number)
        if method == "POST":
            return _update_phone(state, request, number)
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
    return token


def _authorize(state: SimState, request: GraphRequest, waba_id: str, object_id: str) -> None:
    """A business token for this WABA, valid and not stripped of its permission."""
    if request.token and request.token == state.app_token():
        raise errors.no_such_object(object_id, request.method)
    token = _business_token(state, request)
    if token.state == "no_permission":
        raise errors.permission_denied()
    if token.waba_id != waba_id:
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
    return {"access_token": state.issue_token(waba_id).value, "token_type": "bearer"}


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


def _health_status(state: SimState, number: Number) -> dict[str, Any]:
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
    entities = [
        phone,
        {"entity_type": "WABA", "id": waba.waba_id, "can_send_message": "AVAILABLE"},
        {"entity_type": "BUSINESS", "id": waba.business_id, "can_send_message": "AVAILABLE"},
        {"entity_type": "APP", "id": state.config.app_id, "can_send_message": "AVAILABLE"},
    ]
    return {"can_send_message": phone["can_send_message"], "entities": entities}


def _webhook_configuration(state: SimState, number: Number) -> dict[str, str]:
    waba = state.wabas[number.waba_id]
    config = {}
    if number.webhook_override_uri:
        config["phone_number"] = number.webhook_override_uri
    if waba.override_callback_uri:
        config["whatsapp_business_account"] = waba.override_callback_uri
    return config


_FIELDS: dict[str, Callable[[SimState, Number], Any]] = {
    "id": lambda s, n: n.phone_number_id,
    "display_phone_number": lambda s, n: n.display_phone_number,
    "verified_name": lambda s, n: n.verified_name,
    "name_status": lambda s, n: n.name_status,
    "new_name_status": lambda s, n: n.new_name_status,
    "code_verification_status": lambda s, n: n.code_verification_status,
    "platform_type": lambda s, n: n.platform_type,
    "throughput": lambda s, n: {"level": n.throughput_level},
    "messaging_limit_tier": lambda s, n: n.messaging_limit_tier,
    "whatsapp_business_manager_messaging_limit": lambda s, n: {"current_limit": n.messaging_limit_tier},
    "quality_rating": lambda s, n: n.quality_rating,
    "status": lambda s, n: n.status,
    "account_mode": lambda s, n: n.account_mode,
    "is_official_business_account": lambda s, n: n.is_official_business_account,
    "health_status": _health_status,
    "webhook_configuration": _webhook_configuration,
    "last_onboarded_time": lambda s, n: iso(n.created_at),
}


def parse_fields(raw: Any, default: tuple[str, ...]) -> list[str]:
    """``a,b{c,d},e`` -> ``[a, b, e]``; unknown names raise Meta's error 100."""
    if not raw:
        return list(default)
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
    for name in names:
        if name not in _FIELDS:
            raise errors.invalid_param(
                f"(#100) Tried accessing nonexisting field ({name}) "
                "on node type (WhatsAppBusinessPhoneNumber)"
            )
    return names


def _node(state: SimState, number: Number, names: list[str]) -> dict[str, Any]:
    number.refresh(state.clock.now())
    node = {name: _FIELDS[name](state, number) for name in names}
    node["id"] = number.phone_number_id
    return node


def _phone_node(state: SimState, request: GraphRequest, number: Number) -> dict[str, Any]:
    names = parse_fields(request.params.get("fields"), DEFAULT_NODE_FIELDS)
    _authorize(state, request, number.waba_id, number.phone_number_id)
    return _node(state, number, names)


def _json_param(value: Any) -> Any:
    """Form bodies carry nested objects as JSON strings; JSON bodies carry them as objects."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise errors.invalid_param("(#100) Invalid parameter: expected a JSON object") from None
    return value


def _update_phone(state: SimState, request: GraphRequest, number: Number) -> dict[str, Any]:
    """Phone-level webhook override and two-step PIN (``POST /{phone_number_id}``)."""
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
        uri = config.get("override_callback_uri")
        if uri and not config.get("verify_token"):
            raise errors.invalid_param("(#100) Param verify_token is required with override_callback_uri")
        number.webhook_override_uri = uri or None
        number.webhook_verify_token = config.get("verify_token") if uri else None
    if "pin" in params:
        if not PIN_RE.match(str(params["pin"])):
            raise errors.invalid_param("(#100) Param pin must be 6 characters long.")
        number.pin = str(params["pin"])
    return {"success": True}


def _register(state: SimState, request: GraphRequest, phone_number_id: str) -> dict[str, Any]:
    """Meta's register rules; every call that reaches the number counts toward 10 per 72 h."""
    number = state.numbers.get(phone_number_id)
    if number is None:
        raise errors.no_such_object(phone_number_id, "POST")
    _authorize(state, request, number.waba_id, phone_number_id)
    now = state.clock.now()
    number.register_attempts.append(now)
    if number.register_blocked_until is not None and now < number.register_blocked_until:
        raise _register_limit()
    if attempts_in_window(number, now) > REGISTER_LIMIT:
        number.register_blocked_until = now + REGISTER_BLOCK_SECONDS
        raise _register_limit()
    params = request.params
    if str(params.get("messaging_product") or "").lower() != "whatsapp":
        raise errors.invalid_param('(#100) Param messaging_product must be one of {WHATSAPP} - got "".')
    pin = str(params.get("pin") or "")
    if not PIN_RE.match(pin):
        raise errors.invalid_param("(#100) Param pin must be 6 characters long.")
    number.refresh(now)
    if number.name_status not in ("APPROVED", "AVAILABLE_WITHOUT_REVIEW"):
        raise GraphError(
            400,
            100,
            "(#100) Invalid parameter",
            subcode=2388001,
            user_title="Cannot Create Certificate",
            user_msg="Your display name could not be processed. Please edit your display name and try again.",
        )
    if number.pin is not None and pin != number.pin:
        raise GraphError(
            400,
            133005,
            "Two step verification PIN Mismatch",
            user_title="Two step verification PIN Mismatch",
            user_msg="The two step verification PIN you entered is incorrect.",
        )
    number.pin = pin
    number.platform_type = "CLOUD_API"
    number.throughput_level = "STANDARD"
    number.status = "CONNECTED"
    number.code_verification_status = "VERIFIED"
    return {"success": True}


def _register_limit() -> GraphError:
    return GraphError(
        400,
        133016,
        "Account register deregister rate limit exceeded",
        user_title="Too many register attempts",
        user_msg="This number was registered or deregistered too many times. Try again in 72 hours.",
    )


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
    data = [_node(state, state.numbers[pid], names) for pid in waba.number_ids[start:end]]
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
    waba = _waba(state, request, waba_id)
    uri = request.params.get("override_callback_uri")
    if uri:
        if not request.params.get("verify_token"):
            raise errors.invalid_param("(#100) Param verify_token is required with override_callback_uri")
        waba.override_callback_uri = str(uri)
        waba.verify_token = str(request.params["verify_token"])
    waba.subscribed = True
    return {"success": True}


def _unsubscribe_app(state: SimState, request: GraphRequest, waba_id: str) -> dict[str, Any]:
    waba = _waba(state, request, waba_id)
    waba.subscribed = False
    waba.override_callback_uri = waba.verify_token = None
    return {"success": True}


_EDGES: dict[tuple[str, str], Callable[[SimState, GraphRequest, str], Any]] = {
    ("phone_numbers", "GET"): _phone_numbers,
    ("subscribed_apps", "GET"): _list_subscribed_apps,
    ("subscribed_apps", "POST"): _subscribe_app,
    ("subscribed_apps", "DELETE"): _unsubscribe_app,
    ("register", "POST"): _register,
}
