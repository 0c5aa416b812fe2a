"""The signup intake: the one way to start an onboarding through the API (docs/http-api.md).

The page that ran Embedded Signup posts its result here, optionally with the onboarding's
``name_poke_interval`` and ``name_wait_timeout``. Every field is checked with the onboarding
DAG's own rules (``whatsapp.domain.signup``); the code is stored encrypted in the channel store
and the ``whatsapp_onboarding`` run gets ``{"signup_id"}`` and the timing fields sent, so the
code never reaches ``dag_run.conf``, Airflow's event log, XCom, task logs or any answer. A bad
field is a 422 naming it, and then nothing is stored, triggered or sent to Graph.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.api_fastapi.common.dagbag import DagBagDep
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.models import Log
from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError

from whatsapp.api.deps import StoreDep
from whatsapp.api.models import SignupBody, SignupResponse, ValidationErrorResponse
from whatsapp.api.security import (
    ONBOARDING_DAG_ID,
    UserDep,
    requires_onboarding_access,
    same_origin_if_cookie,
)
from whatsapp.api.trigger import queue_run, refuse_if_paused, signup_run_id
from whatsapp.domain.signup import Intake, InvalidSignupError

router = APIRouter(tags=["signup"])

#: What Airflow's event log records of an intake: who, which account and WABA; never the code.
AUDIT_EVENT = "whatsapp_signup_intake"


@router.post(
    "/signups",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignupResponse,
    responses={
        status.HTTP_403_FORBIDDEN: {"description": f"the user may not trigger {ONBOARDING_DAG_ID}"},
        status.HTTP_409_CONFLICT: {"description": f"{ONBOARDING_DAG_ID} is paused: nothing stored"},
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": ValidationErrorResponse,
            "description": "a field breaks its rule (named in `loc`): nothing stored, no Graph call",
        },
    },
    dependencies=[Depends(same_origin_if_cookie), Depends(requires_onboarding_access)],
)
def receive_signup(
    body: SignupBody,  # type: ignore[valid-type]
    request: Request,
    store: StoreDep,
    user: UserDep,
    dag_bag: DagBagDep,
    session: SessionDep,
) -> SignupResponse:
    """Store an Embedded Signup's result (code encrypted) and queue ``whatsapp_onboarding`` for it.

    The code lives 30 s at Meta: the run is created at once, and a paused DAG is refused (409)
    rather than left to spend a dead code. Codes not exchanged within those 30 s are deleted
    (on every intake, and when the run reads one too late).
    """
    try:
        intake = Intake.from_mapping(body.model_dump(exclude_none=True))
    except InvalidSignupError as error:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", error.field), "msg": str(error)}]
        ) from None
    pending = store.signups.receive(intake.signup)
    try:
        run_id = signup_run_id(intake.signup.ids.account_id, pending.signup_id)
        session.add(
            Log(
                event=AUDIT_EVENT,
                owner=user.get_name(),
                owner_display_name=user.get_name(),
                dag_id=ONBOARDING_DAG_ID,
                run_id=run_id,
                extra=json.dumps(_audit_fields(pending.signup_id, intake)),
            )
        )
        run = queue_run(
            dag_bag=dag_bag,
            session=session,
            user=user,
            dag_id=ONBOARDING_DAG_ID,
            run_id=run_id,
            conf=intake.run_conf(pending.signup_id),
            from_ui=bool(request.headers.get("referer")),
            check=refuse_if_paused,
        )
    except BaseException:
        store.signups.discard(pending.signup_id)
        raise
    store.signups.attach_run(pending.signup_id, run.run_id)
    return SignupResponse(signup_id=pending.signup_id, dag_run_id=run.run_id)


def _audit_fields(signup_id: str, intake: Intake) -> dict[str, Any]:
    ids = intake.signup.ids
    fields = {
        "signup_id": signup_id,
        "account_id": ids.account_id,
        "business_id": ids.business_id,
        "waba_id": ids.waba_id,
        "phone_number_id": ids.phone_number_id,
        "inbox_id": ids.inbox_id,
        **intake.timing,
        "method": "POST",
    }
    return {key: value for key, value in fields.items() if value is not None}
