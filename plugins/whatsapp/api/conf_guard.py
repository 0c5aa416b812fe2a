"""The door of Airflow's own routes that take a ``whatsapp_onboarding`` conf: refuse a bad one first.

Airflow checks a trigger's conf against the DAG's ``Param`` schemas, one key at a time: a key
the DAG does not declare is taken without a schema, and no schema sees two keys at once. So a
conf without ``account_id``, with an extra key, or with ``signup_id`` and the signup's fields
became a run that failed only in its first task, keeping what it was sent in ``dag_run.conf``.
And whatever a trigger carries, its route records in Airflow's event log *before* anything is
checked (``action_logging`` masks only keys whose names look secret, and ``code`` does not).
Both are read by every user who may read the DAG's runs, the ``viewer`` role included.

This ASGI middleware, mounted on Airflow's API server by the plugin (``fastapi_root_middlewares``),
reads the body of those routes for ``whatsapp_onboarding`` and answers 400 naming the field
with :meth:`whatsapp.domain.signup.OnboardingConf.from_api` (the rules the first task applies,
and no raw signup code: that goes to ``POST /whatsapp/api/v1/signups``). A refused request never
reaches Airflow's route, so nothing of it is run or logged. Every other request passes untouched.

A request with no credential at all goes on to Airflow, which answers 401; a credential is
checked by Airflow as usual once the body passed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Route:
    """One Airflow route that creates runs with a conf: where it is, and where its body keeps what."""

    path: str
    conf_key: str
    #: The body key naming the DAG; ``None`` when the path names it.
    dag_id_key: str | None

    def body_fields(self) -> frozenset[str]:
        """The keys Airflow's body model accepts (anything else it refuses, after logging it)."""
        from airflow.api_fastapi.core_api.datamodels.backfills import BackfillPostBody
        from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody

        model = TriggerDAGRunPostBody if self.dag_id_key is None else BackfillPostBody
        return frozenset(model.model_fields)


@functools.cache
def _routes() -> tuple[_Route, ...]:
    """Built on the first request: the plugin module that names this class is imported by every
    Airflow component, the API modules only by the API server."""
    from whatsapp.api.security import ONBOARDING_DAG_ID

    return (
        _Route(f"/api/v2/dags/{ONBOARDING_DAG_ID}/dagRuns", "conf", None),
        _Route("/api/v2/backfills", "dag_run_conf", "dag_id"),
    )


def _route_of(scope: Scope) -> _Route | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path = scope["path"].rstrip("/")  # with or without [api] base_url's path in front
    return next((route for route in _routes() if path.endswith(route.path)), None)


def _has_credential(scope: Scope) -> bool:
    """An ``Authorization`` header or a cookie: without either, Airflow answers 401 by itself."""
    return any(name in (b"authorization", b"cookie") for name, _ in scope["headers"])


def _refusal(route: _Route, body: bytes) -> str | None:
    """Why the body is refused, naming the field; ``None`` when it may go on to Airflow."""
    from whatsapp.api.security import ONBOARDING_DAG_ID
    from whatsapp.domain.signup import InvalidSignupError, OnboardingConf

    try:
        values = json.loads(body)
    except ValueError:
        return None  # not JSON: Airflow answers 422 and logs no body
    if not isinstance(values, dict):
        return None  # likewise
    if route.dag_id_key is not None and values.get(route.dag_id_key) != ONBOARDING_DAG_ID:
        return None
    allowed = route.body_fields()
    unknown = sorted(str(key) for key in values if key not in allowed)
    if unknown:
        return f"{unknown[0]!r} is not a field of this request body (fields: {', '.join(sorted(allowed))})"
    conf = values.get(route.conf_key)
    if conf is None and route.dag_id_key is not None:
        return None  # a backfill without a conf: Airflow decides
    if not isinstance(conf, dict):
        return f"{route.conf_key!r} must be a JSON object holding {ONBOARDING_DAG_ID}'s params"
    try:
        OnboardingConf.from_api(conf)
    except InvalidSignupError as error:
        return f"Invalid conf for {ONBOARDING_DAG_ID}: {error}"
    return None


class OnboardingConfGuard:
    """Pure ASGI middleware: reads the body of the routes above, refuses or replays it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route_of(scope)
        if route is None or not _has_credential(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        reason = _refusal(route, body)
        if reason is not None:
            from starlette.responses import JSONResponse

            await JSONResponse({"detail": reason}, status_code=400)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
