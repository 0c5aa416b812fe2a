"""What the page needs to label, colour and filter values: derived from the domain, served once.

The page keeps no copy of an enum or a colour rule: health fields come from ``HEALTH_FIELDS``,
registration states and reasons from the registration machine, the WhatsApp Business app's words
from ``domain/business_app.py``, so a new field or state shows up by itself.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from whatsapp.api.models import FleetPaging, RegisterBudget
from whatsapp.api.runs import CHANGE_NAME_DAG_ID, dag_path
from whatsapp.domain.business_app import (
    APP_LINK_SEVERITY,
    BUSINESS_APP_LABEL,
    SYNC_STATE_SEVERITY,
    SYNC_STATE_WORDS,
    AppLink,
    SyncState,
)
from whatsapp.domain.health import PROVISIONING_SEVERITY, PUBLIC_FIELDS, ValueSeverity
from whatsapp.domain.registration_machine import REASON_SEVERITY, STATE_SEVERITY
from whatsapp.domain.situations import (
    SITUATION_GROUP_TITLES,
    SITUATIONS,
    ActionKind,
    SituationGroup,
    SituationKind,
    SituationSeverity,
)
from whatsapp.errors import ERROR_WORDS
from whatsapp.store.models import ATTEMPT_NO_ANSWER, ATTEMPT_SENT, ATTEMPT_SUCCESS

router = APIRouter(tags=["vocabulary"])

#: What a filter's "no value" option is called, in the API and on the page.
NO_VALUE = "none"


class HealthFieldInfo(BaseModel):
    name: str
    label: str
    api_path: list[str]
    severities: dict[str, ValueSeverity]
    watched: bool


class SituationKindInfo(BaseModel):
    """A situation kind's fixed part: the badge's severity and title, and the banner's action."""

    kind: SituationKind
    severity: SituationSeverity
    needs_action: bool
    title: str
    action: ActionKind
    action_label: str
    action_path: str | None = Field(
        description="where in Airflow's UI the action is done (a DAG's page, relative to Airflow's base URL)"
    )
    register_held: bool = Field(
        description="*Complete registration* is refused (409) in this situation until its `next_try`"
    )
    also_register: bool = Field(
        description="*Complete registration* is offered beside the action, once the person fixed the cause"
    )
    group: SituationGroup = Field(description="the count group of the kind: needs action, waiting, healthy")


#: Actions done by triggering one of the provider's DAGs, in Airflow's UI.
ACTION_DAGS: dict[ActionKind, str] = {ActionKind.CHANGE_DISPLAY_NAME: CHANGE_NAME_DAG_ID}
#: Situations in which ``POST .../register`` refuses a call until the situation's next try: Meta's
#: register limit (``register_channel.py``, ``register_limit_refusal``).
REGISTER_HELD = frozenset({SituationKind.BLOCKED})


class SyncStateInfo(BaseModel):
    """How one sync state reads: its words and its badge's severity."""

    text: str
    severity: ValueSeverity


class BusinessAppInfo(BaseModel):
    """A WhatsApp Business app number's badge label, and how its link and sync states read."""

    label: str
    link: dict[AppLink, ValueSeverity]
    sync_states: dict[SyncState, SyncStateInfo]

    @classmethod
    def of_domain(cls) -> BusinessAppInfo:
        return cls(
            label=BUSINESS_APP_LABEL,
            link=dict(APP_LINK_SEVERITY),
            sync_states={
                state: SyncStateInfo(text=SYNC_STATE_WORDS[state], severity=SYNC_STATE_SEVERITY[state])
                for state in SyncState
            },
        )


class SituationGroupInfo(BaseModel):
    """One group of situation kinds, as the fleet's counts fold them."""

    group: SituationGroup
    title: str
    kinds: list[SituationKind]


#: A register attempt's outcome in words (the attempts table): the call's own states, then Meta's
#: refusals by error kind (``errors.ERROR_WORDS``).
ATTEMPT_OUTCOME_WORDS: dict[str, str] = {
    ATTEMPT_SUCCESS: "Registered",
    ATTEMPT_SENT: "Sent, answer not recorded yet",
    ATTEMPT_NO_ANSWER: "No answer (counted)",
    **{kind.value: words for kind, words in ERROR_WORDS.items()},
}


class Vocabulary(BaseModel):
    """Every value the page shows as a badge, with its severity, the fleet filters' values, and
    the numbers the page pages by or shows."""

    situations: list[SituationKindInfo]
    situation_groups: list[SituationGroupInfo]
    attempt_outcomes: dict[str, str] = Field(description="a register attempt's `outcome` in words")
    health_fields: list[HealthFieldInfo]
    provisioning: dict[str, ValueSeverity]
    registration_state: dict[str, ValueSeverity]
    reauthorization_reason: dict[str, ValueSeverity]
    filters: dict[str, list[str]]
    fleet: FleetPaging
    register_budget: RegisterBudget
    business_app: BusinessAppInfo


def build_vocabulary() -> Vocabulary:
    fields = [
        HealthFieldInfo(
            name=f.name,
            label=f.label,
            api_path=list(f.api_key_path),
            severities=dict(f.severities),
            watched=f.watched,
        )
        for f in PUBLIC_FIELDS
    ]
    provisioning = {p.value: s for p, s in PROVISIONING_SEVERITY.items()}
    states = {state.value: s for state, s in STATE_SEVERITY.items()}
    reasons = {reason.value: s for reason, s in REASON_SEVERITY.items()}
    filtered_fields = {f.name: [*f.severities, NO_VALUE] for f in fields if f.name in _FILTERED_HEALTH_FIELDS}
    situations = [
        SituationKindInfo(
            kind=kind,
            severity=info.severity,
            needs_action=info.needs_action,
            title=info.title,
            action=info.action.kind,
            action_label=info.action.label,
            action_path=dag_path(ACTION_DAGS[info.action.kind]) if info.action.kind in ACTION_DAGS else None,
            register_held=kind in REGISTER_HELD,
            also_register=info.also_register,
            group=info.group,
        )
        for kind, info in SITUATIONS.items()
    ]
    groups = [
        SituationGroupInfo(
            group=group, title=title, kinds=[kind for kind, info in SITUATIONS.items() if info.group is group]
        )
        for group, title in SITUATION_GROUP_TITLES.items()
    ]
    return Vocabulary(
        situations=situations,
        situation_groups=groups,
        attempt_outcomes=ATTEMPT_OUTCOME_WORDS,
        health_fields=fields,
        provisioning=provisioning,
        registration_state=states,
        reauthorization_reason=reasons,
        filters={
            "provisioning": list(provisioning),
            **filtered_fields,
            "registration_state": list(states),
            "reauthorization_reason": [NO_VALUE, *reasons],
            "situation": [kind.value for kind in SITUATIONS],
        },
        fleet=FleetPaging.defaults(),
        register_budget=RegisterBudget.of_domain(),
        business_app=BusinessAppInfo.of_domain(),
    )


#: Health fields the fleet API filters on (see ``routes/fleet.py``).
_FILTERED_HEALTH_FIELDS = ("quality_rating", "name_status", "status")


@router.get("/vocabulary", response_model=Vocabulary)
def get_vocabulary() -> Vocabulary:
    """Labels, severities and filter values of every badge the page shows."""
    return build_vocabulary()
