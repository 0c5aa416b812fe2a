"""Typed response models of the health API, so the plugin's OpenAPI schema documents every field.

The channel shape itself is built once, by :func:`whatsapp.store.channel_api_dict`; these models
only validate and document it. None of them has a field that could carry a token, a PIN or a
verify token: a secret cannot reach a response by accident through an extra attribute, because
pydantic drops keys a model does not declare.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    create_model,
    model_validator,
)

from whatsapp.domain.business_app import SYNC_ORDER, SYNC_WINDOW, AppLink, SyncState, SyncType
from whatsapp.domain.fleet_action import DEFAULT_CHUNK_SIZE, MAX_CHANNELS, MAX_CHUNK_SIZE, FleetAction
from whatsapp.domain.health import PUBLIC_FIELDS, STORED_FIELDS
from whatsapp.domain.registration import (
    NAME_CHANGE_WINDOW,
    REGISTER_BUDGET,
    REGISTER_WINDOW,
    RegistrationState,
    span_words,
)
from whatsapp.domain.signup import ACCOUNT_ID, BUSINESS_ID, INBOX_ID, INTAKE_FIELDS, WABA_ID
from whatsapp.domain.situations import ActionKind, SituationKind, SituationSeverity
from whatsapp.domain.trend import MAX_TREND_DAYS, MAX_TREND_POINTS, MAX_TREND_WEEKS
from whatsapp.store.fleet_listing import (
    DEFAULT_SORT,
    FILTER_COLUMNS,
    MAX_LIMIT,
    MAX_OFFSET,
    PAGE_SIZES,
    SORTS,
    FleetQuery,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


#: Text without a control character (C0, DEL, C1). Every text a client sends in a path or a
#: query has this pattern: PostgreSQL refuses a NUL byte in a query (the request failed with a
#: 500), and no id, state word or search contains one of them.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"

#: A channel's ids in a path, within what the store holds (``BIGINT``): larger ones are a 422,
#: never a database error.
AccountIdPath = Annotated[int, Path(ge=ACCOUNT_ID.minimum, le=ACCOUNT_ID.maximum)]
InboxIdPath = Annotated[int, Path(ge=INBOX_ID.minimum, le=INBOX_ID.maximum)]
#: A DAG id or run id in a path (Airflow's ids are at most 250 characters): 422 before any query.
AirflowIdPath = Annotated[str, Path(min_length=1, max_length=250, pattern=NO_CONTROL_CHARACTERS)]


class GraphError(_Model):
    """A Graph API failure (``type`` is the provider's error kind, ``code``/``subcode`` Meta's numbers)."""

    type: str
    message: str | None
    code: int | None
    subcode: int | None


class ErrorResponse(_Model):
    """Body of a 502: the Graph failure that prevented a live health read."""

    error: GraphError


class Registration(_Model):
    state: RegistrationState
    attempts_72h: int = Field(
        description=f"register calls sent in the last {span_words(REGISTER_WINDOW)} (Meta's rolling window)"
    )
    last_attempt_at: str | None
    last_error: GraphError | None
    next_attempt_at: str | None


class Links(_Model):
    whatsapp_manager: str


class NameChange(_Model):
    """A live number's display-name change."""

    status: str = Field(description="requested, approved, lapsed or declined")
    new_display_name: str | None
    deadline: str | None = Field(
        description=(
            f"approved changes: register again before this (approval + {span_words(NAME_CHANGE_WINDOW)})"
        )
    )
    text: str


class SituationAction(_Model):
    """The banner's button: what it does and its label."""

    kind: ActionKind
    label: str


class Situation(_Model):
    """The one problem (or none) a person sees first (``whatsapp.domain.situations``).

    Times are ISO UTC; the page formats them in Airflow's time zone.
    """

    kind: SituationKind
    severity: SituationSeverity
    needs_action: bool = Field(description="a person (operator or customer) must act")
    title: str = Field(description="short: the problem column and the banner's title")
    detail: str = Field(description="one or two plain sentences for the banner")
    since: str | None = Field(description="when this situation began, as well as the store knows")
    next_try: str | None = Field(description="the next automatic attempt")
    deadline: str | None = Field(description="e.g. an approved name change: register again before")
    error: GraphError | None = Field(description="Meta's refusal, when it matters here")
    action: SituationAction


