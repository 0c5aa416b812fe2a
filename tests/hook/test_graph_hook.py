"""WhatsAppGraphHook against mock transports: request shapes, paging, batch, errors, secrets.

Mock transports are for these unit tests only; the simulator tests exercise the same hook
over a real loopback server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest
from airflow.sdk._shared.secrets_masker import redact

from include.graph_simulator.process import SimulatorControl
from tests.unit import graph_errors as g
from whatsapp.errors import ErrorKind, GraphApiError
from whatsapp.hooks.graph import READ_ATTEMPTS, BatchRequest, TokenInfo, WhatsAppGraphHook, appsecret_proof

APP_ID = "9988776655"
APP_SECRET = "app-secret-s3cr3t-value"
TOKEN = "EAAG-business-token-aaaaaaaaaaaa"
OTHER_TOKEN = "EAAG-business-token-bbbbbbbbbbbb"
CODE = "signup-code-zzzzzzzzzzzzzz"
PIN = "482915"
VERIFY = "verify-token-vvvvvvvvvvvv"
SECRETS = (APP_SECRET, TOKEN, OTHER_TOKEN, CODE, PIN, VERIFY)

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def graph_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT",
        json.dumps(
            {
                "conn_type": "whatsapp_graph",
                "host": "https://graph.test",
                "login": APP_ID,
                "password": APP_SECRET,
                "extra": {"api_version": "v24.0", "timeout": 5, "batch_size": 50},
            }
        ),
    )


class Recorder:
    """A mock Graph: records every request and answers with a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.handler(request)

    def hook(self) -> WhatsAppGraphHook:
        return WhatsAppGraphHook(transport=httpx.MockTransport(self))


def ok(payload: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, json=payload, headers=headers)


def fail(status: int, raw: str) -> httpx.Response:
    return httpx.Response(status, content=raw.encode(), headers={"content-type": "application/json"})


@pytest.fixture
def all_logs(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[Callable[[], str]]:
    """Everything logged, through stdlib logging or Airflow's structlog (which prints)."""
    caplog.set_level(logging.DEBUG)
    yield lambda: caplog.text + "".join(capfd.readouterr())


def test_exchange_code_sends_credentials_and_masks_them() -> None:
    graph = Recorder(lambda r: ok({"access_token": TOKEN, "token_type": "bearer"}))
    assert graph.hook().exchange_code(CODE) == TOKEN
    (request,) = graph.requests
    assert request.url.path == "/v24.0/oauth/access_token"
    assert request.url.params["client_id"] == APP_ID
    assert request.url.params["code"] == CODE
    for secret in (APP_SECRET, CODE, TOKEN):
        assert secret not in redact(f"value {secret} here")


def test_debug_token_uses_the_app_token_and_reads_granular_scopes() -> None:
    body = {
        "data": {
            "app_id": APP_ID,
            "is_valid": True,
            "expires_at": 0,
            "scopes": ["whatsapp_business_manage_events"],
            "granular_scopes": [
                {"scope": "whatsapp_business_manage_events", "target_ids": ["102290129340398"]}
            ],
        }
    }
    graph = Recorder(lambda r: ok(body))
    info = graph.hook().debug_token(TOKEN)
    assert graph.requests[0].headers["Authorization"] == f"Bearer {APP_ID}|{APP_SECRET}"
    assert graph.requests[0].url.params["input_token"] == TOKEN
    assert info.has_waba_access("102290129340398")
    assert not info.has_waba_access("999")


def test_list_phone_numbers_follows_paging_without_the_embedded_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "after" not in request.url.params:
            next_url = f"https://graph.test/v24.0/555/phone_numbers?access_token={TOKEN}&after=CUR1&limit=1"
            return ok({"data": [{"id": "1"}], "paging": {"cursors": {"after": "CUR1"}, "next": next_url}})
        return ok({"data": [{"id": "2"}], "paging": {"cursors": {"before": "CUR1"}}})

    graph = Recorder(handler)
    numbers = graph.hook().list_phone_numbers("555", TOKEN)
    assert [n["id"] for n in numbers] == ["1", "2"]
    assert len(graph.requests) == 2
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in graph.requests)
    assert "access_token" not in graph.requests[1].url.params
    assert graph.requests[1].url.params["after"] == "CUR1"


