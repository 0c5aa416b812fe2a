"""A fresh store with one channel in every situation the page has a banner for, reached as production does.

Numbers live in the Graph simulator (over loopback), channels are saved with the simulator's
tokens, and each channel is then moved by the provider's own write paths: health reads through
the real hook stored with ``store.health.record``, registration attempts through
:func:`whatsapp.register_channel.attempt_registration` (claim, decision, write-ahead call, outcome
table), Meta's ``account_update`` as a signed simulator webhook parsed and stored by the
receiver's functions, a display-name change and an offboarding as their operators do them. Meta's
refusals come from the simulator's own rules (PIN, reverification, lock, name review, token
states) or, where it has no rule for them, from an injected ``graph_error`` fault on that one
number's ``/register`` (2388001 with an approved name, the 72 h limit, another refusal). Those
faults stay in place, so *Complete registration* on such a channel is refused again.
WhatsApp Business app numbers are the simulator's (``is_on_biz_app``), saved as the onboarding
saves them; their sync requests are written ahead by ``store.business_app`` (answered as Meta
answers, or left with no answer as a killed worker leaves them), and what Meta pushes about them
(history chunks, a declined history, echoed messages, the link's ``account_update``) is stored
by the store functions the webhook receiver calls.

Nothing is written with raw SQL.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from include.graph_simulator.process import SimulatorControl
from tests.api.fleet_seed import LIVE, PENDING
from whatsapp.domain.business_app import Disconnection, SyncType
from whatsapp.domain.registration_machine import NameChangeRequested
from whatsapp.domain.webhooks import parse_notification
from whatsapp.errors import GraphApiError
from whatsapp.hooks.graph import READ_ATTEMPTS, WhatsAppGraphHook
from whatsapp.register_channel import RegistrationFailed, attempt_registration
from whatsapp.store import ChannelStore, HealthResult, business_app
from whatsapp.store.lifecycle_calls import DEREGISTER, NAME_CHANGE

ACCOUNT_ID = 7
#: Shown as text by the page: an ``<img>`` here must never reach the DOM as an element.
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
#: Healthy channels beyond the situations, so the fleet view has more than one page.
HEALTHY_FILLERS = 60

#: Long enough that no review ends while the suite runs (the simulator's clock stands still anyway).
LONG_REVIEW = {"name_status": "PENDING_REVIEW", "review_seconds": 10**7}
#: A WhatsApp Business app number ("coexistence"): the simulator makes it live on Cloud API at once.
ON_APP = {"is_on_biz_app": True}
#: Messages the customer sent from the app, echoed to the partner (the page shows the count).
ECHOES = 3
#: How far the chat history of ``app_history_arriving`` got, in percent.
HISTORY_PROGRESS = 40
#: The situation kinds of an offboarded (inactive) channel: not in the fleet's counts by default.
INACTIVE_KINDS = frozenset({"offboarded", "app_disconnected"})


@dataclass(frozen=True)
class Situated:
    """One seeded channel and the situation kind the API must report for it."""

    key: str
    kind: str
    channel_id: int
    account_id: int
    inbox_id: int
    phone_number_id: str
    waba_id: str
    verified_name: str

    @property
    def ref(self) -> str:
        """``data-channel`` of its fleet row and the ``?channel=`` value of its view."""
        return f"{self.account_id}-{self.inbox_id}"

    @property
    def path(self) -> str:
        return f"/whatsapp/api/v1/accounts/{self.account_id}/inboxes/{self.inbox_id}"


@dataclass(frozen=True)
class _Context:
    store: ChannelStore
    sim: SimulatorControl
    hook: WhatsAppGraphHook
    channel_id: int
    phone_number_id: str
    waba_id: str

    @property
    def token(self) -> str:
        return self.store.channels.credentials(self.channel_id).access_token

    def read_health(self) -> None:
        """What the fleet audit does: a live read, stored (a failed read is stored as a failure)."""
        now = datetime.now(UTC)
        try:
            result = HealthResult(
                self.channel_id, now, health=self.hook.get_phone_health(self.phone_number_id, self.token)
            )
        except GraphApiError as error:
            result = HealthResult(self.channel_id, now, error=error)
        self.store.health.record([result])

    def attempt(self, run_id: str) -> None:
        """One registration attempt as the register DAG makes it (a person's outcome is no error here)."""
        with contextlib.suppress(RegistrationFailed):
            attempt_registration(self.hook, self.store, self.channel_id, respect_backoff=False, run_id=run_id)

    def refuse_register(self, code: int, subcode: int | None = None, message: str | None = None) -> None:
        """Meta refuses every ``/register`` of this number with ``code``/``subcode`` (the fault stays)."""
        self.sim.add_fault(
            kind="graph_error",
            path="register",
            phone_number_id=self.phone_number_id,
            code=code,
            subcode=subcode,
            **({"details": message} if message else {}),
        )


def _nothing(ctx: _Context) -> None:
    """Saved by the signup, never read: ``not_checked``."""


def _read(ctx: _Context) -> None:
    ctx.read_health()


def _read_and_attempt(ctx: _Context) -> None:
    ctx.read_health()
    ctx.attempt(f"seed__{ctx.channel_id}")


def _refused(code: int, subcode: int | None = None) -> Callable[[_Context], None]:
    def step(ctx: _Context) -> None:
        ctx.refuse_register(code, subcode)
        _read_and_attempt(ctx)

    return step


def _refused_later(code: int, subcode: int | None = None) -> Callable[[_Context], None]:
    """Pending with an approved name (the audit read it so); Meta will refuse the next ``/register``."""

    def step(ctx: _Context) -> None:
        ctx.read_health()
        ctx.refuse_register(code, subcode)

    return step


def _back_in_review(ctx: _Context) -> None:
    """Pending with an approved name as last read; since then Meta has the name in review again."""
    ctx.read_health()
    ctx.sim.update_number(ctx.phone_number_id, **LONG_REVIEW)


def _pin_mismatch(ctx: _Context) -> None:
    """The number already has another two-step PIN than the one the store generated (133005)."""
    stored = ctx.store.channels.credentials(ctx.channel_id).pin
    ctx.sim.update_number(ctx.phone_number_id, pin="111111" if stored != "111111" else "222222")
    _read_and_attempt(ctx)


def _token_state(state: str) -> Callable[[_Context], None]:
    """The token stops working (expired: 190; partner access gone: a permission error)."""

    def step(ctx: _Context) -> None:
        ctx.read_health()
        ctx.sim.update_number(ctx.phone_number_id, token_state=state)
        ctx.read_health()
        ctx.attempt(f"seed__{ctx.channel_id}")

    return step


def _account_event(ctx: _Context) -> None:
    """Meta's ``account_update`` (a violation), signed by the simulator, stored by the receiver's code."""
    ctx.read_health()
    record = ctx.sim.account_update(ctx.waba_id, "ACCOUNT_VIOLATION", violation_type="SCAM")
    body = _notification_body(record)
    for change in parse_notification(body, datetime.now(UTC)):
        ctx.store.webhooks.record(change)


def _notification_body(record: dict[str, Any]) -> bytes:
    """The body the simulator signed and sent for its log ``record`` (Meta's envelope)."""
    entry = {
        "id": record["waba_id"],
        "time": int(record["decided_wall_time"]),
        "changes": [{"value": record["value"], "field": record["field"]}],
    }
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def _request_name_change(ctx: _Context, new_name: str) -> None:
    """What ``WhatsAppChangeDisplayNameOperator`` does: a counted call, then the stored request."""
    call = ctx.store.lifecycle_calls.begin(ctx.channel_id, NAME_CHANGE, detail=new_name, run_id="seed_rename")
    error: GraphApiError | None = None
    try:
        ctx.hook.request_display_name(ctx.phone_number_id, ctx.token, new_name)
    except GraphApiError as exc:
        error = exc
    ctx.store.lifecycle_calls.complete(call, error)
    if error is not None:
        raise error
    ctx.store.channels.apply(ctx.channel_id, NameChangeRequested(datetime.now(UTC)))


def _name_change(decision: str | None) -> Callable[[_Context], None]:
    """A live number asks for a new name; Meta decides (``None``: still in review); the audit reads it."""

    def step(ctx: _Context) -> None:
        ctx.read_health()
        _request_name_change(ctx, "Acme Renamed")
        if decision is not None:
            ctx.sim.update_number(ctx.phone_number_id, new_name_status=decision)
        ctx.read_health()

    return step


def _offboarded(ctx: _Context) -> None:
    """What the offboarding DAG does: deregister (a counted call), then deactivate the channel."""
    ctx.read_health()
    call = ctx.store.lifecycle_calls.begin(ctx.channel_id, DEREGISTER, run_id="seed_offboard")
    ctx.hook.deregister(ctx.phone_number_id, ctx.token)
    ctx.store.lifecycle_calls.complete(call, None)
    ctx.store.channels.offboard(ctx.channel_id)


def _check_failed(ctx: _Context) -> None:
    """The last audit read failed with server errors on every try (not a reauthorization case)."""
    ctx.read_health()
    # Every try of the read fails (the hook retries a 500 before it counts as a failed read).
    ctx.sim.add_fault(kind="http_500", method="GET", phone_number_id=ctx.phone_number_id, count=READ_ATTEMPTS)
    ctx.read_health()
    channel = ctx.store.channels.by_id(ctx.channel_id)
    assert channel is not None and channel.last_check_error is not None, "the failed read was not stored"


def _sync(ctx: _Context, sync: SyncType, *, answered: bool = True) -> None:
    """One sync request as the onboarding sends it, written ahead; ``answered=False``: the worker
    died before Meta's answer came, which leaves the sync "requested" and never sent again."""
    intent = ctx.store.business_app.begin_sync(ctx.channel_id, sync, run_id="seed_sync")
    if answered:
        ctx.store.business_app.complete_sync(intent, None)


def _app_contacts_unanswered(ctx: _Context) -> None:
    """Read; the contacts request's answer was lost, the history not requested yet; echoes arrive."""
    ctx.read_health()
    _sync(ctx, SyncType.CONTACTS, answered=False)
    with ctx.store.engine.begin() as conn:
        business_app.count_echoes(conn, ctx.channel_id, ECHOES)


def _app_history(*, declined: bool) -> Callable[[_Context], None]:
    """Read; both syncs accepted, the contacts arrived, then the history: declined, or a chunk."""

    def step(ctx: _Context) -> None:
        ctx.read_health()
        _sync(ctx, SyncType.CONTACTS)
        with ctx.store.engine.begin() as conn:
            business_app.contacts_seen(conn, ctx.channel_id)
        _sync(ctx, SyncType.HISTORY)
        progress = None if declined else HISTORY_PROGRESS
        with ctx.store.engine.begin() as conn:
            business_app.history_seen(conn, ctx.channel_id, progress=progress, declined=declined)

    return step


def _app_link(event: str, disconnection: Disconnection | None = None) -> Callable[[_Context], None]:
    """Read; then Meta's ``account_update`` about the app (a device change, a disconnection)."""

    def step(ctx: _Context) -> None:
        ctx.read_health()
        with ctx.store.engine.begin() as conn:
            business_app.link_event(conn, ctx.channel_id, event, disconnection, datetime.now(UTC))

    return step


@dataclass(frozen=True)
class Spec:
    key: str
    kind: str  # the situation kind the API must answer
    number: dict[str, Any]
    steps: Callable[[_Context], None]


#: One channel per situation kind (plus the ones the browser tests act on), in inbox order.
SPECS: tuple[Spec, ...] = (
    Spec("healthy", "healthy", {**LIVE, "verified_name": "Acme Healthy"}, _read),
    Spec("hostile", "healthy", {**LIVE, "verified_name": HOSTILE_NAME}, _read),
    Spec("not_checked", "not_checked", {**LIVE, "verified_name": "Acme Unchecked"}, _nothing),
    # Meta's quality rating, read from the simulator as the audit reads it.
    Spec("quality_red", "quality_low", {**LIVE, "verified_name": "Acme Red", "quality_rating": "RED"}, _read),
    Spec(
        "quality_yellow",
        "quality_medium",
        {**LIVE, "verified_name": "Acme Yellow", "quality_rating": "YELLOW"},
        _read,
    ),
    Spec(
        "name_in_review",
        "name_in_review",
        {**PENDING, **LONG_REVIEW, "verified_name": "Acme Review"},
        _read_and_attempt,
    ),
    Spec(
        "register_backoff",
        "register_backoff",
        {**PENDING, "verified_name": "Acme Backoff"},
        _refused(100, 2388001),
    ),
    Spec("blocked", "blocked", {**PENDING, "verified_name": "Acme Blocked"}, _refused(133016)),
    Spec("pin_mismatch", "pin_mismatch", {**PENDING, "verified_name": "Acme Pin"}, _pin_mismatch),
    Spec(
        "needs_reverification",
        "needs_reverification",
        {**PENDING, "verified_name": "Acme Reverify", "needs_reverification": True},
        _read_and_attempt,
    ),
    Spec(
        "name_declined",
        "name_declined",
        {**PENDING, "verified_name": "Acme Declined", "name_status": "DECLINED"},
        _read_and_attempt,
    ),
    Spec(
        "token_invalid", "token_invalid", {**LIVE, "verified_name": "Acme Expired"}, _token_state("expired")
    ),
    Spec(
        "permission_revoked",
        "permission_revoked",
        {**LIVE, "verified_name": "Acme Revoked"},
        _token_state("no_permission"),
    ),
    Spec("account_event", "account_event", {**LIVE, "verified_name": "Acme Violation"}, _account_event),
    Spec(
        "account_locked",
        "account_locked",
        {**PENDING, "verified_name": "Acme Locked", "locked": True},
        _read_and_attempt,
    ),
    Spec("registration_pending", "registration_pending", {**PENDING, "verified_name": "Acme Pending"}, _read),
    Spec(
        "name_change_in_review",
        "name_change_in_review",
        {**LIVE, "verified_name": "Acme Renaming"},
        _name_change(None),
    ),
    Spec(
        "name_change_due",
        "name_change_due",
        {**LIVE, "verified_name": "Acme Rename Due"},
        _name_change("APPROVED"),
    ),
    Spec(
        "name_change_lapsed",
        "name_change_lapsed",
        {**LIVE, "verified_name": "Acme Rename Lapsed"},
        _name_change("EXPIRED"),
    ),
    Spec(
        "name_change_declined",
        "name_change_declined",
        {**LIVE, "verified_name": "Acme Rename Declined"},
        _name_change("DECLINED"),
    ),
    Spec("offboarded", "offboarded", {**LIVE, "verified_name": "Acme Offboarded"}, _offboarded),
    Spec("graph_error", "graph_error", {**PENDING, "verified_name": "Acme Refused"}, _refused(131009)),
    Spec("check_failed", "check_failed", {**LIVE, "verified_name": "Acme Unreachable"}, _check_failed),
    Spec(
        "app_sync_due",
        "history_sync_due",
        {**ON_APP, "verified_name": "Acme App Sync Due"},
        _app_contacts_unanswered,
    ),
    # Saved by the signup, never read: a number that is not on the app would offer *Complete
    # registration now* here (``not_checked`` does).
    Spec("app_not_read", "history_sync_due", {**ON_APP, "verified_name": "Acme App Unread"}, _nothing),
    Spec(
        "app_history_arriving",
        "healthy",
        {**ON_APP, "verified_name": "Acme App History"},
        _app_history(declined=False),
    ),
    Spec(
        "history_not_shared",
        "history_not_shared",
        {**ON_APP, "verified_name": "Acme App Private"},
        _app_history(declined=True),
    ),
    Spec(
        "app_reconnecting",
        "app_reconnecting",
        {**ON_APP, "verified_name": "Acme App New Phone"},
        _app_link("ACCOUNT_OFFBOARDED"),
    ),
    Spec(
        "app_disconnected",
        "app_disconnected",
        {**ON_APP, "verified_name": "Acme App Gone"},
        _app_link("PARTNER_REMOVED", Disconnection("ACCOUNT_DISCONNECTED", "USER")),
    ),
    # Acted on by *Complete registration* (kept apart so the banner screenshots stay as seeded): all
    # three look pending as last read; the run finds Meta accepting, refusing (2388001) or the name
    # back in review (no call).
    Spec("register_ok", "registration_pending", {**PENDING, "verified_name": "Acme Register Me"}, _read),
    Spec(
        "register_refused",
        "registration_pending",
        {**PENDING, "verified_name": "Acme Refused Later"},
        _refused_later(100, 2388001),
    ),
    Spec(
        "register_no_call",
        "registration_pending",
        {**PENDING, "verified_name": "Acme Back In Review"},
        _back_in_review,
    ),
)

#: The problem kinds (docs/states-and-situations.md), each with its own banner and screenshot.
PROBLEM_KINDS: tuple[str, ...] = (
    "name_in_review",
    "register_backoff",
    "blocked",
    "pin_mismatch",
    "needs_reverification",
    "name_declined",
    "token_invalid",
    "permission_revoked",
    "account_event",
    "name_change_due",
    "offboarded",
)


def _save(store: ChannelStore, sim: SimulatorControl, spec: Spec) -> tuple[dict[str, Any], int]:
    number = sim.add_number(**spec.number)
    channel = store.channels.upsert(
        account_id=ACCOUNT_ID,
        phone_number_id=number["phone_number_id"],
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token=sim.new_token(number["waba_id"]),
        display_phone_number=number["display_phone_number"],
        verified_name=spec.number["verified_name"],
        on_business_app=bool(spec.number.get("is_on_biz_app")),
    )
    return number, channel.id


def seed_situations(
    store: ChannelStore, sim: SimulatorControl, hook: WhatsAppGraphHook, *, fillers: int = HEALTHY_FILLERS
) -> dict[str, Situated]:
    """Every channel of :data:`SPECS` moved into its situation, then ``fillers`` healthy ones."""
    seeded: dict[str, Situated] = {}
    for spec in SPECS:
        number, channel_id = _save(store, sim, spec)
        spec.steps(_Context(store, sim, hook, channel_id, number["phone_number_id"], number["waba_id"]))
        channel = store.channels.by_id(channel_id)
        assert channel is not None
        seeded[spec.key] = Situated(
            spec.key,
            spec.kind,
            channel.id,
            channel.account_id,
            channel.inbox_id,
            channel.phone_number_id,
            channel.waba_id,
            spec.number["verified_name"],
        )
    for n in range(fillers):
        number, channel_id = _save(
            store,
            sim,
            Spec(f"filler{n}", "healthy", {**LIVE, "verified_name": f"Acme Filler {n:02d}"}, _read),
        )
        _read(_Context(store, sim, hook, channel_id, number["phone_number_id"], number["waba_id"]))
    return seeded


def seed_one(store: ChannelStore, sim: SimulatorControl, hook: WhatsAppGraphHook, spec: Spec) -> Situated:
    """One more channel moved into its situation as :func:`seed_situations` moves each (a test's own;
    the test removes it afterwards)."""
    number, channel_id = _save(store, sim, spec)
    spec.steps(_Context(store, sim, hook, channel_id, number["phone_number_id"], number["waba_id"]))
    channel = store.channels.by_id(channel_id)
    assert channel is not None
    return Situated(
        spec.key,
        spec.kind,
        channel.id,
        channel.account_id,
        channel.inbox_id,
        channel.phone_number_id,
        channel.waba_id,
        spec.number["verified_name"],
    )


def read_and_attempt(ctx: _Context) -> None:
    """A step: the audit's read, then one registration attempt."""
    _read_and_attempt(ctx)


def refused_then_attempted(code: int, subcode: int | None = None) -> Callable[[_Context], None]:
    """A step: Meta refuses every ``/register`` with ``code``/``subcode``; read, then one attempt."""
    return _refused(code, subcode)


def read(ctx: _Context) -> None:
    """A step: the audit's read."""
    _read(ctx)