class Sync(_Model):
    """One of a WhatsApp Business app number's two one-time syncs (``whatsapp.domain.business_app``)."""

    sync_type: SyncType = Field(description="Meta's `sync_type` of the request")
    label: str
    state: SyncState | None = Field(description="null: the channel keeps no state for this sync")
    text: str = Field(description="the state in words, with the progress while the history arrives")
    progress: int | None = Field(description="the history's last reported progress, in percent")


#: One :class:`Sync` per sync type, keyed as ``store/views.py`` keys them (``contacts``, ``history``).
Syncs = create_model(
    "Syncs",
    __base__=_Model,
    __doc__="Both syncs, in Meta's order (contacts first, then the chat history).",
    **{sync.name.lower(): (Sync, Field(description=sync.label)) for sync in SYNC_ORDER},
)


class BusinessApp(_Model):
    """A WhatsApp Business app number ("coexistence"): its link to the app and its two syncs."""

    label: str = Field(description="what the page, the API and the CLI call such a number")
    link: AppLink
    syncs: Syncs  # type: ignore[valid-type]
    sync_deadline: str | None = Field(
        description=f"the syncs can be requested until then (onboarding + {span_words(SYNC_WINDOW)})"
    )
    message_echoes: int = Field(description="messages the customer sent from the app (content not kept)")


def _health_fields_model() -> type[_Model]:
    """The health fields of the channel shape, derived from ``PUBLIC_FIELDS`` (nested paths included)."""
    tree: dict[str, Any] = {}
    for health_field in PUBLIC_FIELDS:
        node = tree
        for key in health_field.api_key_path[:-1]:
            node = node.setdefault(key, {})
        node[health_field.api_key_path[-1]] = health_field

    def build(name: str, node: dict[str, Any]) -> type[_Model]:
        fields: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(value, dict):
                fields[key] = (build(key.title(), value), ...)
            else:
                fields[key] = (str | None, Field(description=value.label))
        return create_model(name, __base__=_Model, **fields)

    return build("HealthFields", tree)


class ChannelHealth(_health_fields_model()):  # type: ignore[misc]
    """One channel's health (the health fields come from ``HEALTH_FIELDS``)."""

    account_id: int
    inbox_id: int
    phone_number_id: str
    waba_id: str
    business_id: str
    checked_at: str | None
    provisioning: str | None
    reauthorization_required: bool
    reauthorization_reason: str | None
    registration: Registration
    links: Links
    active: bool = True
    offboarded_at: str | None = None
    name_change: NameChange | None = None
    business_app: BusinessApp | None = Field(None, description="null unless a WhatsApp Business app number")
    notes: list[str] = Field(
        default_factory=list,
        description="name change, offboarding and the WhatsApp Business app, in words (what the page shows)",
    )
    situation: Situation


#: Where a stored row's Airflow run is (``api.runs.run_link``): register attempts and health history.
RunDagId = Annotated[str | None, Field(description="the DAG of the row's run, when Airflow still knows it")]
RunUrl = Annotated[str | None, Field(description="the run in the Airflow UI, relative to Airflow's base URL")]


class Attempt(_Model):
    """One register call that was sent, with the Graph error it got (if any)."""

    attempted_at: str | None
    outcome: str
    resulting_state: str
    code: int | None
    subcode: int | None
    message: str | None
    run_id: str | None
    dag_id: RunDagId = None
    run_url: RunUrl = None


class AttemptsResponse(_Model):
    attempts: list[Attempt]