def test_paging_to_a_foreign_host_is_refused() -> None:
    graph = Recorder(lambda r: ok({"data": [], "paging": {"next": "https://evil.test/v24.0/x?after=1"}}))
    with pytest.raises(GraphApiError, match="another host"):
        graph.hook().list_phone_numbers("555", TOKEN)


def test_get_phone_health_asks_the_one_field_list() -> None:
    node = {"id": "42", "platform_type": "NOT_APPLICABLE", "throughput": {"level": "NOT_APPLICABLE"}}
    graph = Recorder(lambda r: ok(node))
    health = graph.hook().get_phone_health("42", TOKEN)
    assert health.is_pending
    fields = graph.requests[0].url.params["fields"].split(",")
    assert {"name_status", "platform_type", "throughput", "code_verification_status"} <= set(fields)


def test_a_channel_token_is_masked_once_per_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a task each ``mask_secret`` is also a message to the supervisor: once per token is enough."""
    from whatsapp.hooks import graph as graph_module

    masked: list[object] = []

    def recording_mask(secret: object, name: str | None = None) -> None:
        masked.append(secret)
        real_mask(secret, name)

    real_mask = graph_module.mask_secret
    monkeypatch.setattr(graph_module, "mask_secret", recording_mask)
    node = {"id": "42", "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"}}
    hook = Recorder(lambda r: ok(node)).hook()
    hook.get_phone_health("42", TOKEN)
    hook.get_phone_health("42", TOKEN)
    assert masked.count(TOKEN) == 1
    assert TOKEN not in redact(f"value {TOKEN} here")


def test_write_calls_send_json_bodies_with_bearer_token() -> None:
    graph = Recorder(lambda r: ok({"success": True}))
    hook = graph.hook()
    hook.subscribe_app("555", TOKEN)
    hook.set_webhook_override("42", TOKEN, "https://hooks.example.test/wa", VERIFY)
    hook.register("42", TOKEN, PIN)
    paths = [(r.method, r.url.path) for r in graph.requests]
    assert paths == [
        ("GET", "/v24.0/555/subscribed_apps"),  # read first: subscribing again would drop an override
        ("POST", "/v24.0/555/subscribed_apps"),
        ("POST", "/v24.0/42"),
        ("POST", "/v24.0/42/register"),
    ]
    bodies = [json.loads(r.content) for r in graph.requests if r.method == "POST"]
    assert bodies[1] == {
        "webhook_configuration": {
            "override_callback_uri": "https://hooks.example.test/wa",
            "verify_token": VERIFY,
        }
    }
    assert bodies[2] == {"messaging_product": "whatsapp", "pin": PIN}
    assert all(TOKEN not in str(r.url) for r in graph.requests)


@pytest.mark.parametrize(
    ("status", "raw", "kind"),
    [
        (400, g.DISPLAY_NAME_NOT_READY, ErrorKind.DISPLAY_NAME_NOT_READY),
        (400, g.REGISTER_LIMIT, ErrorKind.REGISTER_LIMIT),
        (400, g.PIN_MISMATCH, ErrorKind.PIN_PROBLEM),
        (401, g.TOKEN_EXPIRED, ErrorKind.TOKEN_INVALID),
        (403, g.NO_PERMISSION_TO_REGISTER, ErrorKind.PERMISSION),
        (429, g.WABA_RATE_LIMIT, ErrorKind.THROTTLED),
        (500, g.UNKNOWN_TRANSIENT, ErrorKind.TRANSIENT),
    ],
)
def test_register_errors_are_typed(status: int, raw: str, kind: ErrorKind) -> None:
    graph = Recorder(lambda r: fail(status, raw))
    with pytest.raises(GraphApiError) as caught:
        graph.hook().register("42", TOKEN, PIN)
    assert caught.value.kind is kind
    assert caught.value.operation == "register"


def test_transport_failures_are_transient_errors() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused to {request.url}", request=request)

    for handler, text in ((timeout, "timed out"), (refused, "connection failed")):
        with pytest.raises(GraphApiError, match=text) as caught:
            Recorder(handler).hook().exchange_code(CODE)
        assert caught.value.kind is ErrorKind.TRANSIENT
        assert CODE not in str(caught.value) and APP_SECRET not in str(caught.value)
        assert caught.value.__cause__ is None  # the httpx error (with the URL) is not chained


def test_malformed_json_is_transient() -> None:
    graph = Recorder(lambda r: httpx.Response(200, content=b"{not json"))
    with pytest.raises(GraphApiError) as caught:
        graph.hook().get_phone_health("42", TOKEN)
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_usage_headers_are_exposed() -> None:
    headers = {
        "x-app-usage": '{"call_count": 40, "total_time": 3, "total_cputime": 2}',
        "x-business-use-case-usage": '{"555": [{"type": "whatsapp_business_management", "call_count": 81,'
        ' "total_time": 5, "total_cputime": 4, "estimated_time_to_regain_access": 0}]}',
    }
    hook = Recorder(lambda r: ok({"id": "42"}, headers)).hook()
    hook.get_phone_health("42", TOKEN)
    assert hook.last_usage.app_call_count == 40
    assert [(b.business_id, b.call_count) for b in hook.last_usage.business] == [("555", 81)]


def _batch_answer(request: httpx.Request) -> httpx.Response:
    form = dict(httpx.QueryParams(request.content.decode()))
    answers: list[object] = []
    for sub in json.loads(form["batch"]):
        phone = sub["relative_url"].split("?")[0].split("/")[-1]
        if phone == "timeout":
            answers.append(None)
        elif phone == "expired":
            answers.append({"code": 400, "headers": [], "body": g.TOKEN_EXPIRED})
        else:
            usage = '{"555": [{"type": "whatsapp_business_management", "call_count": 10}]}'
            answers.append(
                {
                    "code": 200,
                    "headers": [{"name": "X-Business-Use-Case-Usage", "value": usage}],
                    "body": json.dumps({"id": phone, "platform_type": "CLOUD_API"}),
                }
            )
    return ok(answers)


def test_batch_carries_per_request_tokens_and_decodes_each_answer() -> None:
    graph = Recorder(_batch_answer)
    hook = graph.hook()
    requests = [
        BatchRequest(hook.health_relative_url("1"), TOKEN),
        BatchRequest(hook.health_relative_url("expired"), OTHER_TOKEN),
        BatchRequest(hook.health_relative_url("timeout"), TOKEN),
    ]
    results = hook.batch_get(requests)
    (request,) = graph.requests
    assert request.url.path == "/v24.0/"
    sent = json.loads(dict(httpx.QueryParams(request.content.decode()))["batch"])
    credentials = [httpx.URL(s["relative_url"]).params for s in sent]
    assert [c["access_token"] for c in credentials] == [TOKEN, OTHER_TOKEN, TOKEN]
    # Each sub-request carries the proof of its own token.
    assert [c["appsecret_proof"] for c in credentials] == [
        appsecret_proof(APP_SECRET, t) for t in (TOKEN, OTHER_TOKEN, TOKEN)
    ]
    assert results[0].body["id"] == "1" and results[0].error is None
    assert [(b.business_id, b.call_count) for b in results[0].usage.business] == [("555", 10)]
    assert results[1].error is not None and results[1].error.kind is ErrorKind.TOKEN_INVALID
    assert results[2].status is None and results[2].error.kind is ErrorKind.TRANSIENT


def test_batch_over_fifty_fails_before_sending() -> None:
    graph = Recorder(_batch_answer)
    hook = graph.hook()
    with pytest.raises(ValueError, match="at most 50"):
        hook.batch_get([BatchRequest(hook.health_relative_url(str(i)), TOKEN) for i in range(51)])
    assert graph.requests == []


def test_async_calls_share_the_request_code() -> None:
    async def scenario() -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            await request.aread()
            if request.url.path == "/v24.0/":
                return _batch_answer(request)
            return ok({"id": "42", "name_status": "PENDING_REVIEW"})

        hook = WhatsAppGraphHook(async_transport=httpx.MockTransport(handler))
        try:
            health = await hook.aget_phone_health("42", TOKEN)
            assert health.name_status == "PENDING_REVIEW"
            results = await hook.abatch_get([BatchRequest(hook.health_relative_url("7"), TOKEN)])
            assert results[0].body["id"] == "7"
        finally:
            await hook.aclose()

    asyncio.run(scenario())


def test_no_secret_in_logs_or_exception_text(all_logs: Callable[[], str]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/register"):
            return fail(400, g.PIN_MISMATCH)
        if request.url.path.endswith("oauth/access_token"):
            return fail(400, g.INVALID_PARAMETER)
        return fail(401, g.TOKEN_EXPIRED)

    hook = Recorder(handler).hook()
    texts: list[str] = []
    for call in (
        lambda: hook.exchange_code(CODE),
        lambda: hook.debug_token(TOKEN),
        lambda: hook.register("42", TOKEN, PIN),
        lambda: hook.set_webhook_override("42", OTHER_TOKEN, "https://hooks.example.test", VERIFY),
    ):
        with pytest.raises(GraphApiError) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), repr(caught.value.__dict__)]
    logged = all_logs()
    texts.append(logged)
    assert "Graph register: POST /v24.0/42/register" in logged  # the hook does log its calls ...
    for secret in SECRETS:
        assert all(secret not in text for text in texts), "a secret leaked"  # ... never a secret


def test_httpx_logs_the_hooks_requests_without_their_query_string(caplog: pytest.LogCaptureFixture) -> None:
    """httpx's own INFO line ("HTTP Request: GET <url>") never carries the query-string secrets."""
    caplog.set_level(logging.INFO, logger="httpx")
    body = {"access_token": TOKEN, "data": {"app_id": APP_ID, "is_valid": True}}
    graph = Recorder(lambda r: ok(body))
    hook = graph.hook()
    hook.exchange_code(CODE)
    hook.debug_token(OTHER_TOKEN)
    assert "client_secret" in str(graph.requests[0].url) and OTHER_TOKEN in str(graph.requests[1].url)

    async def health() -> None:
        hook = WhatsAppGraphHook(async_transport=httpx.MockTransport(lambda r: ok({"id": "42"})))
        try:
            await hook.aget_phone_health("42", TOKEN)
        finally:
            await hook.aclose()

    asyncio.run(health())
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines == [
        'HTTP Request: GET https://graph.test/v24.0/oauth/access_token "HTTP/1.1 200 OK"',
        'HTTP Request: GET https://graph.test/v24.0/debug_token "HTTP/1.1 200 OK"',
        'HTTP Request: GET https://graph.test/v24.0/42 "HTTP/1.1 200 OK"',
    ]


