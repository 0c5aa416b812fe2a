"""The Graph API hook: every call this provider makes to Meta goes through here.

One HTTP stack (httpx) serves both worlds: :class:`httpx.Client` for tasks and
:class:`httpx.AsyncClient` for the triggerer and the fleet audit. Both reuse connections,
honour the connection's timeout and speak HTTP/2 where the server offers it: over TLS
(Graph) by ALPN, on a plain ``http://`` host (the simulator) only with the connection's
``http2_prior_knowledge`` extra.

Credentials never travel in a URL we log: access tokens go in the ``Authorization``
header or a form body, and the two Graph calls that need secrets in the query string
(code exchange, ``debug_token``) are logged by operation name only. The app secret, the
signup code, PINs, verify tokens and every token of a single-channel call are registered
with Airflow's secrets masker; batch sub-request tokens are not (see ``_batch_call``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import ssl
import string
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import quote_plus

import httpx
import msgspec
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from tenacity import AsyncRetrying, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from whatsapp import GRAPH_CONN_TYPE
from whatsapp.defaults import (
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_CONN_ID,
    DEFAULT_GRAPH_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_TIMEOUT_S,
    MAX_BATCH_SIZE,
)
from whatsapp.domain.health import PhoneHealth, graph_fields
from whatsapp.domain.usage import APP_USAGE_HEADER, BUSINESS_USAGE_HEADER, Usage
from whatsapp.errors import ErrorKind, GraphApiError

#: Tries of a call safe to resend before its transient error reaches the caller (a task retry
#: costs minutes; a 500 from Graph usually clears in a second).
READ_ATTEMPTS = 3
#: Waits between those tries: exponential from this many seconds, jittered, at most 2 s.
READ_RETRY_WAIT_S = 0.25


def _retry_reads(call: _Call) -> dict[str, Any]:
    """tenacity's policy for one call: retry transient failures of calls safe to resend."""
    return {
        "stop": stop_after_attempt(READ_ATTEMPTS if call.safe_to_resend else 1),
        "wait": wait_exponential_jitter(multiplier=READ_RETRY_WAIT_S, max=2.0),
        "retry": retry_if_exception(lambda e: isinstance(e, GraphApiError) and e.kind is ErrorKind.TRANSIENT),
        "reraise": True,
    }


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """hex HMAC-SHA256 of the access token keyed with the app secret.

    Apps with "Require App Secret" on refuse business-token calls without it (Meta, "Securing
    requests": https://developers.facebook.com/docs/graph-api/securing-requests/).
    """
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


#: The ASCII characters ``urllib.parse.quote_plus`` escapes, but for ``%`` and space (done apart).
_FORM_ESCAPES = tuple(
    (char, f"%{ord(char):02X}")
    for char in map(chr, range(128))
    if char not in string.ascii_letters + string.digits + "_.-~% "
)


def _quote_plus(text: str) -> str:
    """``quote_plus(text)``; for ASCII text a few C-speed ``str.replace`` instead of a Python loop
    over every byte (a batch carries ~25 kB of JSON: a millisecond per batch, 2 s per 100k audit)."""
    if not text.isascii():
        return quote_plus(text)
    text = text.replace("%", "%25")
    for char, escaped in _FORM_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return text.replace(" ", "+")


def form_body(data: Mapping[str, str]) -> bytes:
    """``application/x-www-form-urlencoded``, byte for byte what httpx's ``data=`` sends."""
    return "&".join(f"{_quote_plus(key)}={_quote_plus(value)}" for key, value in data.items()).encode()


#: Graph's answers decoded by msgspec: the same Python values as ``json.loads`` at a third of its
#: CPU (a 100k-channel audit decodes 2,000 envelopes and 100,000 sub-response bodies).
_JSON = msgspec.json.Decoder()

#: Set while this hook sends a request, in that thread or asyncio task only.
_SENDING: ContextVar[bool] = ContextVar("whatsapp_graph_sending", default=False)


class _HookUrlsWithoutQuery(logging.Filter):
    """Drops the query string from httpx's "HTTP Request: <method> <url>" line for the hook's calls.

    httpx logs every request URL at INFO, and two Graph calls carry secrets in the query string
    (Meta's design: the code exchange and ``debug_token``). Raising the httpx logger's level
    would silence every other httpx user of the process; this filter changes nothing outside
    :data:`_SENDING`, and the hook logs its own line (operation and path) anyway.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _SENDING.get() and isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


@contextmanager
def _sending() -> Iterator[None]:
    """Marks one of the hook's requests for :class:`_HookUrlsWithoutQuery`."""
    marker = _SENDING.set(True)
    try:
        yield
    finally:
        _SENDING.reset(marker)