HealthCheckEntry = create_model(
    "HealthCheckEntry",
    __base__=_Model,
    __doc__="One row of the health history: the stored health columns, or the error that replaced them.",
    checked_at=(str | None, ...),
    **{f.name: (str | None, Field(description=f.label)) for f in STORED_FIELDS},
    provisioning=(str | None, ...),
    error=(GraphError | None, ...),
    event=(str | None, Field(None, description="what Meta pushed (a webhook); null for a Graph read")),
    run_id=(
        str | None,
        Field(None, description="the Airflow run that read it; null for webhooks and refreshes"),
    ),
    dag_id=(RunDagId, None),
    run_url=(RunUrl, None),
)


class HistoryResponse(_Model):
    history: list[HealthCheckEntry]


class LastAudit(_Model):
    """The summary the fleet DAG saved at the end of its last run."""

    created_at: str | None
    counts: dict[str, Any]


#: The fleet table's sort keys, as the API documents and validates them (``fleet_listing.SORTS``).
FleetSort = StrEnum("FleetSort", {key: key for key in SORTS})

_FILTER_HELP = "repeat to match any of several values; `none` matches a missing value"
#: A filter value: a state word, so short and without control characters.
FilterValue = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS)]
#: The longest search the fleet takes (a number, a name, an id: far shorter); the page caps its box.
SEARCH_MAX_LENGTH = 100
SearchText = Annotated[str, StringConstraints(max_length=SEARCH_MAX_LENGTH, pattern=NO_CONTROL_CHARACTERS)]


#: Owner filters, by the onboarding's input rules (``whatsapp.domain.signup``): a tenant's
#: ``account_id`` (a ``BIGINT``), Meta's WABA and business portfolio ids (1 to 20 digits).
AccountIdFilter = Annotated[int, Field(ge=ACCOUNT_ID.minimum, le=ACCOUNT_ID.maximum)]
WabaIdFilter = Annotated[str, AfterValidator(WABA_ID.check), WithJsonSchema(WABA_ID.schema())]
BusinessIdFilter = Annotated[str, AfterValidator(BUSINESS_ID.check), WithJsonSchema(BUSINESS_ID.schema())]
_OWNER_HELP = "exact id; repeat to match any of several"


class FleetFilter(_Model):
    """Which channels the fleet table shows: its filters by state, owner, situation and text.

    The filters of ``GET /fleet`` (:class:`FleetParams`) and ``GET /fleet/export.csv``
    (:class:`FleetExportParams`), and the ``filter`` of a bulk action (``POST /fleet/actions``), so
    an export or an action on "all that match" covers exactly the rows shown.
    """

    provisioning: list[FilterValue] = Field(default_factory=list, description=_FILTER_HELP)
    registration_state: list[FilterValue] = Field(default_factory=list, description=_FILTER_HELP)
    reauthorization_reason: list[FilterValue] = Field(default_factory=list, description=_FILTER_HELP)
    quality_rating: list[FilterValue] = Field(default_factory=list, description=_FILTER_HELP)
    name_status: list[FilterValue] = Field(default_factory=list, description=_FILTER_HELP)
    status: list[FilterValue] = Field(default_factory=list, description=_FILTER_HELP)
    account_id: list[AccountIdFilter] = Field(default_factory=list, description=_OWNER_HELP)
    waba_id: list[WabaIdFilter] = Field(default_factory=list, description=_OWNER_HELP)
    business_id: list[BusinessIdFilter] = Field(default_factory=list, description=_OWNER_HELP)
    situation: list[SituationKind] = Field(default_factory=list, description="repeat to match any of several")
    needs_action: bool | None = Field(
        None, description="only channels a person must (true) or need not (false) act on"
    )
    q: SearchText | None = Field(
        None, description="part of the phone number or verified name, or an exact account or phone number id"
    )
    include_inactive: bool = False

    def to_query(self, **page: Any) -> FleetQuery:
        """The store's query for these filters; ``page``: its sort, order, limit and offset."""
        filters = {name: tuple(getattr(self, name)) for name in FILTER_COLUMNS}
        return FleetQuery(
            **filters,
            situation=tuple(self.situation),
            needs_action=self.needs_action,
            q=self.q.strip() or None if self.q else None,
            include_inactive=self.include_inactive,
            **page,
        )