def test_other_httpx_clients_log_as_before(caplog: pytest.LogCaptureFixture) -> None:
    """The hook's filter on the httpx logger touches the hook's own requests only."""
    Recorder(lambda r: ok({"access_token": TOKEN})).hook().exchange_code(CODE)  # installs the filter
    caplog.set_level(logging.INFO, logger="httpx")
    with httpx.Client(transport=httpx.MockTransport(lambda r: ok({}))) as client:
        client.get("https://example.test/search?q=kept")
    assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == [
        'HTTP Request: GET https://example.test/search?q=kept "HTTP/1.1 200 OK"'
    ]


def test_importing_the_hook_leaves_logging_alone() -> None:
    """No level or filter set on httpx/httpcore by an import: Airflow's or the user's config decides."""
    script = (
        "import logging, airflow.sdk\n"
        "def state():\n"
        "    loggers = [logging.getLogger(name) for name in ('httpx', 'httpcore')]\n"
        "    return [(logger.level, logger.filters[:]) for logger in loggers]\n"
        "before = state()\n"
        "import whatsapp.hooks.graph\n"
        "print(before == state(), before)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].startswith("True "), result.stdout


def test_no_secret_in_httpx_or_httpcore_debug_logs_over_loopback(
    caplog: pytest.LogCaptureFixture, sim: SimulatorControl, graph_conn_env: str
) -> None:
    """A real HTTP stack (the simulator): httpcore's DEBUG trace holds no URL, headers or body either."""
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    number = sim.add_number()
    hook = WhatsAppGraphHook()
    token = hook.exchange_code(number["code"])
    hook.debug_token(token)
    hook.get_phone_health(number["phone_number_id"], token)
    hook.close()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "httpcore")))
    assert "HTTP Request: GET" in logged and "send_request_headers" in logged
    for secret in (sim.app_secret, number["code"], token):
        assert secret not in logged


