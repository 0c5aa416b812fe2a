"""Who may call the API, and from where: Airflow's own users, through Airflow's own security helpers.

Airflow does not protect a plugin's FastAPI app by itself, so every route depends on
:func:`authenticated_user`. It delegates to ``airflow.api_fastapi.core_api.security.get_user``,
which accepts exactly what the Airflow UI and public API accept: the UI's ``_token`` cookie or
``Authorization: Bearer <jwt>`` from ``POST /auth/token``. One deliberate difference: Airflow
answers a forged token with 403; docs/http-api.md promises 401 for every missing or invalid credential,
and 403 only for a real user lacking a permission, so the forged case is re-labelled here.

A browser sends the ``_token`` cookie with any request to the API server, including one a
foreign page makes it send, so every state-changing route depends on
:func:`same_origin_if_cookie`: when the cookie (not a Bearer token, which no foreign page can
add) authenticates the call, as ``get_user`` decides it, its ``Origin`` (or, lacking one, its
``Referer``) must be the API server's own origin: ``[api] base_url`` when configured, else the
origin the request was sent to (a forged request cannot choose the victim browser's ``Host``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user, oauth2_scheme, requires_access_dag
from airflow.configuration import conf
from airflow.models.dag import DagModel
from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials

#: The DAG the register route triggers; its run permission is what the route requires.
REGISTER_DAG_ID = "whatsapp_register_channel"
#: The DAG the signup intake triggers; same rule.
ONBOARDING_DAG_ID = "whatsapp_onboarding"
#: The DAG a bulk action (many channels at once) triggers; same rule.
FLEET_ACTION_DAG_ID = "whatsapp_fleet_action"

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def authenticated_user(
    request: Request,
    oauth_token: Annotated[str | None, Depends(oauth2_scheme)] = None,
    bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> BaseUser:
    """The Airflow user behind the request's cookie or Bearer token; 401 for anything else.

    ``oauth_token`` is unused at run time (it reads the same header as ``bearer_credentials``);
    declaring it publishes the OAuth2 password flow in the OpenAPI schema, as Airflow's API does.
    """
    try:
        return await get_user(request, _oauth_token=oauth_token, bearer_credentials=bearer_credentials)
    except HTTPException as exc:
        if exc.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, exc.detail, headers=_CHALLENGE) from None
        raise


UserDep = Annotated[BaseUser, Depends(authenticated_user)]


async def user_or_none(
    request: Request,
    bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> BaseUser | None:
    """The same check, for the page route, which redirects to the login page instead of a 401."""
    try:
        return await authenticated_user(request, None, bearer_credentials)
    except HTTPException:
        return None


#: Triggering a run of the register DAG needs what Airflow's own trigger route needs:
#: POST on that DAG's runs (SimpleAuthManager: role ``user`` or above; ``viewer`` gets 403).
requires_register_access = requires_access_dag(
    method="POST", access_entity=DagAccessEntity.RUN, param_dag_id=REGISTER_DAG_ID
)

#: Triggering an onboarding run needs the same on ``whatsapp_onboarding``.
requires_onboarding_access = requires_access_dag(
    method="POST", access_entity=DagAccessEntity.RUN, param_dag_id=ONBOARDING_DAG_ID
)


#: A bulk action (refresh or register many channels) needs the same on ``whatsapp_fleet_action``.
requires_fleet_action_access = requires_access_dag(
    method="POST", access_entity=DagAccessEntity.RUN, param_dag_id=FLEET_ACTION_DAG_ID
)


def may_trigger(user: BaseUser, dag_id: str) -> bool:
    """What :func:`requires_access_dag` (POST on the DAG's runs) decides, as a yes/no for ``GET /me``.

    The same auth manager call with the same details, so the page disables exactly the buttons
    the routes would answer with 403.
    """
    details = DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id))
    return get_auth_manager().is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=details, user=user
    )


def _origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased; None for anything that is not http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origin(request: Request) -> str | None:
    """The API server's origin: ``[api] base_url``'s, else the one this request was sent to."""
    base_url = conf.get("api", "base_url", fallback=None)
    if base_url:
        return _origin_of(base_url)
    host = request.headers.get("host")
    return _origin_of(f"{request.url.scheme}://{host}") if host else None


def _cookie_authenticated(request: Request, bearer_credentials: HTTPAuthorizationCredentials | None) -> bool:
    """True when :func:`get_user` takes the user from the cookie.

    Decided exactly as ``get_user`` decides, on what ``bearer_scheme`` parsed: a Bearer header
    without a token (``Authorization: Bearer``) parses to nothing, and the cookie is then the
    credential, so such a call is checked like any other cookie call.
    """
    explicit = bearer_credentials is not None and bearer_credentials.scheme.lower() == "bearer"
    return not explicit and COOKIE_NAME_JWT_TOKEN in request.cookies


async def same_origin_if_cookie(
    request: Request,
    bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> None:
    """Refuse (403) a cookie-authenticated call whose ``Origin``/``Referer`` is not our own origin."""
    if not _cookie_authenticated(request, bearer_credentials):
        return
    claimed = request.headers.get("origin") or request.headers.get("referer")
    expected = own_origin(request)
    if claimed is None or expected is None or _origin_of(claimed) != expected:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "cross-site request refused: a call authenticated by the session cookie must come from "
            "the Airflow UI's own origin (or authenticate with a Bearer token)",
        )


async def refresh_requested(
    request: Request,
    user: UserDep,
    bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
    refresh: Annotated[
        bool, Query(description="fetch live health from Graph first, and store it (needs register access)")
    ] = False,
) -> bool:
    """``refresh=true`` spends Graph calls and writes the store: it needs what registering needs."""
    if refresh:
        await same_origin_if_cookie(request, bearer_credentials)
        requires_register_access(request, user)
    return refresh


RefreshDep = Annotated[bool, Depends(refresh_requested)]
