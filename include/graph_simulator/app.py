"""The ASGI app: Graph calls (plain and batch) with faults, usage and a redacted request log.

Handlers never block: state changes are synchronous and tiny, injected latency is an
``asyncio.sleep``, so concurrent clients overlap exactly as they would against Meta.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import msgspec
from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from include.graph_simulator import errors
from include.graph_simulator.control import apply_bulk, router
from include.graph_simulator.errors import GraphError
from include.graph_simulator.faults import Fault, FaultBook
from include.graph_simulator.graph import (
    VERSION_RE,
    Answer,
    GraphRequest,
    business_usage_entry,
    check_appsecret_proof,
    dispatch,
    error_answer,
    target_waba,
    usage_headers,
)
from include.graph_simulator.state import SimState, SimulatorConfig, iso
from include.graph_simulator.webhooks import WebhookSender

MAX_BATCH = 50
CALL_LOG_SIZE = 200_000
SECRET_KEYS = frozenset(
    {"access_token", "input_token", "client_secret", "code", "pin", "verify_token", "password"}
)
_JSON_TYPE = "application/json; charset=UTF-8"
_SUB_CONTENT_TYPE = {"name": "Content-Type", "value": "text/javascript; charset=UTF-8"}


@dataclass(slots=True)
class Stats:
    http_requests: int = 0
    sub_requests: int = 0
    control_requests: int = 0
    #: Graph requests by the HTTP version the server spoke ("1.1", "2"), and the client ends
    #: (address, port) they came from: one per TCP connection, the server's view of a client pool.
    http_versions: Counter[str] = field(default_factory=Counter)
    peers: set[tuple[str, int]] = field(default_factory=set)


class Simulator:
    """State, faults, the call log and counters; :meth:`reset` replaces them all."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.base_config = config
        #: Bumped by every reset: a request that arrived before the latest reset (one held by a
        #: timeout fault past its client's patience) belongs to state that is gone, and its call
        #: must not show up in the log of whatever test reset the simulator meanwhile.
        self.epoch = 0
        self.reset()

    def reset(self) -> None:
        self.epoch += 1
        self.state = SimState(self.base_config.copy())
        self.faults = FaultBook()
        self.calls: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_SIZE)
        self.stats = Stats()
        self.webhooks = WebhookSender(self)
        self._seq = 0

    def log(self, entry: dict[str, Any]) -> None:
        self._seq += 1
        entry["seq"] = self._seq
        entry["sim_time"] = iso(self.state.clock.now())
        entry["wall_time"] = time.time()
        self.calls.append(entry)


# -- redaction ----------------------------------------------------------------------------