def _redact_hook_urls_in_httpx_log() -> None:
    """Installs the filter once per process; called when the hook makes its first client."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _HookUrlsWithoutQuery) for f in httpx_logger.filters):
        httpx_logger.addFilter(_HookUrlsWithoutQuery())


@cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process, shared by every client the hooks make.

    httpx builds a new context for each client it makes, loading certifi's CA bundle each time
    (tens of milliseconds of CPU). A hook makes a client per task, and a triggerer one per
    deferred signup; the CA bundle and settings (``SSL_CERT_FILE``/``SSL_CERT_DIR`` included,
    read when the first client is made) are the same for all of them.
    """
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class GraphSettings:
    """The connection's fields, validated once (docs/connections.md)."""

    base_url: str
    api_version: str
    app_id: str
    app_secret: str = field(repr=False)
    callback_url: str | None
    timeout: float
    max_concurrency: int
    batch_size: int
    #: HTTP/2 from the first byte on a cleartext ``http://`` host (h2c "prior knowledge"), as
    #: ``https://`` Graph gets it by ALPN; without it such a host is spoken to in HTTP/1.1.
    http2_prior_knowledge: bool = False

    @property
    def app_token(self) -> str:
        return f"{self.app_id}|{self.app_secret}"

    @classmethod
    def from_connection(cls, conn: Any) -> GraphSettings:
        extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
        host = (conn.host or DEFAULT_GRAPH_URL).rstrip("/")
        if "://" not in host:
            host = f"https://{host}"
        settings = cls(
            base_url=host,
            api_version=str(extra.get("api_version") or DEFAULT_API_VERSION),
            app_id=str(conn.login or ""),
            app_secret=str(conn.password or ""),
            callback_url=extra.get("callback_url") or None,
            timeout=float(extra.get("timeout") or DEFAULT_TIMEOUT_S),
            max_concurrency=int(extra.get("max_concurrency") or DEFAULT_MAX_CONCURRENCY),
            batch_size=int(extra.get("batch_size") or MAX_BATCH_SIZE),
            http2_prior_knowledge=_flag(extra.get("http2_prior_knowledge")) is True,
        )
        problems = []
        if not settings.app_id:
            problems.append("login (Meta app ID) is empty")
        if not settings.app_secret:
            problems.append("password (app secret) is empty")
        if not settings.api_version.startswith("v"):
            problems.append(f"extra.api_version {settings.api_version!r} is not like 'v24.0'")
        if not 1 <= settings.batch_size <= MAX_BATCH_SIZE:
            problems.append(f"extra.batch_size must be 1..{MAX_BATCH_SIZE}, got {settings.batch_size}")
        if settings.timeout <= 0 or settings.max_concurrency < 1:
            problems.append("extra.timeout and extra.max_concurrency must be positive")
        prior_knowledge = extra.get("http2_prior_knowledge")
        if _flag(prior_knowledge) is None:
            problems.append(f"extra.http2_prior_knowledge must be true or false, got {prior_knowledge!r}")
        elif settings.http2_prior_knowledge and not host.startswith("http://"):
            problems.append(
                "extra.http2_prior_knowledge needs an http:// host (https:// negotiates HTTP/2 by ALPN)"
            )
        if problems:
            raise ValueError(f"connection {conn.conn_id!r}: " + "; ".join(problems))
        return settings