def test_connection_fields_are_validated_with_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT",
        json.dumps({"conn_type": "whatsapp_graph", "login": APP_ID, "extra": {"batch_size": 60}}),
    )
    with pytest.raises(ValueError) as caught:
        _ = WhatsAppGraphHook().settings
    assert "password (app secret) is empty" in str(caught.value)
    assert "extra.batch_size must be 1..50" in str(caught.value)


def _connect(monkeypatch: pytest.MonkeyPatch, host: str, extra: dict[str, object]) -> None:
    connection = {"conn_type": "whatsapp_graph", "host": host, "login": APP_ID, "password": APP_SECRET}
    monkeypatch.setenv("AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT", json.dumps({**connection, "extra": extra}))


def test_every_client_shares_one_tls_context_that_verifies_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """One CA bundle load per process (httpx loads one per client), certificate checks kept."""
    _connect(monkeypatch, "https://graph.facebook.com", {})
    contexts = [WhatsAppGraphHook()._client_options()["verify"] for _ in range(2)]
    assert isinstance(contexts[0], ssl.SSLContext) and contexts[0] is contexts[1]
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED and contexts[0].check_hostname
    assert contexts[0].cert_store_stats()["x509_ca"] > 0  # certifi's CA bundle is loaded


@pytest.mark.parametrize(
    ("host", "value", "expected"),
    [
        ("http://127.0.0.1:8765", True, True),
        ("http://127.0.0.1:8765", "True", True),  # a connection URI's query string is text
        ("http://127.0.0.1:8765", "false", False),
        ("https://graph.facebook.com", False, False),
        ("https://graph.facebook.com", None, False),
    ],
)
def test_http2_prior_knowledge_turns_http1_off(
    monkeypatch: pytest.MonkeyPatch, host: str, value: object, expected: bool
) -> None:
    _connect(monkeypatch, host, {} if value is None else {"http2_prior_knowledge": value})
    hook = WhatsAppGraphHook()
    assert hook.settings.http2_prior_knowledge is expected
    options = hook._client_options()
    assert (options["http1"], options["http2"]) == (not expected, True)