class FleetExportParams(FleetFilter):
    """Query parameters of ``GET /fleet/export.csv``: the fleet table's filters and sort, no page."""

    sort: FleetSort = Field(
        FleetSort(DEFAULT_SORT),
        description="`needs_action` (the default) puts every channel whose situation needs a person's "
        "action first, most urgent first, then the rest; ties by account and inbox",
    )
    order: Literal["asc", "desc"] = "asc"

    def to_query(self, **page: Any) -> FleetQuery:
        """The store's query; without ``page`` its page is the default one (an export reads every match)."""
        return super().to_query(sort=self.sort.value, order=self.order, **page)


class FleetParams(FleetExportParams):
    """Query parameters of ``GET /fleet``: filters by state, owner and situation, sort, and the page."""

    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def to_query(self, **page: Any) -> FleetQuery:
        return super().to_query(limit=self.limit, offset=self.offset, **page)


class FleetCounts(_Model):
    """Live counts of the active channels (``fleet_listing.counts_of``): the fields below, and one
    object per state dimension (``provisioning``, ``registration_state``...) mapping value to count."""

    model_config = ConfigDict(extra="allow")

    channels: int
    situation: dict[SituationKind, int] = Field(description="every kind, zero included")
    needs_action: int = Field(description="channels a person (operator or customer) must act on")
    offboarded: int = Field(
        description="inactive (offboarded) channels, in none of the counts above: the fleet listing "
        "hides them unless `include_inactive`"
    )


class FleetPaging(_Model):
    """How ``GET /fleet`` pages and sorts when a request does not say (the page's page size), the
    sorts it takes, and its longest search: the page checks a shared link against them."""

    page_size: int
    page_sizes: list[int] = Field(description="the page sizes the page offers (`limit`)")
    sort: FleetSort
    order: Literal["asc", "desc"]
    sorts: list[FleetSort]
    search_max_length: int

    @classmethod
    def defaults(cls) -> FleetPaging:
        """From :class:`FleetParams`, where the defaults are declared."""
        fields = FleetParams.model_fields
        return cls(
            page_size=fields["limit"].default,
            page_sizes=list(PAGE_SIZES),
            sort=fields["sort"].default,
            order=fields["order"].default,
            sorts=list(FleetSort),
            search_max_length=SEARCH_MAX_LENGTH,
        )