def redact(value: Any) -> Any:
    """Secrets (tokens, PIN, client secret, code, verify token) become ``***``, at any depth."""
    if isinstance(value, dict):
        return {k: "***" if k in SECRET_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


#: Text that ``urlencode(..., safe=",*{}")`` leaves as it is.
_PLAIN = re.compile(r"[A-Za-z0-9_.~,*{}-]*")


def redact_url(relative_url: str, query: list[tuple[str, str]] | None = None) -> str:
    """The URL with secret query values as ``***``; ``query``: its query string already parsed."""
    parts = urlsplit(relative_url)
    if not parts.query:
        return relative_url
    redacted = [
        (k, "***" if k in SECRET_KEYS else v)
        for k, v in (form_pairs(parts.query) if query is None else query)
    ]
    if all(_PLAIN.fullmatch(k) and _PLAIN.fullmatch(v) for k, v in redacted):  # nothing to quote
        return f"{parts.path}?" + "&".join(f"{k}={v}" for k, v in redacted)
    return f"{parts.path}?{urlencode(redacted, safe=',*{}')}"


# -- request parsing ----------------------------------------------------------------------


def _unquote_plus(text: str) -> str:
    """What ``parse_qsl`` makes of one name or value: ``+`` is a space, then ``unquote``; most
    of a query string's names and values have no escape at all, and skip both."""
    text = text.replace("+", " ")
    return unquote(text) if "%" in text else text


def form_pairs(text: str) -> list[tuple[str, str]]:
    """``parse_qsl(text, keep_blank_values=True)`` (form bodies, query strings): a sub-request's
    query string in half of ``parse_qsl``'s time (100,000 of them in a 100k audit)."""
    pairs = []
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


def split_version(path: str) -> tuple[str, str]:
    """``/v24.0/123/register`` -> ``("v24.0", "/123/register")``; unversioned paths work too."""
    head, _, rest = path.lstrip("/").partition("/")
    if VERSION_RE.match(head):
        return head, "/" + rest
    return "", "/" + path.lstrip("/")


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    if "json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(raw)
        except ValueError:
            raise errors.invalid_param("(#100) The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise errors.invalid_param("(#100) The request body must be a JSON object")
        return body
    return dict(form_pairs(raw.decode("utf-8", "replace")))


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() in ("bearer", "oauth") else None


# -- faults -------------------------------------------------------------------------------


Handler = Callable[[GraphRequest], Awaitable[Answer]]


def _throttle_answer(sim: Simulator, request: GraphRequest, fault: Fault) -> Answer:
    waba = target_waba(sim.state, request)
    if fault.code == 4:
        exc = errors.app_throttled(fault.regain_minutes)
        headers = usage_headers(sim.state, waba)
        headers["X-App-Usage"] = json.dumps({"call_count": 100, "total_cputime": 100, "total_time": 100})
    else:
        exc = errors.waba_throttled(fault.regain_minutes)
        headers = usage_headers(sim.state, None)
        if waba is not None:
            entry = business_usage_entry(100, fault.regain_minutes)
            headers["X-Business-Use-Case-Usage"] = json.dumps({waba.waba_id: [entry]})
    return Answer(exc.status, exc.body(), headers, fault="throttle")


async def with_faults(sim: Simulator, request: GraphRequest, handler: Handler, *, sub: bool) -> Answer | None:
    """Run ``handler`` unless a fault says otherwise; ``None`` is a batch sub-request timeout."""
    delay, fault = sim.faults.match(request) if sim.faults.faults else (0.0, None)
    if delay:
        await asyncio.sleep(delay)
    if fault is None:
        return await handler(request)
    if fault.kind == "timeout":
        if sub:
            return None  # Meta answers null for a sub-request that did not finish in time
        await asyncio.sleep(fault.timeout_seconds or sim.state.config.timeout_fault_seconds)
        return Answer(504, errors.server_error().body(), usage_headers(sim.state, None), fault="timeout")
    if fault.kind == "http_500":
        return Answer(500, errors.server_error().body(), usage_headers(sim.state, None), fault="http_500")
    if fault.kind == "throttle":
        return _throttle_answer(sim, request, fault)
    if fault.kind == "graph_error":
        exc = errors.whatsapp_error(fault.http_status, fault.code, fault.details, subcode=fault.subcode)
        exc.is_transient = fault.http_status >= 500
        return Answer(
            exc.status,
            exc.body(),
            usage_headers(sim.state, target_waba(sim.state, request)),
            fault="graph_error",
        )
    answer = await handler(request)  # malformed_json: the real answer, cut in half
    text = answer.text()
    answer.raw = text[: max(1, len(text) // 2)]
    answer.fault = "malformed_json"
    return answer


# -- batch --------------------------------------------------------------------------------


def _parse_sub_request(item: Any, envelope: GraphRequest) -> tuple[GraphRequest, str]:
    """The sub-request, and its ``relative_url`` as the call log shows it (secrets redacted)."""
    if not isinstance(item, dict) or not isinstance(item.get("relative_url"), str):
        raise errors.invalid_param("(#100) Each batch request needs a relative_url")
    parts = urlsplit(item["relative_url"])
    version, path = split_version(parts.path)
    query = form_pairs(parts.query)
    params: dict[str, Any] = dict(query)
    if isinstance(item.get("body"), str):
        params.update(form_pairs(item["body"]))
    token = params.pop("access_token", None)
    proof = params.pop("appsecret_proof", None)
    request = GraphRequest(
        method=str(item.get("method") or "GET").upper(),
        path=path,
        params=params,
        token=token or envelope.token,
        base_url=envelope.base_url,
        version=version or envelope.version,
        token_in_query=token is not None,
        # The top-level proof covers the top-level token only; a sub-request that brings
        # its own access_token must bring the proof for that token too.
        proof=proof if token else proof or envelope.proof,
    )
    return request, redact_url(item["relative_url"], query)


def _sub_response(answer: Answer | None, include_headers: bool) -> dict[str, Any] | None:
    if answer is None:
        return None
    item: dict[str, Any] = {"code": answer.status}
    if include_headers:
        item["headers"] = [_SUB_CONTENT_TYPE, *({"name": k, "value": v} for k, v in answer.headers.items())]
    item["body"] = answer.text()
    return item


async def run_batch(sim: Simulator, envelope: GraphRequest, log: dict[str, Any]) -> Answer:
    """``POST /`` with ``batch``: at most 50 sub-requests, answered in order, each on its own."""
    state = sim.state
    raw = envelope.params.get("batch")
    if raw is None:
        raise errors.invalid_param("(#100) The parameter batch is required")
    try:
        batch = msgspec.json.decode(raw) if isinstance(raw, str) else raw
    except msgspec.DecodeError:
        raise errors.invalid_param("(#100) The parameter batch must be a JSON-encoded array") from None
    if not isinstance(batch, list) or not batch:
        raise errors.invalid_param("(#100) The parameter batch must be a non-empty JSON-encoded array")
    if len(batch) > MAX_BATCH:
        raise errors.invalid_param(
            f"(#100) Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
        )
    if envelope.token and envelope.token != state.app_token():
        if envelope.token not in state.tokens:
            raise errors.invalid_token()
        check_appsecret_proof(state, envelope.token, envelope.proof)
    subs, logged_urls = zip(*(_parse_sub_request(item, envelope) for item in batch), strict=True)
    sim.stats.sub_requests += len(subs)

    async def handle(request: GraphRequest) -> Answer:
        return dispatch(state, request)

    if sim.faults.faults:
        answers = await asyncio.gather(*(with_faults(sim, s, handle, sub=True) for s in subs))
    else:
        answers = [dispatch(state, s) for s in subs]
    include_headers = str(envelope.params.get("include_headers", "true")).lower() != "false"
    log["batch"] = [
        {
            "method": s.method,
            "path": s.path,
            "relative_url": url,
            "status": None if a is None else a.status,
            "fault": "timeout" if a is None else a.fault,
        }
        for s, url, a in zip(subs, logged_urls, answers, strict=True)
    ]
    headers = usage_headers(state, None)
    business: dict[str, Any] = {}
    for answer in answers:
        if answer is not None and "X-Business-Use-Case-Usage" in answer.headers:
            business.update(json.loads(answer.headers["X-Business-Use-Case-Usage"]))
    if business:
        headers["X-Business-Use-Case-Usage"] = json.dumps(business)
    return Answer(200, [_sub_response(a, include_headers) for a in answers], headers)


# -- the app ------------------------------------------------------------------------------


def _log_entry(http: Request, body: dict[str, Any]) -> dict[str, Any]:
    query = redact(dict(http.query_params))
    logged_body = redact({k: v for k, v in body.items() if k != "batch"})
    if "batch" in body:
        logged_body["batch"] = "(see batch)"
    return {"method": http.method, "path": http.url.path, "query": query, "body": logged_body}


async def graph_entry(http: Request) -> Response:
    """Every non-control path: a Graph call, or a batch envelope at ``/`` / ``/vNN.N/``."""
    sim: Simulator = http.app.state.sim
    state = sim.state
    stats = sim.stats
    stats.http_requests += 1
    stats.http_versions[http.scope["http_version"]] += 1
    if client := http.scope.get("client"):
        stats.peers.add((client[0], client[1]))
    epoch = sim.epoch
    version, path = split_version(http.url.path)
    log: dict[str, Any] = {"method": http.method, "path": http.url.path, "query": {}, "body": {}}
    try:
        body = await read_body(http)
        log = _log_entry(http, body)
        params: dict[str, Any] = {**dict(http.query_params), **body}
        header_token = bearer(http)
        query_token = params.pop("access_token", None)
        proof = params.pop("appsecret_proof", None)
        request = GraphRequest(
            method=http.method,
            path=path,
            params=params,
            token=header_token or query_token,
            base_url=f"{http.url.scheme}://{http.url.netloc}",
            version=version,
            token_in_query=header_token is None and query_token is not None,
            proof=None if proof is None else str(proof),
        )
        if state.config.latency_ms:
            await asyncio.sleep(state.config.latency_ms / 1000.0)

        async def handle(req: GraphRequest) -> Answer:
            if req.path == "/" and req.method == "POST":
                try:
                    return await run_batch(sim, req, log)
                except GraphError as exc:
                    return error_answer(state, exc)
            return dispatch(state, req)

        answer = await with_faults(sim, request, handle, sub=False)
        assert answer is not None  # only sub-requests time out into None
    except GraphError as exc:
        answer = error_answer(state, exc)
    log["status"] = answer.status
    log["fault"] = answer.fault
    if sim.epoch == epoch:  # else the simulator was reset while this request was held
        sim.log(log)
        if state.outbox:
            sim.webhooks.flush()
    return Response(answer.text(), status_code=answer.status, headers=answer.headers, media_type=_JSON_TYPE)


def create_app(
    config: SimulatorConfig | None = None, seed: dict[str, Any] | list[Any] | None = None
) -> FastAPI:
    """The simulator app; ``seed`` (the ``--seed`` file's content) is applied once at start."""
    app = FastAPI(title="Graph API simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sim = Simulator(config or SimulatorConfig())
    if seed:
        apply_bulk(app.state.sim.state, seed)
    app.include_router(router)
    app.add_api_route("/{full_path:path}", graph_entry, methods=["GET", "POST", "DELETE"])

    app.add_middleware(_WebhookWatcher, sim_app=app)
    return app


class _WebhookWatcher:
    """Uvicorn runs without lifespan: the webhook watcher starts with the first request.

    Plain ASGI rather than ``@app.middleware("http")``, whose ``BaseHTTPMiddleware`` streams
    every response body through an extra task and channel (costly on 64 kB batch answers).
    """

    def __init__(self, app: ASGIApp, sim_app: FastAPI) -> None:
        self.app = app
        self.sim_app = sim_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.sim_app.state.sim.webhooks.ensure_watching()
        await self.app(scope, receive, send)