@pytest.mark.parametrize(
    ("host", "value", "problem"),
    [
        ("http://127.0.0.1:8765", "yes", "extra.http2_prior_knowledge must be true or false, got 'yes'"),
        ("http://127.0.0.1:8765", 1, "extra.http2_prior_knowledge must be true or false, got 1"),
        ("https://graph.facebook.com", True, "extra.http2_prior_knowledge needs an http:// host"),
        ("graph.facebook.com", "true", "extra.http2_prior_knowledge needs an http:// host"),  # https implied
    ],
)
def test_http2_prior_knowledge_is_validated(
    monkeypatch: pytest.MonkeyPatch, host: str, value: object, problem: str
) -> None:
    _connect(monkeypatch, host, {"http2_prior_knowledge": value})
    with pytest.raises(ValueError, match="whatsapp_graph_default") as caught:
        _ = WhatsAppGraphHook().settings
    assert problem in str(caught.value)


def test_test_connection_reports_both_ways() -> None:
    good = Recorder(lambda r: ok({"data": {"app_id": APP_ID, "is_valid": True, "type": "APP"}}))
    assert good.hook().test_connection() == (
        True,
        f"Connected to Graph v24.0 at https://graph.test as app {APP_ID}",
    )
    bad = Recorder(lambda r: fail(400, g.TOKEN_INVALID))
    success, message = bad.hook().test_connection()
    assert not success and "Invalid OAuth access token" in message and APP_SECRET not in message


def test_request_bodies_validate_against_metas_openapi_spec() -> None:
    """What the hook really sends for register, subscribed_apps and the override is what the spec accepts."""
    from tests.support.openapi import validate_request

    graph = Recorder(lambda r: ok({"success": True}))
    hook = graph.hook()
    hook.subscribe_app("102290129340398", TOKEN)
    hook.set_webhook_override(
        "106540352242922", TOKEN, "https://hooks.example.test/wa/106540352242922", VERIFY
    )
    hook.register("106540352242922", TOKEN, PIN)
    templates = [
        "/{Version}/{WABA-ID}/subscribed_apps",
        "/{Version}/{Phone-Number-ID}",
        "/{Version}/{Phone-Number-ID}/register",
    ]
    posts = [r for r in graph.requests if r.method == "POST"]
    for request, template in zip(posts, templates, strict=True):
        assert request.headers["content-type"] == "application/json"
        validate_request("POST", template, json.loads(request.content))


