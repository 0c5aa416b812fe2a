"""Who is signed in, and which of the page's actions their Airflow role allows."""

from __future__ import annotations

from fastapi import APIRouter

from whatsapp.api.models import Me, Permission, Permissions
from whatsapp.api.security import (
    FLEET_ACTION_DAG_ID,
    ONBOARDING_DAG_ID,
    REGISTER_DAG_ID,
    UserDep,
    may_trigger,
)

router = APIRouter(tags=["me"])


#: Why a role may not, in a person's words (the DAG it may not trigger stays in the API's 403).
_REFUSED = {
    REGISTER_DAG_ID: "your role can view but not register or refresh numbers; ask an Admin or Op",
    ONBOARDING_DAG_ID: "your role can view but not onboard numbers; ask an Admin or Op",
    FLEET_ACTION_DAG_ID: "your role can view but not act on many numbers at once; ask an Admin or Op",
}


def _permission(user: UserDep, dag_id: str) -> Permission:
    if may_trigger(user, dag_id):
        return Permission(allowed=True, reason=None)
    return Permission(allowed=False, reason=_REFUSED[dag_id])


@router.get("/me", response_model=Me)
def get_me(user: UserDep) -> Me:
    """The user and what the page may offer them: the same checks the routes make (403 otherwise).

    *Refresh* spends Graph calls and writes the store, so it needs what *Complete registration*
    needs (triggering ``whatsapp_register_channel``). The fleet's bulk actions trigger
    ``whatsapp_fleet_action``.
    """
    register = _permission(user, REGISTER_DAG_ID)
    return Me(
        username=user.get_name(),
        permissions=Permissions(
            register=register,
            refresh=register,
            onboard=_permission(user, ONBOARDING_DAG_ID),
            fleet_action=_permission(user, FLEET_ACTION_DAG_ID),
        ),
    )
