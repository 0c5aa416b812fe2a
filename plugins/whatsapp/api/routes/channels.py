"""One channel: its health (optionally refreshed from Graph), attempts, history, and registration."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

from airflow.api_fastapi.common.dagbag import DagBagDep
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.logging.decorators import action_logging
from airflow.utils.state import DagRunState
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from whatsapp.api.deps import HookDep, StoreDep
from whatsapp.api.fleet_schedule import fleet_paused
from whatsapp.api.models import (
    AccountIdPath,
    AirflowIdPath,
    AttemptsResponse,
    ChannelHealth,
    ErrorResponse,
    GraphError,
    HistoryResponse,
    InboxIdPath,
    RegisterResponse,
    RegisterRunResponse,
    RunRef,
)
from whatsapp.api.runs import conf_ids, dag_ids_of_runs, find_run, grid_url, run_link, run_path
from whatsapp.api.security import (
    REGISTER_DAG_ID,
    RefreshDep,
    UserDep,
    requires_register_access,
    same_origin_if_cookie,
)
from whatsapp.api.trigger import trigger_register_run
from whatsapp.errors import GraphApiError
from whatsapp.register_channel import manual_register_refusal
from whatsapp.store import (
    Channel,
    ChannelStatus,
    ChannelStore,
    HealthResult,
    attempt_dict,
    channel_api_dict,
    health_check_dict,
)
from whatsapp.store.views import channel_situation, register_outcome_dict

router = APIRouter(prefix="/accounts/{account_id}/inboxes/{inbox_id}", tags=["channel"])

_NOT_FOUND = {status.HTTP_404_NOT_FOUND: {"description": "no channel for this account and inbox"}}
Limit = Annotated[int, Query(ge=1, le=500)]


async def no_request_body(request: Request) -> None:
    """The register route takes no body: anything but nothing (or ``{}``) is a 422, never a 500.

    Runs before Airflow's ``action_logging``, which parses a JSON body for the audit log and
    fails with a 500 on one that is not JSON.
    """
    raw = (await request.body()).strip()
    if not raw:
        return
    try:
        empty = json.loads(raw) == {}
    except ValueError:
        empty = False
    if not empty:
        raise RequestValidationError(
            [{"type": "no_body", "loc": ("body",), "msg": "this route takes no request body"}]
        )


def _channel(store: ChannelStore, account_id: int, inbox_id: int) -> Channel:
    channel = store.channels.get(account_id, inbox_id)
    if channel is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no channel for account {account_id} inbox {inbox_id}"
        )
    return channel


def _status(store: ChannelStore, account_id: int, inbox_id: int) -> ChannelStatus:
    channel_status = store.fleet.channel_status(account_id, inbox_id)
    if channel_status is None:  # deleted between the two reads
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no channel for account {account_id} inbox {inbox_id}"
        )
    return channel_status


def _health(store: ChannelStore, session: Session, account_id: int, inbox_id: int) -> ChannelHealth:
    status_ = _status(store, account_id, inbox_id)
    return ChannelHealth.model_validate(channel_api_dict(status_, fleet_paused=fleet_paused(session)))


@router.get(
    "/health",
    response_model=ChannelHealth,
    responses={
        **_NOT_FOUND,
        status.HTTP_502_BAD_GATEWAY: {"model": ErrorResponse, "description": "Graph refused the refresh"},
    },
)
def get_health(
    account_id: AccountIdPath,
    inbox_id: InboxIdPath,
    store: StoreDep,
    hook: HookDep,
    refresh: RefreshDep,
    session: SessionDep,
) -> Any:
    """The stored health of one channel; with ``refresh=true`` read from Graph and stored first.

    Refreshing spends Graph calls and writes the store, so it needs what registering needs
    (403 for a viewer) and, with the session cookie, a same-origin request.

    A refreshed snapshot goes through the store's newer-wins write, so it never overwrites a
    check the fleet DAG stored in the meantime. A Graph failure is stored too (it may flag the
    channel for reauthorization, as in the DAGs) and answered with 502 and the Graph error.
    """
    channel = _channel(store, account_id, inbox_id)
    if refresh:
        checked_at = datetime.now(UTC)
        token = store.channels.credentials(channel.id).access_token
        try:
            live = hook.get_phone_health(channel.phone_number_id, token)
        except GraphApiError as error:
            store.health.record([HealthResult(channel_id=channel.id, checked_at=checked_at, error=error)])
            body = ErrorResponse(error=GraphError.model_validate(error.to_dict()))
            return JSONResponse(status_code=status.HTTP_502_BAD_GATEWAY, content=body.model_dump())
        store.health.record([HealthResult(channel_id=channel.id, checked_at=checked_at, health=live)])
    return _health(store, session, account_id, inbox_id)


@router.get("/attempts", response_model=AttemptsResponse, responses=_NOT_FOUND)
def get_attempts(
    account_id: AccountIdPath,
    inbox_id: InboxIdPath,
    store: StoreDep,
    session: SessionDep,
    limit: Limit = 50,
) -> AttemptsResponse:
    """Register calls sent for this channel, newest first, with the Graph error each got and the
    Airflow run that sent it (``dag_id``, ``run_url``) while Airflow still has that run."""
    channel = _channel(store, account_id, inbox_id)
    attempts = store.attempts.recent(channel.id, limit=limit)
    return AttemptsResponse.model_validate({"attempts": _with_run_links(session, attempts, attempt_dict)})


class _RunRow(Protocol):
    run_id: str | None


_Row = TypeVar("_Row", bound=_RunRow)


def _with_run_links(
    session: Session, rows: Sequence[_Row], as_dict: Callable[[_Row], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Stored rows as the API shows them, each with the Airflow run that wrote it (``dag_id``,
    ``run_url``) while Airflow still has that run: one metadata query for all the rows."""
    dag_ids = dag_ids_of_runs(session, (row.run_id for row in rows))
    return [{**as_dict(row), **run_link(row.run_id, dag_ids)} for row in rows]


