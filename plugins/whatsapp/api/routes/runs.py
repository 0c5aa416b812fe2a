"""Which channel a WhatsApp DAG run was about: what the WhatsApp panel on a DAG run shows."""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import APIRouter, HTTPException, status

from whatsapp.api.deps import StoreDep
from whatsapp.api.models import AirflowIdPath, RunChannel
from whatsapp.api.runs import CHANNEL_DAG_IDS, conf_ids, find_run
from whatsapp.api.security import ONBOARDING_DAG_ID
from whatsapp.store import Channel, ChannelStore

router = APIRouter(tags=["runs"])


def _channel_of(store: ChannelStore, dag_id: str, run_id: str, run_conf: dict[str, Any]) -> Channel | None:
    """From the run's conf: the channel ids (register, name change, offboard), the phone number
    or the intake's signup (onboarding); else the channel its stored calls name."""
    ids = conf_ids(run_conf)
    if ids is not None:
        return store.channels.get(*ids)
    phone_number_id = run_conf.get("phone_number_id")
    signup_id = run_conf.get("signup_id")
    if dag_id == ONBOARDING_DAG_ID and phone_number_id is None and isinstance(signup_id, str):
        pending = store.signups.pending(signup_id)
        if pending is not None:
            phone_number_id = pending.ids.phone_number_id or store.signups.phone_number_of(
                pending.code_digest
            )
    if isinstance(phone_number_id, str):
        found = store.channels.by_phone_number(phone_number_id)
        if found is not None:
            return found
    channel_id = store.attempts.channel_of_run(run_id)
    return None if channel_id is None else store.channels.by_id(channel_id)


@router.get(
    "/runs/{dag_id}/{dag_run_id}/channel",
    response_model=RunChannel,
    responses={status.HTTP_404_NOT_FOUND: {"description": "not a WhatsApp channel run, or no channel yet"}},
)
def get_run_channel(
    dag_id: AirflowIdPath, dag_run_id: AirflowIdPath, store: StoreDep, session: SessionDep
) -> RunChannel:
    """The channel an onboarding, register, name-change or offboarding run was about."""
    run = find_run(session, dag_id, dag_run_id) if dag_id in CHANNEL_DAG_IDS else None
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no WhatsApp channel run {dag_id}/{dag_run_id}")
    channel = _channel_of(store, dag_id, dag_run_id, dict(run.conf or {}))
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run {dag_run_id} names no channel in the store")
    return RunChannel(account_id=channel.account_id, inbox_id=channel.inbox_id)