def _flag(value: Any) -> bool | None:
    """An on/off extra: absent, a JSON boolean, or ``"true"``/``"false"`` (a connection URI's
    query string carries text); ``None`` for anything else, which the caller reports."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What ``debug_token`` says about a business token (the token itself is not kept)."""

    is_valid: bool
    app_id: str | None
    expires_at: datetime | None
    scopes: tuple[str, ...]
    granular_scopes: Mapping[str, tuple[str, ...]]

    #: Either scope lets the app manage the WABA; newer Embedded Signup tokens carry the second.
    WABA_SCOPES = ("whatsapp_business_management", "whatsapp_business_manage_events")
    #: In ``granular_scopes``: the scope came without ``target_ids``, which means every asset
    #: the token can reach (Meta's ``debug_token`` reference).
    EVERY_ASSET = "*"

    def has_waba_access(self, waba_id: str) -> bool:
        return self.is_valid and any(
            str(waba_id) in ids or self.EVERY_ASSET in ids
            for ids in (self.granular_scopes.get(scope, ()) for scope in self.WABA_SCOPES)
        )

    @classmethod
    def from_graph(cls, payload: Mapping[str, Any]) -> TokenInfo:
        data = payload.get("data") or {}
        expires = data.get("expires_at")
        granular: dict[str, tuple[str, ...]] = {}
        for entry in data.get("granular_scopes") or []:
            ids = tuple(str(t) for t in entry.get("target_ids") or ()) or (cls.EVERY_ASSET,)
            granular[str(entry.get("scope"))] = granular.get(str(entry.get("scope")), ()) + ids
        return cls(
            is_valid=bool(data.get("is_valid")),
            app_id=None if data.get("app_id") is None else str(data["app_id"]),
            expires_at=datetime.fromtimestamp(int(expires), UTC) if expires else None,
            scopes=tuple(str(s) for s in data.get("scopes") or ()),
            granular_scopes=granular,
        )


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One GET inside a Graph batch, carrying its own channel's token."""

    relative_url: str
    access_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One sub-response: a decoded body, or the error it carried (never both)."""

    status: int | None
    body: Any
    usage: Usage
    error: GraphApiError | None = None
    #: ``body`` as the JSON text Graph sent, so a caller that stores it need not encode it again.
    text: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class _Call:
    """A Graph request described once, sent by the sync or the async client."""

    operation: str
    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None
    token: str | None = field(default=None, repr=False)
    #: Sending it twice does no harm, so transient failures are retried in the hook within
    #: seconds (:data:`READ_ATTEMPTS`): reads, a batch of reads, and writes that set a value
    #: (subscribe, the webhook override). Never ``/register`` or ``/deregister``: each call
    #: spends Meta's allowance (``REGISTER_ALLOWANCE``). The code exchange is resent too: Meta
    #: spends no code on a 5xx, and after a timeout a second try is no worse than the task retry
    #: that would follow.
    safe_to_resend: bool = False


def _transport_error(call: _Call, exc: httpx.TransportError) -> GraphApiError:
    """No Graph answer at all; the httpx error (whose text holds the URL) is not chained."""
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    return GraphApiError.transport(f"{what} ({type(exc).__name__})", operation=call.operation)


class WhatsAppGraphHook(BaseHook):
    """Talks to Meta's Graph API (or the simulator) for one Meta app.

    :param whatsapp_graph_conn_id: a ``whatsapp_graph`` connection: host = Graph base URL,
        login = app id, password = app secret, extra = api_version, callback_url, timeout,
        max_concurrency, batch_size, http2_prior_knowledge (default false; true speaks HTTP/2
        without TLS to an ``http://`` host that serves it, e.g. the simulator's ``--http2``,
        and is refused with an ``https://`` host, where TLS negotiates HTTP/2 by itself).
    :param transport: / :param async_transport: httpx transports, for unit tests only.
    """

    conn_name_attr = "whatsapp_graph_conn_id"
    default_conn_name = DEFAULT_GRAPH_CONN_ID
    conn_type = GRAPH_CONN_TYPE
    hook_name = "WhatsApp Graph API"

    def __init__(
        self,
        whatsapp_graph_conn_id: str = DEFAULT_GRAPH_CONN_ID,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__()
        self.whatsapp_graph_conn_id = whatsapp_graph_conn_id
        self._transport = transport
        self._async_transport = async_transport
        self._settings: GraphSettings | None = None
        self._client: httpx.Client | None = None
        self._async_client: httpx.AsyncClient | None = None
        #: Tokens this hook has given the secrets masker: each call would otherwise send its
        #: token to the task's supervisor again (one message per Graph call).
        self._masked_tokens: set[str] = set()
        self.last_usage = Usage()

    # -- configuration -------------------------------------------------------------------

    @property
    def settings(self) -> GraphSettings:
        if self._settings is None:
            self._settings = GraphSettings.from_connection(self.get_connection(self.whatsapp_graph_conn_id))
            mask_secret(self._settings.app_secret)
            mask_secret(self._settings.app_token)
        return self._settings

    async def asettings(self) -> GraphSettings:
        """Like :attr:`settings`, without blocking the triggerer's event loop."""
        if self._settings is None:
            conn = await self.aget_connection(self.whatsapp_graph_conn_id)
            self._settings = GraphSettings.from_connection(conn)
            mask_secret(self._settings.app_secret)
            mask_secret(self._settings.app_token)
        return self._settings

    def _url(self, path: str) -> str:
        s = self.settings
        return f"{s.base_url}/{s.api_version}/{path.lstrip('/')}"

    def _client_options(self) -> dict[str, Any]:
        _redact_hook_urls_in_httpx_log()
        s = self.settings
        return {
            "timeout": httpx.Timeout(s.timeout, connect=min(10.0, s.timeout)),
            "limits": httpx.Limits(
                max_connections=s.max_concurrency, max_keepalive_connections=s.max_concurrency
            ),
            # Both by default: HTTP/2 where TLS negotiates it, else HTTP/1.1. Prior knowledge
            # turns HTTP/1.1 off, which is how httpx opens HTTP/2 on a cleartext connection.
            "http1": not s.http2_prior_knowledge,
            "http2": True,
            "headers": {"User-Agent": "airflow-provider-whatsapp"},
            "follow_redirects": False,
            "verify": _tls_context(),
        }

    def get_conn(self) -> httpx.Client:
        """The shared sync client (connection reuse across calls of one task)."""
        if self._client is None:
            self._client = httpx.Client(transport=self._transport, **self._client_options())
        return self._client

    def get_async_conn(self) -> httpx.AsyncClient:
        """The shared async client; create and use it inside one event loop."""
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(transport=self._async_transport, **self._client_options())
        return self._async_client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 2-style form hints; Airflow 3 reads ``conn-fields`` from provider info."""
        from whatsapp import get_provider_info

        return get_provider_info()["connection-types"][0]["ui-field-behaviour"]

    # -- transport -----------------------------------------------------------------------

    def _proof(self, token: str) -> str:
        return appsecret_proof(self.settings.app_secret, token)

    def _request_kwargs(self, call: _Call) -> dict[str, Any]:
        """URL, headers and body of one call; the URL's own query (a paging cursor) is kept."""
        headers = {"Authorization": f"Bearer {call.token}"} if call.token else {}
        if call.data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        params = dict(call.params or {})
        if call.token:
            if call.token not in self._masked_tokens:
                mask_secret(call.token)
                self._masked_tokens.add(call.token)
            if call.token != self.settings.app_token:  # the app token needs no proof
                params["appsecret_proof"] = self._proof(call.token)
        return {
            "url": httpx.URL(call.url).copy_merge_params(params),
            "json": call.json,
            "content": None if call.data is None else form_body(call.data),
            "headers": headers,
        }

    def _send(self, call: _Call) -> Any:
        for attempt in Retrying(**_retry_reads(call)):
            with attempt:
                return self._send_once(call)
        raise AssertionError("unreachable: tenacity reraises")

    async def _asend(self, call: _Call) -> Any:
        async for attempt in AsyncRetrying(**_retry_reads(call)):
            with attempt:
                return await self._asend_once(call)
        raise AssertionError("unreachable: tenacity reraises")

    def _send_once(self, call: _Call) -> Any:
        # Task-side calls are few and each is a step an operator wants to see; log the path only.
        self.log.info("Graph %s: %s %s", call.operation, call.method, httpx.URL(call.url).path)
        try:
            with _sending():
                response = self.get_conn().request(call.method, **self._request_kwargs(call))
        except httpx.TransportError as exc:
            raise _transport_error(call, exc) from None
        return self._decode(call, response)

    async def _asend_once(self, call: _Call) -> Any:
        # Async calls come by the thousand in a fleet audit: debug level, path only.
        self.log.debug("Graph %s: %s %s", call.operation, call.method, httpx.URL(call.url).path)
        try:
            with _sending():
                response = await self.get_async_conn().request(call.method, **self._request_kwargs(call))
        except httpx.TransportError as exc:
            raise _transport_error(call, exc) from None
        return self._decode(call, response)

    def _decode(self, call: _Call, response: httpx.Response) -> Any:
        headers = response.headers
        self.last_usage = Usage.from_values(headers.get(APP_USAGE_HEADER), headers.get(BUSINESS_USAGE_HEADER))
        try:
            payload = _JSON.decode(response.content)
        except msgspec.DecodeError:
            payload = None
            if response.is_success:
                raise GraphApiError(
                    f"HTTP {response.status_code} with a body that is not JSON",
                    http_status=response.status_code,
                    is_transient=True,
                    operation=call.operation,
                ) from None
        if response.is_error or (isinstance(payload, Mapping) and "error" in payload):
            retry_after = self.last_usage.regain_access_seconds or None
            raise GraphApiError.from_response(
                response.status_code, payload, operation=call.operation, retry_after_s=retry_after
            )
        return payload

    # -- calls (sync) --------------------------------------------------------------------

    def exchange_code(self, code: str) -> str:
        """Exchange a single-use Embedded Signup code for a business access token."""
        mask_secret(code)
        s = self.settings
        payload = self._send(
            _Call(
                "exchange_code",
                "GET",
                self._url("oauth/access_token"),
                params={"client_id": s.app_id, "client_secret": s.app_secret, "code": code},
                safe_to_resend=True,
            )
        )
        token = payload.get("access_token") if isinstance(payload, Mapping) else None
        if not token:
            raise GraphApiError("code exchange answered without an access_token", operation="exchange_code")
        mask_secret(token)
        return str(token)

    def debug_token(self, access_token: str) -> TokenInfo:
        """Inspect a business token with the app token: validity and granular scopes."""
        mask_secret(access_token)
        payload = self._send(
            _Call(
                "debug_token",
                "GET",
                self._url("debug_token"),
                params={"input_token": access_token},
                token=self.settings.app_token,
                safe_to_resend=True,
            )
        )
        return TokenInfo.from_graph(payload)

    def list_phone_numbers(
        self, waba_id: str, access_token: str, fields: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every phone number of a WABA, following ``paging.next`` (without its embedded token)."""
        numbers: list[dict[str, Any]] = []
        call = _Call(
            "list_phone_numbers",
            "GET",
            self._url(f"{waba_id}/phone_numbers"),
            params={"fields": ",".join(fields or self.health_fields)},
            token=access_token,
            safe_to_resend=True,
        )
        while True:
            payload = self._send(call)
            numbers.extend(payload.get("data") or [])
            next_url = self._next_page_url((payload.get("paging") or {}).get("next"))
            if next_url is None:
                return numbers
            call = _Call("list_phone_numbers", "GET", next_url, token=access_token, safe_to_resend=True)

    def _next_page_url(self, next_url: str | None) -> str | None:
        """Follow ``paging.next`` only to our own Graph host, and drop its ``access_token``."""
        if not next_url:
            return None
        url = httpx.URL(next_url)
        base = httpx.URL(self.settings.base_url)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise GraphApiError(
                f"paging.next points to another host ({url.host})", operation="list_phone_numbers"
            )
        return str(url.copy_remove_param("access_token"))

    def get_phone_health(
        self, phone_number_id: str, access_token: str, fields: Sequence[str] | None = None
    ) -> PhoneHealth:
        payload = self._send(self._health_call(phone_number_id, access_token, fields))
        return PhoneHealth.from_graph(payload)

    @property
    def health_fields(self) -> tuple[str, ...]:
        """The health ``fields=`` for the connection's API version (``HEALTH_FIELDS`` decides)."""
        return graph_fields(self.settings.api_version)

    def _health_call(self, phone_number_id: str, access_token: str, fields: Sequence[str] | None) -> _Call:
        return _Call(
            "get_phone_health",
            "GET",
            self._url(str(phone_number_id)),
            params={"fields": ",".join(fields or self.health_fields)},
            token=access_token,
            safe_to_resend=True,
        )

    def subscribe_app(self, waba_id: str, access_token: str) -> bool:
        """Subscribe this app to the WABA's webhooks (it must precede any callback override).

        Meta reads ``POST subscribed_apps`` without ``override_callback_uri`` as "remove the WABA's
        alternate callback" (Webhook overrides:
        https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/override/),
        so an app that is already subscribed is left as it is, override included. Returns whether
        a subscription was made.
        """
        subscribed = self.list_subscribed_apps(waba_id, access_token)
        if any(
            str((app.get("whatsapp_business_api_data") or {}).get("id")) == self.settings.app_id
            for app in subscribed
        ):
            self.log.info(
                "App %s already subscribed to WABA %s: its callback settings are kept",
                self.settings.app_id,
                waba_id,
            )
            return False
        self._send(
            _Call(
                "subscribe_app",
                "POST",
                self._url(f"{waba_id}/subscribed_apps"),
                json={},
                token=access_token,
                safe_to_resend=True,
            )
        )
        return True

    def list_subscribed_apps(self, waba_id: str, access_token: str) -> list[dict[str, Any]]:
        payload = self._send(
            _Call(
                "list_subscribed_apps",
                "GET",
                self._url(f"{waba_id}/subscribed_apps"),
                token=access_token,
                safe_to_resend=True,
            )
        )
        return list(payload.get("data") or [])

    @staticmethod
    def webhook_override_body(callback_uri: str, verify_token: str) -> dict[str, Any]:
        return {
            "webhook_configuration": {"override_callback_uri": callback_uri, "verify_token": verify_token}
        }

    def set_webhook_override(
        self, phone_number_id: str, access_token: str, callback_uri: str, verify_token: str
    ) -> None:
        """Route this number's webhooks to ``callback_uri`` (phone-level override)."""
        mask_secret(verify_token)
        self._send(
            _Call(
                "set_webhook_override",
                "POST",
                self._url(str(phone_number_id)),
                json=self.webhook_override_body(callback_uri, verify_token),
                token=access_token,
                safe_to_resend=True,
            )
        )

    @staticmethod
    def register_body(pin: str) -> dict[str, Any]:
        return {"messaging_product": "whatsapp", "pin": pin}

    def register(self, phone_number_id: str, access_token: str, pin: str) -> None:
        """``POST /{phone_number_id}/register``; every call counts against ``REGISTER_ALLOWANCE``."""
        mask_secret(pin)
        self._send(
            _Call(
                "register",
                "POST",
                self._url(f"{phone_number_id}/register"),
                json=self.register_body(pin),
                token=access_token,
            )
        )

    def batch_get(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        """Up to 50 GETs in one Graph batch, each with its own token; one result per request."""
        payload = self._send(self._batch_call(requests))
        return self._batch_results(payload, len(requests))

    def test_connection(self) -> tuple[bool, str]:
        """Called by the Airflow UI's Test button: proves the app id/secret and the base URL."""
        try:
            s = self.settings
            info = self.debug_token(s.app_token)
        except (GraphApiError, ValueError) as exc:
            return False, str(exc)
        if not info.is_valid:
            return False, f"Graph {s.api_version} at {s.base_url} says the app credentials are not valid"
        return True, f"Connected to Graph {s.api_version} at {s.base_url} as app {s.app_id}"

    # -- calls (async) -------------------------------------------------------------------

    async def aget_phone_health(
        self, phone_number_id: str, access_token: str, fields: Sequence[str] | None = None
    ) -> PhoneHealth:
        await self.asettings()
        payload = await self._asend(self._health_call(phone_number_id, access_token, fields))
        return PhoneHealth.from_graph(payload)

    async def abatch_get(self, requests: Sequence[BatchRequest]) -> list[BatchResult]:
        await self.asettings()
        payload = await self._asend(self._batch_call(requests))
        return self._batch_results(payload, len(requests))

    # -- batch plumbing ------------------------------------------------------------------

    def health_relative_url(self, phone_number_id: str, fields: Sequence[str] | None = None) -> str:
        asked = ",".join(fields or self.health_fields)
        return f"{self.settings.api_version}/{phone_number_id}?fields={asked}"

    def _batch_call(self, requests: Sequence[BatchRequest]) -> _Call:
        if not requests:
            raise ValueError("a batch needs at least one request")
        if len(requests) > MAX_BATCH_SIZE:
            raise ValueError(f"a Graph batch holds at most {MAX_BATCH_SIZE} requests, got {len(requests)}")
        batch = []
        for request in requests:
            # Not registered with the secrets masker: a fleet audit carries thousands of tokens, and
            # the masker recompiles one pattern of all secrets per new one (quadratic, and one
            # supervisor message each). These tokens only travel in the POST body, never logged.
            # Each sub-request brings its own token, so its own proof: the top-level one covers
            # only the top-level (app) token.
            separator = "&" if "?" in request.relative_url else "?"
            credentials = (
                f"access_token={request.access_token}&appsecret_proof={self._proof(request.access_token)}"
            )
            batch.append({"method": "GET", "relative_url": f"{request.relative_url}{separator}{credentials}"})
        return _Call(
            "batch",
            "POST",
            f"{self.settings.base_url}/{self.settings.api_version}/",
            data={"batch": json.dumps(batch), "include_headers": "true"},
            token=self.settings.app_token,
            # A batch of GETs, but the fleet audit owns its retries: it counts them and paces
            # them with the usage headers, which a resend inside the hook would bypass.
        )

    def _batch_results(self, payload: Any, expected: int) -> list[BatchResult]:
        if not isinstance(payload, list) or len(payload) != expected:
            got = f"{len(payload)} items" if isinstance(payload, list) else type(payload).__name__
            raise GraphApiError(
                f"batch answered {got} for {expected} requests",
                is_transient=True,
                operation="batch",
            )
        return [self._batch_result(item) for item in payload]

    @staticmethod
    def _batch_result(item: Any) -> BatchResult:
        if item is None:  # Meta answers null for a sub-request that did not complete in time.
            return BatchResult(
                None, None, Usage(), GraphApiError.transport("sub-request timed out", operation="batch")
            )
        status = int(item.get("code") or 0)
        usage = Usage.from_pairs((h.get("name", ""), h.get("value", "")) for h in item.get("headers") or ())
        text = item.get("body") or "null"
        try:
            body = _JSON.decode(text)
        except msgspec.DecodeError:
            error = GraphApiError(
                "sub-response body is not JSON", http_status=status, is_transient=True, operation="batch"
            )
            return BatchResult(status, None, usage, error)
        if status >= 400 or (isinstance(body, Mapping) and "error" in body):
            error = GraphApiError.from_response(
                status, body, operation="batch", retry_after_s=usage.regain_access_seconds or None
            )
            return BatchResult(status, None, usage, error)
        return BatchResult(status, body, usage, text=text)

    # ---- display-name changes and offboarding ---------------------------------------------------
    # Neither name-change requests nor deregistrations are resent in the hook: each one spends a
    # per-number allowance Meta keeps (``NAME_CHANGE_ALLOWANCE``, ``DEREGISTER_ALLOWANCE``), and
    # both are recorded write-ahead by the caller (store.lifecycle_calls). Unsubscribing is
    # idempotent: resent.

    def request_display_name(self, phone_number_id: str, access_token: str, new_display_name: str) -> None:
        """``POST /{phone_number_id}`` with ``new_display_name``: Meta reviews it; once approved the
        number must register again within ``NAME_CHANGE_WINDOW`` (the fleet does that)."""
        self._send(
            _Call(
                "request_display_name",
                "POST",
                self._url(str(phone_number_id)),
                json={"new_display_name": new_display_name},
                token=access_token,
            )
        )

    def request_sync(self, phone_number_id: str, access_token: str, sync_type: str) -> str | None:
        """``POST /{phone_number_id}/smb_app_data``: ask Meta to send a WhatsApp Business app number's
        contacts (``smb_app_state_sync``) or chat history (``history``) through webhooks; Meta's
        ``request_id``. Never resent: Meta takes one request of each type per onboarding
        (https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users)."""
        payload = self._send(
            _Call(
                "request_sync",
                "POST",
                self._url(f"{phone_number_id}/smb_app_data"),
                json={"messaging_product": "whatsapp", "sync_type": sync_type},
                token=access_token,
            )
        )
        request_id = payload.get("request_id") if isinstance(payload, Mapping) else None
        return None if request_id is None else str(request_id)

    def deregister(self, phone_number_id: str, access_token: str) -> None:
        """``POST /{phone_number_id}/deregister``; every call counts against ``DEREGISTER_ALLOWANCE``."""
        self._send(
            _Call(
                "deregister", "POST", self._url(f"{phone_number_id}/deregister"), json={}, token=access_token
            )
        )

    def unsubscribe_app(self, waba_id: str, access_token: str) -> None:
        """``DELETE /{waba_id}/subscribed_apps``: this app stops receiving the WABA's webhooks."""
        self._send(
            _Call(
                "unsubscribe_app",
                "DELETE",
                self._url(f"{waba_id}/subscribed_apps"),
                token=access_token,
                safe_to_resend=True,
            )
        )
