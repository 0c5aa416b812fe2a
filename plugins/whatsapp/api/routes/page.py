"""Serve the *WhatsApp Health* page to logged-in Airflow users; send everyone else to Airflow's login.

The page shell holds no data, but redirecting an anonymous visitor to the login page (and back)
is what the rest of the Airflow UI does, instead of a page full of 401 errors. Redirects carry
paths only, never a URL built from the request's ``Host`` header (which the client chooses).
"""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from whatsapp.api.security import user_or_none
from whatsapp.ui import INDEX_HTML

router = APIRouter(include_in_schema=False)


def _with_query(path: str, request: Request) -> str:
    return f"{path}?{request.url.query}" if request.url.query else path


@router.get("/ui")
def page_root(request: Request) -> RedirectResponse:
    """Relative URLs in the page resolve against ``/whatsapp/ui/``, so the slash matters."""
    return RedirectResponse(_with_query(request.url.path + "/", request))


@router.get("/ui/")
def page(request: Request, user: Annotated[BaseUser | None, Depends(user_or_none)]) -> Response:
    if user is None:
        next_url = _with_query(request.url.path, request)
        return RedirectResponse(get_auth_manager().get_url_login(next_url=next_url))
    return FileResponse(INDEX_HTML, headers={"Cache-Control": "no-store"})
