"""The *WhatsApp Health* bundle, and the old page address sent on to the page inside Airflow's UI.

The page is an Airflow React app (see :mod:`whatsapp.plugin`): Airflow's UI imports the bundle and
renders it under its own navigation at ``/plugin/whatsapp-health``. The bundle is code without
data (every figure comes from the API, which needs a login), so it is served to anyone, as
Airflow serves its own UI assets. It is revalidated on each load (``no-cache`` with an ETag
from its content), so an upgraded provider is picked up at once and an unchanged bundle costs a 304.

``/whatsapp/ui/`` (the address of the page before it moved into Airflow's UI) redirects to the
page, or to Airflow's login first. Redirects carry paths only, never a URL built from the
request's ``Host`` header (which the client chooses).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from whatsapp.api.runs import ui_path
from whatsapp.api.security import user_or_none
from whatsapp.ui import BUNDLE, BUNDLE_NAME, PAGE_ROUTE

router = APIRouter(include_in_schema=False)


def page_path(request: Request) -> str:
    """The page in Airflow's UI (under ``[api] base_url``'s path), keeping the query (a channel)."""
    path = ui_path(f"/plugin/{PAGE_ROUTE}")
    return f"{path}?{request.url.query}" if request.url.query else path


@functools.cache
def _bundle() -> tuple[bytes, str]:
    """The bundle and its ETag, read once per process (it changes only with the installed provider)."""
    code = BUNDLE.read_bytes()
    return code, f'"{hashlib.sha256(code).hexdigest()[:32]}"'


@router.get(f"/ui/{BUNDLE_NAME}")
def bundle(request: Request) -> Response:
    code, etag = _bundle()
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(code, media_type="text/javascript", headers=headers)


@router.get("/ui")
@router.get("/ui/")
def page(request: Request, user: Annotated[BaseUser | None, Depends(user_or_none)]) -> RedirectResponse:
    """The old address of the page: on to the page in Airflow's UI, through Airflow's login if needed."""
    target = page_path(request)
    if user is None:
        return RedirectResponse(get_auth_manager().get_url_login(next_url=target))
    return RedirectResponse(target)
