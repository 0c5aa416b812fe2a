"""Who may call the API: Airflow's own users, through Airflow's own security helpers.

Airflow does not protect a plugin's FastAPI app by itself, so every route depends on
:func:`authenticated_user`. It delegates to ``airflow.api_fastapi.core_api.security.get_user``,
which accepts exactly what the Airflow UI and public API accept: the UI's ``_token`` cookie or
``Authorization: Bearer <jwt>`` from ``POST /auth/token``. One deliberate difference: Airflow
answers a forged token with 403; SPEC.md promises 401 for every missing or invalid credential,
and 403 only for a real user lacking a permission, so the forged case is re-labelled here.
"""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user, oauth2_scheme, requires_access_dag
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials

#: The DAG the register route triggers; its run permission is what the route requires.
REGISTER_DAG_ID = "whatsapp_register_channel"

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
