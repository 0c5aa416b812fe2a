"""The control API under ``/_sim``: set up numbers, move the clock, inject faults, read the log.

Tests, the demo and the benchmark drive the simulator only through these routes
(documented in README.md); none of them is part of Meta's surface.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from include.graph_simulator import business_app
from include.graph_simulator.faults import FAULT_KINDS
from include.graph_simulator.numbers import SpecError, create_number, number_view, update_number
from include.graph_simulator.state import TOKEN_STATES, Number, SimState, iso

if TYPE_CHECKING:
    from include.graph_simulator.app import Simulator

router = APIRouter(prefix="/_sim")
DigitString = Field(default=None, pattern=r"^\d+$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_phone_number: str | None = None
    verified_name: str | None = None
    name_status: str | None = None
    new_name_status: str | None = None
    review_seconds: float | None = Field(default=None, ge=0)
    review_outcome: str | None = None
    code_verification_status: str | None = None
    platform_type: str | None = None
    throughput_level: str | None = None
    messaging_limit_tier: str | None = None
    quality_rating: str | None = None
    status: str | None = None
    account_mode: str | None = None
    is_official_business_account: bool | None = None
    scope: str | None = None
    subscribed: bool | None = None
    pin: str | None = Field(default=None, pattern=r"^\d{6}$")
    locked: bool | None = None
    needs_reverification: bool | None = None
    #: A WhatsApp Business app number onboarded to Cloud API ("coexistence"), and whether its
    #: business shares its chat history (``False``: the history sync answers error 2593109).
    is_on_biz_app: bool | None = None
    history_shared: bool | None = None


class NumberSpec(_Spec):
    business_id: str | None = DigitString
    waba_id: str | None = DigitString
    phone_number_id: str | None = DigitString


class NumberUpdate(_Spec):
    token_state: Literal[TOKEN_STATES] | None = None  # type: ignore[valid-type]
    clear_register_attempts: bool = False


class BulkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int | None = Field(default=None, ge=1, le=1_000_000)
    template: NumberSpec = Field(default_factory=NumberSpec)
    numbers: list[NumberSpec] | None = None
    numbers_per_waba: int = Field(default=1, ge=1)
    codes: bool = False


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal[FAULT_KINDS]  # type: ignore[valid-type]
    path: str | None = None
    method: str | None = None
    phone_number_id: str | None = None
    share: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=1)
    seed: int = 0
    latency_ms: float = Field(default=1000.0, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    code: int = Field(default=80007, ge=0)
    regain_minutes: int = Field(default=5, ge=1)
    subcode: int | None = Field(default=None, ge=0)
    http_status: int = Field(default=400, ge=400, le=599)
    details: str | None = None

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @model_validator(mode="after")
    def _throttle_codes(self) -> FaultSpec:
        if self.kind == "throttle" and self.code not in (4, 80007):
            raise ValueError("a throttle fault answers code 4 or 80007")
        return self


class ConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: float | None = Field(default=None, ge=0)
    page_size: int | None = Field(default=None, ge=1, le=100)
    waba_hourly_budget: int | None = Field(default=None, ge=1)
    app_hourly_budget: int | None = Field(default=None, ge=1)
    timeout_fault_seconds: float | None = Field(default=None, gt=0)
    clock_speed: float | None = Field(default=None, ge=0)
    require_appsecret_proof: bool | None = None
    webhook_url: str | None = None
    webhook_delay_ms: float | None = Field(default=None, ge=0)
    webhook_copies: int | None = Field(default=None, ge=1, le=10)
    webhook_drop: float | None = Field(default=None, ge=0.0, le=1.0)


class AccountUpdateSpec(BaseModel):
    """An ``account_update`` as Meta sends it (``violation_info`` / ``ban_info`` when given)."""

    model_config = ConfigDict(extra="forbid")

    waba_id: str = Field(pattern=r"^\d+$")
    event: str = Field(min_length=1)
    violation_type: str | None = None
    waba_ban_state: str | None = None
    waba_ban_date: str | None = None


class AppDisconnect(BaseModel):
    """The business disconnects its number in the WhatsApp Business app (``PARTNER_REMOVED``)."""

    model_config = ConfigDict(extra="forbid")

    reason: Literal[business_app.DISCONNECTION_REASONS] = "ACCOUNT_DISCONNECTED"  # type: ignore[valid-type]
    initiated_by: Literal[business_app.DISCONNECTION_INITIATORS] = "USER"  # type: ignore[valid-type]


class AppDeviceChange(BaseModel):
    """A device change offboards the Cloud API companion; the new registration reconnects it."""

    model_config = ConfigDict(extra="forbid")

    phase: Literal["offboarded", "reconnected"]


class AppEcho(BaseModel):
    """A text the business sends from the WhatsApp Business app (``smb_message_echoes``)."""

    model_config = ConfigDict(extra="forbid")

    to: str | None = Field(default=None, pattern=r"^\d+$")
    text: str = Field(default="Sent from the WhatsApp Business app", min_length=1)


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advance_seconds: float = Field(default=0.0, ge=0)
    speed: float | None = Field(default=None, ge=0)


class WabaRef(BaseModel):
    waba_id: str = Field(pattern=r"^\d+$")


def _sim(request: Request) -> Simulator:
    sim: Simulator = request.app.state.sim
    sim.stats.control_requests += 1
    return sim


def _number(state: SimState, phone_number_id: str) -> Number:
    number = state.numbers.get(phone_number_id)
    if number is None:
        raise HTTPException(404, f"no phone number {phone_number_id}")
    return number


def _created(state: SimState, number: Number, *, code: bool) -> dict[str, Any]:
    waba = state.wabas[number.waba_id]
    created = {
        "business_id": waba.business_id,
        "waba_id": waba.waba_id,
        "phone_number_id": number.phone_number_id,
        "display_phone_number": number.display_phone_number,
    }
    if code:
        created["code"] = state.issue_code(waba.waba_id)
    return created


def apply_bulk(state: SimState, body: dict[str, Any] | list[Any]) -> dict[str, Any]:
    """Create many numbers at once (also the ``--seed`` file format); one token per WABA."""
    spec = BulkSpec(numbers=body) if isinstance(body, list) else BulkSpec.model_validate(body)
    if spec.numbers is not None:
        specs = [s.model_dump(exclude_none=True) for s in spec.numbers]
    else:
        template = spec.template.model_dump(exclude_none=True)
        specs = [dict(template) for _ in range(spec.count or 0)]
        if "waba_id" not in template and spec.numbers_per_waba > 1:
            for start in range(0, len(specs), spec.numbers_per_waba):
                waba_id = state.next_id("1")
                for item in specs[start : start + spec.numbers_per_waba]:
                    item["waba_id"] = waba_id
    created = []
    tokens: dict[str, str] = {}
    try:
        for item in specs:
            number = create_number(state, item)
            created.append(_created(state, number, code=spec.codes))
            if number.waba_id not in tokens:
                tokens[number.waba_id] = state.issue_token(number.waba_id).value
    except SpecError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return {"numbers": created, "tokens": tokens}


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    sim = _sim(request)
    sim.reset()
    return {"reset": True, "now": iso(sim.state.clock.now())}


@router.post("/numbers")
async def add_number(request: Request, spec: NumberSpec | None = None) -> dict[str, Any]:
    state = _sim(request).state
    try:
        number = create_number(state, (spec or NumberSpec()).model_dump(exclude_none=True))
    except SpecError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return _created(state, number, code=True)


@router.post("/numbers/bulk")
async def add_numbers(request: Request, body: dict[str, Any] | list[Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    return apply_bulk(_sim(request).state, body)


@router.get("/numbers/{phone_number_id}")
async def get_number(request: Request, phone_number_id: str) -> dict[str, Any]:
    state = _sim(request).state
    return number_view(state, _number(state, phone_number_id))


@router.post("/numbers/{phone_number_id}")
async def change_number(request: Request, phone_number_id: str, changes: NumberUpdate) -> dict[str, Any]:
    state = _sim(request).state
    number = _number(state, phone_number_id)
    update_number(state, number, changes.model_dump(exclude_unset=True, exclude_none=True))
    return number_view(state, number)


def _business_app_event(
    request: Request, phone_number_id: str, event: Callable[[SimState, Number], None]
) -> dict[str, Any]:
    """Apply an event of a WhatsApp Business app number and send its webhook: its log entry."""
    sim = _sim(request)
    number = _number(sim.state, phone_number_id)
    try:
        event(sim.state, number)
    except business_app.BusinessAppError as exc:
        raise HTTPException(409, str(exc)) from None
    [record] = sim.webhooks.flush()
    return record


@router.post("/numbers/{phone_number_id}/app_disconnect")
async def app_disconnect(
    request: Request, phone_number_id: str, body: AppDisconnect | None = None
) -> dict[str, Any]:
    spec = body or AppDisconnect()
    return _business_app_event(
        request, phone_number_id, lambda s, n: business_app.disconnect(s, n, spec.reason, spec.initiated_by)
    )


@router.post("/numbers/{phone_number_id}/app_device_change")
async def app_device_change(request: Request, phone_number_id: str, body: AppDeviceChange) -> dict[str, Any]:
    return _business_app_event(
        request, phone_number_id, lambda s, n: business_app.device_change(s, n, body.phase)
    )


@router.post("/numbers/{phone_number_id}/echo")
async def app_echo(request: Request, phone_number_id: str, body: AppEcho | None = None) -> dict[str, Any]:
    spec = body or AppEcho()
    return _business_app_event(
        request, phone_number_id, lambda s, n: business_app.echo(s, n, spec.to, spec.text)
    )


@router.post("/codes")
async def new_code(request: Request, ref: WabaRef) -> dict[str, Any]:
    state = _sim(request).state
    if ref.waba_id not in state.wabas:
        raise HTTPException(404, f"no WABA {ref.waba_id}")
    return {"waba_id": ref.waba_id, "code": state.issue_code(ref.waba_id)}


@router.post("/tokens")
async def new_token(request: Request, ref: WabaRef) -> dict[str, Any]:
    state = _sim(request).state
    if ref.waba_id not in state.wabas:
        raise HTTPException(404, f"no WABA {ref.waba_id}")
    return {"waba_id": ref.waba_id, "access_token": state.issue_token(ref.waba_id).value}


def _clock_view(sim: Simulator) -> dict[str, Any]:
    now = sim.state.clock.now()
    return {"now": iso(now), "epoch": now, "speed": sim.state.clock.speed}


@router.get("/clock")
async def get_clock(request: Request) -> dict[str, Any]:
    return _clock_view(_sim(request))


@router.post("/clock")
async def move_clock(request: Request, move: ClockAdvance) -> dict[str, Any]:
    sim = _sim(request)
    sim.state.clock.advance(move.advance_seconds)
    if move.speed is not None:
        sim.state.clock.set_speed(move.speed)
    return _clock_view(sim)


@router.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    return _sim(request).state.config.as_dict()


@router.post("/config")
async def change_config(request: Request, update: ConfigUpdate) -> dict[str, Any]:
    sim = _sim(request)
    changes = update.model_dump(exclude_none=True)
    for key, value in changes.items():
        setattr(sim.state.config, key, value)
    if "clock_speed" in changes:
        sim.state.clock.set_speed(changes["clock_speed"])
    return sim.state.config.as_dict()


@router.get("/webhooks")
async def webhooks(request: Request) -> list[dict[str, Any]]:
    """Every notification decided since the reset: what, when, and each delivery's answer."""
    return list(_sim(request).webhooks.log)


