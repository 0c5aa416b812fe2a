"""The FastAPI app the plugin mounts at ``/whatsapp``: ``/api/v1/...`` (JSON) and ``/ui/`` (the UI bundle).

Its OpenAPI schema is published at ``/whatsapp/openapi.json`` (Swagger UI at ``/whatsapp/docs``),
like Airflow's own API: the schema is public, every data route needs an Airflow user.
"""

from __future__ import annotations

import logging

from airflow.api_fastapi.common.dagbag import create_dag_bag
from fastapi import APIRouter, Depends, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from whatsapp import __version__
from whatsapp.api.routes import (
    channels,
    fleet,
    fleet_actions,
    fleet_trend,
    me,
    page,
    runs,
    signups,
    vocabulary,
    webhooks,
)
from whatsapp.api.security import authenticated_user
from whatsapp.store import ChannelNotFoundError, StoreError

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    """A store that cannot answer is the server's problem (503); its detail goes to the log only."""
    if isinstance(exc, ChannelNotFoundError):
        return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": str(exc)})
    log.error("channel store unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": "the channel store is unavailable; see the API server log"},
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 shape without ``input``/``ctx``: a refused body may hold the signup code."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "type": str(error.get("type", "value_error")),
            "loc": list(error.get("loc", ())),
            "msg": error.get("msg", ""),
        }
        for error in exc.errors()
    ]
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": detail})


def create_app() -> FastAPI:
    app = FastAPI(
        title="WhatsApp fleet health",
        version=__version__,
        description=(
            "Health of every WhatsApp phone number onboarded through the Airflow provider, and a way "
            "to complete a stuck registration. Authenticate like Airflow's public API: the UI's "
            "session cookie, or `Authorization: Bearer <jwt>` from `POST /auth/token`."
        ),
    )
    # The register route creates runs the way Airflow's trigger route does, from serialized DAGs.
    app.state.dag_bag = create_dag_bag()
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authenticated_user)])
    api.include_router(channels.router)
    api.include_router(fleet_actions.router)
    api.include_router(fleet.router)
    api.include_router(fleet_trend.router)
    api.include_router(vocabulary.router)
    api.include_router(signups.router)
    api.include_router(me.router)
    api.include_router(runs.router)
    app.include_router(api)
    # Meta's webhook receiver: no Airflow login (Meta signs instead), outside the /api/v1 router.
    app.include_router(webhooks.router)
    app.include_router(page.router)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app
