"""A person's action on many channels at once (the health page's selection): refresh or register.

``whatsapp_fleet_action`` runs one of these per chunk of the selection, as mapped tasks. Each
goes the way the single action goes, so a number gets the same treatment chosen alone or among
10,000:

* *Refresh from Meta*: the health read and store write of the fleet audit
  (:func:`whatsapp.fleet_audit.run_audit` on the chunk's channels: Graph batches of up to 50
  numbers, the store's newer-wins write, a failed read stored as such), which is what the single
  refresh (``GET .../health?refresh=true``) does one number at a time.
* *Complete registration*: :func:`whatsapp.register_channel.manual_register_refusal` first (a
  provisioned, WhatsApp Business app or blocked number is skipped with the reason), then
  :func:`whatsapp.register_channel.attempt_registration` as the register DAG calls it (live
  health under the channel's claim, never beyond the register budget).

Each channel's outcome is small and secret-free (ids, the number, a sentence, its situation
after the action): what the task returns to XCom and the page shows per number. Airflow-free.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from whatsapp.defaults import REGISTER_THREADS
from whatsapp.domain.fleet_action import FleetAction, OutcomeKind
from whatsapp.errors import GraphApiError
from whatsapp.register_channel import (
    AWAITING_ANSWER,
    RegistrationFailed,
    attempt_registration,
    manual_register_refusal,
)
from whatsapp.store.views import channel_situation

if TYPE_CHECKING:
    from whatsapp.hooks.graph import WhatsAppGraphHook
    from whatsapp.store import ChannelStore, DueChannel

log = logging.getLogger(__name__)


#: The health fields a refresh's outcome names (what a person most often refreshes for).
_SHOWN_FIELDS = ("status", "quality_rating")


@dataclass(frozen=True, slots=True)
class ChannelOutcome:
    """What the action did to one number, and where the number stands now."""

    channel_id: int
    account_id: int
    inbox_id: int
    display_phone_number: str
    outcome: OutcomeKind
    message: str
    #: The channel's situation after the action (``whatsapp.domain.situations``), if still stored.
    situation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.outcome.value}


def refresh_channels(
    hook: WhatsAppGraphHook,
    store: ChannelStore,
    refs: Sequence[DueChannel],
    *,
    now: datetime,
    run_id: str | None,
) -> list[ChannelOutcome]:
    """Read the chunk's numbers from Graph (in batches) and store the snapshots, as the audit does."""
    from whatsapp.fleet_audit import run_audit

    report = run_audit(hook, store, now=now, channel_ids=[ref.id for ref in refs], run_id=run_id, log=log)
    log.info("Refreshed %d channel(s): %s", len(refs), report.to_dict())
    outcomes = []
    for ref, status in _with_status(store, refs):
        if status is None:
            outcomes.append(_outcome(ref, OutcomeKind.SKIPPED, "no longer in the store"))
            continue
        channel = status.channel
        situation = channel_situation(status).kind.value
        if not channel.active:
            kind, text = OutcomeKind.SKIPPED, "offboarded: not read"
        elif channel.last_check_failed_at is not None and channel.last_check_failed_at >= now:
            error = channel.last_check_error
            kind, text = (
                OutcomeKind.FAILED,
                f"Meta refused the read: {error.message if error else 'unknown error'}",
            )
        elif channel.checked_at is not None and channel.checked_at >= now:
            health = channel.health
            facts = ", ".join(
                f"{name} {health.get(name)}"
                for name in ("status", "quality_rating")
                if health and health.get(name)
            )
            kind, text = OutcomeKind.DONE, f"read from Meta{': ' + facts if facts else ''}"
        else:
            kind, text = OutcomeKind.SKIPPED, "not read: Meta throttled this account; the next audit reads it"
        outcomes.append(_outcome(ref, kind, text, situation))
    return outcomes


def register_channels(
    hook: WhatsAppGraphHook,
    store: ChannelStore,
    refs: Sequence[DueChannel],
    *,
    now: datetime,
    run_id: str | None,
    threads: int = REGISTER_THREADS,
) -> list[ChannelOutcome]:
    """*Complete registration* for each number of the chunk, as a person's click on it would."""

    def one(ref: DueChannel) -> tuple[OutcomeKind, str]:
        channel = store.channels.by_id(ref.id)
        if channel is None:
            return OutcomeKind.SKIPPED, "no longer in the store"
        if not channel.active:
            return OutcomeKind.SKIPPED, "offboarded: no register call"
        refusal = manual_register_refusal(channel, now)
        if refusal is not None:
            return OutcomeKind.SKIPPED, refusal
        try:
            report = attempt_registration(hook, store, ref.id, respect_backoff=False, run_id=run_id)
        except RegistrationFailed as failure:
            return OutcomeKind.FAILED, failure.report.message
        except GraphApiError as error:  # transient (throttled, 5xx): nothing more was spent
            return OutcomeKind.FAILED, f"Graph failed, try again later: {error}"
        if report.action in ("skipped", AWAITING_ANSWER):
            return OutcomeKind.SKIPPED, report.message
        return OutcomeKind.DONE, report.message

    if not refs:
        return []
    with ThreadPoolExecutor(min(threads, len(refs))) as pool:
        results = list(pool.map(one, refs))
    situations = {ref.id: status for ref, status in _with_status(store, refs)}
    outcomes = []
    for ref, (kind, text) in zip(refs, results, strict=True):
        status = situations.get(ref.id)
        situation = channel_situation(status).kind.value if status is not None else None
        log.info("Registration of %s: %s: %s", _number(ref), kind.value, text)
        outcomes.append(_outcome(ref, kind, text, situation))
    return outcomes


def run_action(
    action: FleetAction,
    hook: WhatsAppGraphHook,
    store: ChannelStore,
    refs: Sequence[DueChannel],
    *,
    now: datetime,
    run_id: str | None,
) -> list[ChannelOutcome]:
    act = refresh_channels if action is FleetAction.REFRESH else register_channels
    return act(hook, store, refs, now=now, run_id=run_id)


def tally(outcomes: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many numbers ended each way (every kind, zero included)."""
    return {kind.value: sum(1 for o in outcomes if o.get("outcome") == kind.value) for kind in OutcomeKind}


def _with_status(store: ChannelStore, refs: Sequence[DueChannel]) -> list[tuple[DueChannel, Any]]:
    statuses = {status.channel.id: status for status in store.fleet.statuses_of([ref.id for ref in refs])}
    return [(ref, statuses.get(ref.id)) for ref in refs]


def _number(ref: DueChannel) -> str:
    return ref.display_phone_number or ref.phone_number_id


def _outcome(
    ref: DueChannel, kind: OutcomeKind, message: str, situation: str | None = None
) -> ChannelOutcome:
    return ChannelOutcome(ref.id, ref.account_id, ref.inbox_id, _number(ref), kind, message, situation)