class RegisterBudget(_Model):
    """The register calls the fleet spends at most per number in Meta's rolling window."""

    calls: int
    window_hours: int

    @classmethod
    def of_domain(cls) -> RegisterBudget:
        return cls(calls=REGISTER_BUDGET, window_hours=int(REGISTER_WINDOW.total_seconds() // 3600))


class FleetSchedule(_Model):
    """When the fleet DAG (``whatsapp_fleet_health``) acts next, as Airflow has it."""

    dag_id: str
    dag_path: str = Field(description="the DAG's page in Airflow's UI (unpause it there)")
    paused: bool = Field(description="paused (or unknown to Airflow): the fleet retries nothing")
    next_run: str | None = Field(description="when the scheduler creates the next run (null while paused)")
    interval_seconds: int | None = Field(description="the time between two runs")
    last_audit_at: str | None = Field(description="the newest summary the fleet DAG saved")
    audit_overdue: bool = Field(
        description="unpaused, yet the last audit is older than two intervals (or there is none)"
    )


class FleetResponse(_Model):
    """The fleet table (filtered) with live counts by state over every active channel."""

    total: int = Field(description="channels matching the filters, before limit/offset")
    channels: list[ChannelHealth]
    counts: FleetCounts
    last_audit: LastAudit | None


class FleetSummaryResponse(_Model):
    """The dashboard card: how many channels, how many need a person, the counts, the last audit."""

    total: int = Field(description="active channels")
    needs_action: int = Field(description="active channels a person (operator or customer) must act on")
    counts: FleetCounts
    last_audit: LastAudit | None


class FleetTrendParams(_Model):
    """Query parameters of ``GET /fleet/trend``: how far back each part of the answer reaches."""

    days: int = Field(14, ge=1, le=MAX_TREND_DAYS, description="days of saved fleet summaries")
    weeks: int = Field(
        8,
        ge=1,
        le=MAX_TREND_WEEKS,
        description="ISO weeks (UTC) of signup-to-registered figures, this one included",
    )


class FleetTrendPoint(_Model):
    """One fleet summary the fleet DAG saved (the counts of its ``last_audit``)."""

    time: str = Field(description="when the summary was saved (UTC, ISO 8601)")
    total: int = Field(description="active channels")
    needs_action: int | None = Field(description="active channels a person must act on")
    healthy: int | None = Field(description="active channels whose situation is `healthy`")


class SignupWeek(_Model):
    """One ISO week (UTC): registrations completed in it and the time each took since its signup."""

    week_start: str = Field(description="the week's Monday (UTC), `YYYY-MM-DD`")
    registrations: int = Field(
        description="numbers whose first register call after a signup succeeded this week"
    )
    median_seconds: float | None = Field(
        description="median signup-to-registered time; null without registrations"
    )
    p90_seconds: float | None = Field(
        description="90th percentile (linear interpolation); null without registrations"
    )


class FleetTrendResponse(_Model):
    """The fleet over time: saved summaries, oldest first, and signup-to-registered figures by week."""

    points: list[FleetTrendPoint] = Field(
        description=f"summaries of the last `days` days, oldest first; at most the newest {MAX_TREND_POINTS}"
    )
    weeks: list[SignupWeek] = Field(description="every week asked for, oldest first, empty ones included")


class Permission(_Model):
    allowed: bool
    reason: str | None = Field(description="why not, in words the page shows on the disabled button")


class Permissions(_Model):
    #: ``register`` would shadow ``BaseModel.register`` (an ABC method): the attribute has an underscore.
    register_: Permission = Field(
        alias="register", description="*Complete registration* (triggers whatsapp_register_channel)"
    )
    refresh: Permission = Field(description="read live health from Graph (needs what register needs)")
    onboard: Permission = Field(description="start an onboarding (triggers whatsapp_onboarding)")
    fleet_action: Permission = Field(
        description="refresh or register many channels at once (triggers whatsapp_fleet_action)"
    )


class Me(_Model):
    """The signed-in Airflow user and what the page may offer them."""

    username: str
    permissions: Permissions


class RunRef(_Model):
    dag_id: str
    dag_run_id: str
    state: str
    url: str = Field(description="the run in the Airflow UI, relative to Airflow's base URL")


class RegisterOutcome(_Model):
    """What a *Complete registration* run did, from the attempt it stored (or why it made none)."""

    kind: Literal["running", "registered", "refused", "no_call", "not_needed", "failed"]
    text: str
    error: GraphError | None
    next_try: str | None


class RegisterRunResponse(_Model):
    run: RunRef
    outcome: RegisterOutcome


class RunChannel(_Model):
    """The channel a WhatsApp DAG run was about."""

    account_id: int
    inbox_id: int


class RegisterResponse(_Model):
    """A queued ``whatsapp_register_channel`` run for one channel."""

    dag_id: str
    dag_run_id: str
    state: str
    dag_paused: bool = Field(description="the DAG is paused: the run stays queued until it is unpaused")
    url: str = Field(description="the run in the Airflow UI grid")


#: The intake's body as documented: each field's schema comes from ``whatsapp.domain.signup``,
#: which also checks the values (types included: a field is ``Any`` here so that every rule, and
#: every message, is the domain's). Unknown keys and missing required keys are refused here.
SignupBody = create_model(
    "SignupBody",
    __config__=ConfigDict(extra="forbid"),
    __doc__=(
        "An Embedded Signup's result, as the page that ran the flow received it, and optionally how "
        "the onboarding run waits for the display name."
    ),
    **{
        rule.name: (
            Any,
            Field(
                ... if rule.required else None,
                description=rule.description,
                json_schema_extra=rule.schema(nullable=not rule.required),
            ),
        )
        for rule in INTAKE_FIELDS
    },
)


class SignupResponse(_Model):
    """A stored signup and the ``whatsapp_onboarding`` run queued for it."""

    signup_id: str = Field(
        description="the signup in the channel store (the run's conf: this id and the timing fields sent)"
    )
    dag_run_id: str


class ValidationErrorItem(_Model):
    """One refused field: ``loc`` is ``["body", field]`` (or a path/query parameter)."""

    type: str
    loc: list[str | int]
    msg: str


class ValidationErrorResponse(_Model):
    """Body of a 422. Never echoes the refused input (it may hold the signup code)."""

    detail: list[ValidationErrorItem]


class ChannelIds(BaseModel):
    """One channel of a selection, by the ids the page shows (account and inbox)."""

    model_config = ConfigDict(extra="forbid")

    account_id: int = Field(ge=ACCOUNT_ID.minimum, le=ACCOUNT_ID.maximum)
    inbox_id: int = Field(ge=INBOX_ID.minimum, le=INBOX_ID.maximum)


class FleetActionFilter(FleetFilter):
    """The fleet's filters in a body: a key the fleet does not filter by is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class FleetActionRequest(BaseModel):
    """``POST /fleet/actions``: one action on the channels named, or on every channel a filter matches.

    Also the conf of a ``whatsapp_fleet_action`` run, which its first task checks with this model
    (a run triggered from Airflow's UI or REST API is held to the same rules).
    """

    model_config = ConfigDict(extra="forbid")

    action: FleetAction = Field(
        description="`refresh`: read each number's health from Meta and store it; `register`: "
        "*Complete registration* for each (provisioned, WhatsApp Business app and blocked numbers "
        "are skipped with the reason; never beyond the register budget)"
    )
    channels: list[ChannelIds] | None = Field(
        None,
        min_length=1,
        max_length=MAX_CHANNELS,
        description=f"the channels selected (at most {MAX_CHANNELS:,}); or give `filter`",
    )
    filter: FleetActionFilter | None = Field(
        None,
        description=f"every channel this matches (as `GET /fleet` filters; at most {MAX_CHANNELS:,}); "
        "or give `channels`",
    )
    chunk_size: int = Field(
        DEFAULT_CHUNK_SIZE,
        ge=1,
        le=MAX_CHUNK_SIZE,
        description="channels per mapped task of the run",
    )

    @model_validator(mode="after")
    def _one_selection(self) -> FleetActionRequest:
        if (self.channels is None) == (self.filter is None):
            raise ValueError("give either `channels` or `filter`, not both and not neither")
        if self.channels is not None:
            pairs = [(c.account_id, c.inbox_id) for c in self.channels]
            if len(set(pairs)) != len(pairs):
                raise ValueError("`channels` names a channel more than once")
        return self

    def pairs(self) -> list[tuple[int, int]]:
        return [(c.account_id, c.inbox_id) for c in self.channels or ()]

    def run_conf(self) -> dict[str, Any]:
        """What the run's conf holds: ids and filter words only (the page never sends a secret)."""
        return self.model_dump(mode="json", exclude_none=True)


class FleetActionQueued(_Model):
    """A queued ``whatsapp_fleet_action`` run."""

    dag_id: str
    dag_run_id: str
    state: str
    channels: int = Field(description="how many channels the selection holds now (the run reads it again)")
    url: str = Field(description="the run in the Airflow UI grid")


class FleetActionOutcome(_Model):
    """What the action did to one number, and its situation after it."""

    account_id: int
    inbox_id: int
    display_phone_number: str
    outcome: Literal["done", "skipped", "failed"]
    message: str
    situation: SituationKind | None


class FleetActionRun(_Model):
    """A ``whatsapp_fleet_action`` run: its state, and each number's outcome as its tasks finish."""

    run: RunRef
    action: FleetAction | None
    total: int | None = Field(description="channels the run acts on (once its first task resolved them)")
    counts: dict[Literal["done", "skipped", "failed"], int]
    outcomes: list[FleetActionOutcome]