@router.get("/history", response_model=HistoryResponse, responses=_NOT_FOUND)
def get_history(
    account_id: AccountIdPath, inbox_id: InboxIdPath, store: StoreDep, session: SessionDep, limit: Limit = 50
) -> HistoryResponse:
    """Health checks of this channel (quality, name status, status...), newest first, with the
    Airflow run that read each (``dag_id``, ``run_url``) while Airflow still has that run."""
    channel = _channel(store, account_id, inbox_id)
    checks = store.health.history(channel.id, limit=limit)
    return HistoryResponse.model_validate({"history": _with_run_links(session, checks, health_check_dict)})


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegisterResponse,
    responses={
        **_NOT_FOUND,
        status.HTTP_403_FORBIDDEN: {"description": f"the user may not trigger {REGISTER_DAG_ID}"},
        status.HTTP_409_CONFLICT: {
            "description": "not needed, Meta's register limit reached (until the window reopens), "
            "or a run for this channel is queued/running"
        },
    },
    dependencies=[
        Depends(same_origin_if_cookie),
        Depends(no_request_body),
        Depends(requires_register_access),
        Depends(action_logging(event="whatsapp_complete_registration")),
    ],
)
def register(
    account_id: AccountIdPath,
    inbox_id: InboxIdPath,
    request: Request,
    store: StoreDep,
    user: UserDep,
    dag_bag: DagBagDep,
    session: SessionDep,
) -> RegisterResponse:
    """Queue ``whatsapp_register_channel`` for this channel (the *Complete registration* button).

    Decided on the stored health: when it shows the number provisioned and verified, a run would
    only re-read health and skip, so the answer is 409 instead; so it is while Meta's register
    limit holds the number (133016). The run itself re-reads live health under the channel's
    claim before spending a register call, and never exceeds the register budget.
    """
    channel = _channel(store, account_id, inbox_id)
    refusal = manual_register_refusal(channel, datetime.now(UTC))
    if refusal is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, refusal)
    run = trigger_register_run(
        dag_bag=dag_bag,
        session=session,
        user=user,
        account_id=account_id,
        inbox_id=inbox_id,
        from_ui=bool(request.headers.get("referer")),
    )
    return RegisterResponse(
        dag_id=REGISTER_DAG_ID,
        dag_run_id=run.run_id,
        state=run.state,
        dag_paused=run.dag_paused,
        url=grid_url(run.run_id),
    )


@router.get(
    "/register/{dag_run_id}",
    response_model=RegisterRunResponse,
    responses={status.HTTP_404_NOT_FOUND: {"description": "no such channel, or no register run of it"}},
)
def get_register_run(
    account_id: AccountIdPath,
    inbox_id: InboxIdPath,
    dag_run_id: AirflowIdPath,
    store: StoreDep,
    session: SessionDep,
) -> RegisterRunResponse:
    """What a *Complete registration* run did, from the register call it stored; the page polls it
    until ``outcome.kind`` is no longer ``running``.

    ``registered`` or ``refused`` (with Meta's error and the next automatic try) come from the
    run's stored attempt; a run that ended without one says why: ``not_needed`` (registered),
    ``no_call`` (e.g. the name is still in review) or ``failed``.
    """
    channel = _channel(store, account_id, inbox_id)
    run = find_run(session, REGISTER_DAG_ID, dag_run_id)
    if run is None or conf_ids(run.conf) != (account_id, inbox_id):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no {REGISTER_DAG_ID} run {dag_run_id} for account {account_id} inbox {inbox_id}",
        )
    attempts = store.attempts.recent(channel.id, limit=1, run_id=dag_run_id)
    now = channel_situation(_status(store, account_id, inbox_id), fleet_paused=fleet_paused(session))
    state = DagRunState(run.state).value
    return RegisterRunResponse.model_validate(
        {
            "run": RunRef(
                dag_id=REGISTER_DAG_ID,
                dag_run_id=dag_run_id,
                state=state,
                url=run_path(REGISTER_DAG_ID, dag_run_id),
            ),
            "outcome": register_outcome_dict(state, attempts[0] if attempts else None, now),
        }
    )
