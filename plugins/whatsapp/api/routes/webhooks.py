"""``GET``/``POST /whatsapp/webhooks/meta``: Meta's webhook receiver (docs/webhooks.md).

No Airflow login here: Meta cannot log in. ``GET`` answers Meta's subscription check with the
Graph connection's ``webhook_verify_token``; every ``POST`` must carry ``X-Hub-Signature-256``
over the raw body with the app secret, or nothing is read further and nothing is stored. These
two routes are mounted outside the authenticated ``/api/v1`` router and open nothing else.

A signed notification is stored (each change once) and applied in the request: a few bulk
statements per thousand changes and no Graph call, so Meta gets its 200 at once. Starting a
registration (``whatsapp_register_channel`` for a number the fleet holds, on an approved name)
runs after the answer, as a background task: creating a DAG run takes Airflow's metadata database and
must not delay the answer, and a run created immediately is started by the scheduler within
seconds (the fleet DAG's hourly schedule would be minutes late). A deferred onboarding needs
nothing from here: its trigger reads the stored decision.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, BackgroundTasks, Header, HTTPException, Request, status
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from whatsapp.api.deps import StoreDep
from whatsapp.defaults import DEFAULT_GRAPH_CONN_ID
from whatsapp.domain.registration_machine import EndNameWait, FlagForPerson
from whatsapp.domain.webhooks import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    SIGNATURE_HEADER,
    WebhookPayloadError,
    parse_notification,
    signature_matches,
    verification_answer,
)
from whatsapp.store import ChannelStore
from whatsapp.store.webhooks import WebhookOutcome

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

#: How long the connection's secrets are reused: a changed connection applies within this.
SECRETS_TTL_S = 10.0


@dataclass(frozen=True, slots=True)
class _Secrets:
    app_secret: str
    verify_token: str | None
    read_at: float


_cache: dict[str, _Secrets] = {}


def webhook_secrets(conn_id: str = DEFAULT_GRAPH_CONN_ID) -> _Secrets:
    """The app secret (``GraphSettings``) and ``extra.webhook_verify_token``; read, never logged."""
    cached = _cache.get(conn_id)
    if cached is not None and time.monotonic() - cached.read_at < SECRETS_TTL_S:
        return cached
    from airflow.sdk.log import mask_secret

    from whatsapp.hooks.graph import GraphSettings, WhatsAppGraphHook

    conn = WhatsAppGraphHook.get_connection(conn_id)
    verify_token = (conn.extra_dejson or {}).get("webhook_verify_token") or None
    if verify_token:
        mask_secret(verify_token)
    secrets = _Secrets(GraphSettings.from_connection(conn).app_secret, verify_token, time.monotonic())
    _cache[conn_id] = secrets
    return secrets


class _MetaWebhookCaller(BaseUser):
    """Who a run started by a webhook is attributed to in Airflow (``triggering_user_name``)."""

    def get_id(self) -> str:
        return "meta-webhook"

    def get_name(self) -> str:
        return "meta-webhook"


def _start_registration(request: Request, account_id: int, inbox_id: int) -> None:
    """Queue ``whatsapp_register_channel`` as the *Complete registration* route does (after the 200)."""
    from airflow.utils.session import create_session

    from whatsapp.api.trigger import trigger_register_run

    try:
        with create_session() as session:
            run = trigger_register_run(
                dag_bag=request.app.state.dag_bag,
                session=session,
                user=_MetaWebhookCaller(),
                account_id=account_id,
                inbox_id=inbox_id,
                from_ui=False,
            )
        log.info("Name approved by Meta: queued %s for account %s inbox %s", run.run_id, account_id, inbox_id)
    except HTTPException as exc:  # 409: a run is already queued/running; 503: the DAG is not ready
        log.info("Name approved by Meta; no new run for %s/%s: %s", account_id, inbox_id, exc.detail)


def _carry_out(outcome: WebhookOutcome, request: Request, background: BackgroundTasks) -> None:
    for effect in outcome.effects:
        moved = effect.transition
        if moved.register_now:
            background.add_task(_start_registration, request, effect.account_id, effect.inbox_id)
        for item in moved.effects:
            if isinstance(item, FlagForPerson):
                log.warning(
                    "%s: channel %s/%s needs a person (%s, %s)",
                    outcome.change.describe(),
                    effect.account_id,
                    effect.inbox_id,
                    item.state.value,
                    item.reason and item.reason.value,
                )
            elif isinstance(item, EndNameWait):
                log.info(
                    "%s: the onboarding wait of %s ends", outcome.change.describe(), effect.phone_number_id
                )


async def _read_capped(request: Request, content_length: str | None) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed :data:`MAX_BODY_BYTES`."""
    if content_length is not None and content_length.isdigit() and int(content_length) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body larger than 1 MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


@router.get("/meta", response_class=PlainTextResponse, responses={403: {"description": "wrong verify token"}})
async def verify_subscription(request: Request) -> str:
    """Meta's subscription check: echo ``hub.challenge`` when ``hub.verify_token`` is ours."""
    secrets = await run_in_threadpool(webhook_secrets)
    challenge = verification_answer(request.query_params, secrets.verify_token)
    if challenge is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "verification failed")
    return challenge


def _record(store: ChannelStore, body: bytes) -> list[WebhookOutcome]:
    received_at = datetime.now(UTC)
    try:
        changes = parse_notification(body, received_at)
    except WebhookPayloadError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    return store.webhooks.record_all(changes, received_at=received_at)


@router.post(
    "/meta",
    responses={
        400: {
            "description": "signed, but not a WhatsApp Business Account notification "
            f"(not JSON, nested deeper than {MAX_DEPTH} levels, or not Meta's envelope); nothing stored"
        },
        401: {"description": "missing or wrong X-Hub-Signature-256"},
        413: {"description": "body larger than 1 MiB"},
    },
)
async def receive(
    request: Request,
    store: StoreDep,
    background: BackgroundTasks,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    content_length: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Store each change of a signed notification once and apply it; 200 at once, no Graph call."""
    body = await _read_capped(request, content_length)
    secrets = await run_in_threadpool(webhook_secrets)
    if not signature_matches(body, signature, secrets.app_secret):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "X-Hub-Signature-256 does not match the body")
    outcomes = await run_in_threadpool(_record, store, body)
    for outcome in outcomes:
        if not outcome.duplicate:
            _carry_out(outcome, request, background)
    return {
        "received": len(outcomes),
        "duplicates": sum(1 for o in outcomes if o.duplicate),
    }