def test_business_token_calls_carry_the_appsecret_proof_and_app_token_calls_do_not() -> None:
    graph = Recorder(
        lambda r: ok({"data": {"is_valid": True}} if "debug_token" in r.url.path else {"id": "42"})
    )
    hook = graph.hook()
    hook.get_phone_health("42", TOKEN)
    hook.debug_token(TOKEN)
    health_call, debug_call = graph.requests
    assert health_call.url.params["appsecret_proof"] == appsecret_proof(APP_SECRET, TOKEN)
    assert (
        appsecret_proof(APP_SECRET, TOKEN)
        == hmac.new(APP_SECRET.encode(), TOKEN.encode(), "sha256").hexdigest()
    )
    assert "appsecret_proof" not in debug_call.url.params  # the app token needs none


def test_transient_read_errors_are_retried_in_the_hook_writes_never() -> None:
    answers = iter([fail(500, g.UNKNOWN_TRANSIENT), ok({"id": "42"})])
    graph = Recorder(lambda r: next(answers))
    assert graph.hook().get_phone_health("42", TOKEN).phone_number_id == "42"
    assert len(graph.requests) == 2

    graph = Recorder(lambda r: fail(500, g.UNKNOWN_TRANSIENT))
    with pytest.raises(GraphApiError) as raised:
        graph.hook().register("42", TOKEN, PIN)
    assert raised.value.kind is ErrorKind.TRANSIENT
    assert len(graph.requests) == 1  # /register spends Meta's budget: never resent by the hook

    graph = Recorder(lambda r: fail(500, g.UNKNOWN_TRANSIENT))
    with pytest.raises(GraphApiError):
        graph.hook().get_phone_health("42", TOKEN)
    assert len(graph.requests) == READ_ATTEMPTS


def test_permanent_read_errors_are_not_retried() -> None:
    graph = Recorder(lambda r: fail(401, g.TOKEN_EXPIRED))
    with pytest.raises(GraphApiError):
        graph.hook().get_phone_health("42", TOKEN)
    assert len(graph.requests) == 1


def test_an_app_already_subscribed_keeps_its_waba_override() -> None:
    subscribed = {
        "data": [
            {
                "whatsapp_business_api_data": {"id": APP_ID, "name": "app"},
                "override_callback_uri": "https://alt.example.test/wa",
            }
        ]
    }
    graph = Recorder(lambda r: ok(subscribed if r.method == "GET" else {"success": True}))
    hook = graph.hook()
    assert hook.subscribe_app("555", TOKEN) is False
    assert [r.method for r in graph.requests] == ["GET"]  # no POST that would drop the override


@pytest.mark.parametrize("target_ids", [None, []], ids=["absent", "empty"])
def test_debug_token_scopes_without_target_ids_cover_every_waba(target_ids: list[str] | None) -> None:
    entry: dict[str, object] = {"scope": "whatsapp_business_management"}
    if target_ids is not None:
        entry["target_ids"] = target_ids
    info = TokenInfo.from_graph({"data": {"is_valid": True, "granular_scopes": [entry]}})
    assert info.has_waba_access("102290129340398")
    narrow = TokenInfo.from_graph(
        {"data": {"is_valid": True, "granular_scopes": [{**entry, "target_ids": ["1"]}]}}
    )
    assert not narrow.has_waba_access("102290129340398")


def test_request_sync_posts_the_sync_type_once_and_returns_metas_request_id() -> None:
    graph = Recorder(lambda r: ok({"messaging_product": "whatsapp", "request_id": "b1c2"}))
    assert graph.hook().request_sync("42", TOKEN, "smb_app_state_sync") == "b1c2"
    (request,) = graph.requests
    assert (request.method, request.url.path) == ("POST", "/v24.0/42/smb_app_data")
    assert json.loads(request.content) == {"messaging_product": "whatsapp", "sync_type": "smb_app_state_sync"}


def test_a_failed_sync_request_is_never_resent_by_the_hook() -> None:
    graph = Recorder(lambda r: fail(503, '{"error": {"message": "Service unavailable", "code": 2}}'))
    with pytest.raises(GraphApiError) as caught:
        graph.hook().request_sync("42", TOKEN, "history")
    assert caught.value.retryable and caught.value.operation == "request_sync"
    assert len(graph.requests) == 1  # Meta takes one request per type: the hook does not retry it