@router.post("/webhooks/account_update")
async def account_update(request: Request, spec: AccountUpdateSpec) -> dict[str, Any]:
    sim = _sim(request)
    if spec.waba_id not in sim.state.wabas:
        raise HTTPException(404, f"no WABA {spec.waba_id}")
    value: dict[str, Any] = {"event": spec.event}
    if spec.violation_type:
        value["violation_info"] = {"violation_type": spec.violation_type}
    if spec.waba_ban_state:
        value["ban_info"] = {"waba_ban_state": spec.waba_ban_state, "waba_ban_date": spec.waba_ban_date or ""}
    return sim.webhooks.emit("account_update", spec.waba_id, value)


@router.post("/faults")
async def add_fault(request: Request, spec: FaultSpec) -> dict[str, Any]:
    return _sim(request).faults.add(**spec.model_dump()).as_dict()


@router.get("/faults")
async def list_faults(request: Request) -> list[dict[str, Any]]:
    return [fault.as_dict() for fault in _sim(request).faults.faults]


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    _sim(request).faults.clear()
    return {"faults": 0}


@router.get("/calls")
async def calls(request: Request, path: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The request log, oldest first; ``path`` is a regex on the path or a batch sub-request's."""
    sim = _sim(request)
    entries: list[dict[str, Any]] = list(sim.calls)
    if path:
        pattern = re.compile(path)
        entries = [
            e
            for e in entries
            if pattern.search(e["path"]) or any(pattern.search(s["path"]) for s in e.get("batch", ()))
        ]
    return entries[-limit:] if limit else entries


@router.delete("/calls")
async def clear_calls(request: Request) -> dict[str, Any]:
    _sim(request).calls.clear()
    return {"calls": 0}


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    sim = _sim(request)
    return {
        "http_requests": sim.stats.http_requests,
        "sub_requests": sim.stats.sub_requests,
        "control_requests": sim.stats.control_requests,
        "http_versions": dict(sim.stats.http_versions),
        "connections": len(sim.stats.peers),
        "numbers": len(sim.state.numbers),
        "wabas": len(sim.state.wabas),
        "tokens": len(sim.state.tokens),
        "calls_logged": len(sim.calls),
    }
