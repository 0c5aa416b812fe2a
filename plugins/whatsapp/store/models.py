"""What the store hands out: immutable views without secrets, and the one object that holds them.

Secrets leave the store only inside :class:`Credentials` and :class:`StoredSignup`, whose
``repr``/``str`` hide them, so a stray log line or f-string prints ``***`` rather than a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from whatsapp.domain.business_app import AppLink, Syncs, SyncState
from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.registration import Attention, NameChange, ReauthorizationReason, RegistrationState
from whatsapp.domain.registration_machine import Registration
from whatsapp.domain.situations import AccountEventSeen, SituationFacts
from whatsapp.errors import GraphApiError


@dataclass(frozen=True, slots=True)
class CheckError:
    """Why a health fetch or a register call failed, as stored (Graph's message carries no secret)."""

    kind: str
    code: int | None
    subcode: int | None
    message: str | None

    @classmethod
    def from_graph(cls, error: GraphApiError) -> CheckError:
        return cls(error.kind.value, error.code, error.subcode, error.message)


@dataclass(frozen=True, slots=True)
class Channel:
    """One channel as stored, minus its secrets."""

    id: int
    account_id: int
    inbox_id: int
    phone_number_id: str
    waba_id: str
    business_id: str
    display_phone_number: str | None
    verified_name: str | None
    source: str
    active: bool
    health: PhoneHealth | None
    checked_at: datetime | None
    provisioning: str | None
    last_check_error: CheckError | None
    last_check_failed_at: datetime | None
    reauthorization_required: bool
    reauthorization_reason: ReauthorizationReason | None
    registration_state: RegistrationState
    next_attempt_at: datetime | None
    failures_in_a_row: int
    created_at: datetime
    updated_at: datetime
    name_change: NameChange | None = None
    name_change_deadline: datetime | None = None
    offboarded_at: datetime | None = None
    attention: Attention | None = None
    name_decided_at: datetime | None = None
    #: Meta lowered the messaging limit and has not raised it since (``Registration.limit_lowered``).
    limit_lowered: bool = False
    #: A WhatsApp Business app number's link and syncs (``None`` for other numbers).
    business_app: AppLink | None = None
    contacts_sync: SyncState | None = None
    history_sync: SyncState | None = None
    sync_deadline: datetime | None = None
    history_sync_progress: int | None = None
    message_echoes: int = 0
    #: Why Meta offboarded it and who did (``PARTNER_REMOVED``'s ``disconnection_info``).
    offboard_reason: str | None = None
    offboarded_by: str | None = None

    @property
    def syncs(self) -> Syncs:
        return Syncs(self.contacts_sync, self.history_sync, self.sync_deadline)

    @property
    def registration(self) -> Registration:
        """The registration machine's view of this channel (what
        :func:`~whatsapp.domain.registration_machine.transition` moves)."""
        return Registration(
            self.registration_state,
            self.reauthorization_reason,
            self.next_attempt_at,
            self.failures_in_a_row,
            self.name_change,
            self.name_change_deadline,
            self.attention,
            self.name_decided_at,
            self.limit_lowered,
        )


@dataclass(frozen=True, slots=True)
class RegistrationAttempt:
    """One register call that was sent, and what it led to."""

    channel_id: int
    attempted_at: datetime
    outcome: str
    resulting_state: str
    code: int | None
    subcode: int | None
    message: str | None
    run_id: str | None

    @property
    def error(self) -> CheckError | None:
        if self.outcome == ATTEMPT_SUCCESS:
            return None
        return CheckError(self.outcome, self.code, self.subcode, self.message)


#: ``RegistrationAttempt.outcome`` of a register call Meta accepted; failures store the error kind.
ATTEMPT_SUCCESS = "success"
#: The write-ahead intent, committed before the call leaves; completed with the answer after.
ATTEMPT_SENT = "sent"
#: A call whose answer never came (timeout, lost connection, dead worker): it counts as sent.
ATTEMPT_NO_ANSWER = "no_answer"


def answer_outcome(error: GraphApiError | None) -> str:
    """The ``outcome`` a write-ahead call row keeps once answered: success, the error's kind, or
    :data:`ATTEMPT_NO_ANSWER` when no answer came (timeout, connection lost, worker killed)."""
    if error is None:
        return ATTEMPT_SUCCESS
    if not error.answered:
        return ATTEMPT_NO_ANSWER
    return error.kind.value


@dataclass(frozen=True, slots=True)
class RegistrationSummary:
    """The ``registration`` object of the health API: state plus the register window's use."""

    state: RegistrationState
    attempts_72h: int
    last_attempt_at: datetime | None
    last_error: CheckError | None
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """A channel with its registration summary and situation facts: what the API, CLI and UI show."""

    channel: Channel
    registration: RegistrationSummary
    facts: SituationFacts
    #: The WABA's newest ``account_update``, read only for channels in the ``account_event`` situation.
    account_event: AccountEventSeen | None = None


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One row of a channel's append-only health history."""

    channel_id: int
    checked_at: datetime
    fields: dict[str, str | None]
    provisioning: str | None
    error: CheckError | None
    #: What Meta pushed (a webhook), or ``None`` for a Graph read.
    event: str | None = None
    #: The Airflow run that read it, when a run did.
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class HealthResult:
    """Input of :meth:`HealthRepository.record`: a fetched snapshot, or the error that replaced it."""

    channel_id: int
    checked_at: datetime
    health: PhoneHealth | None = None
    error: GraphApiError | CheckError | None = None
    #: Read right after a successful register: Meta may still lag ("verify again soon").
    just_registered: bool = False
    #: ``health.raw`` as the JSON text Graph sent, when the caller has it (the fleet audit):
    #: stored as it is instead of encoding the node again (a third of a page write's CPU).
    raw_json: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.health is None) == (self.error is None):
            raise ValueError("a health result carries exactly one of health or error")


@dataclass(frozen=True, slots=True)
class HealthWriteResult:
    """What a bulk health write did: snapshots stored, snapshots older than the stored one, failures.

    ``stale_channel_ids`` name the refused snapshots, so callers never report a change that a
    newer stored check already superseded.
    """

    applied: int
    stale: int
    failed: int
    stale_channel_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class AuditTarget:
    """One channel to audit, with the token its health fetch needs and its last risky fields."""

    id: int
    phone_number_id: str
    waba_id: str
    business_id: str
    access_token: str = field(repr=False)
    #: The stored values of the watched health fields, what ``risky_transitions`` compares with.
    watched: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DueChannel:
    """A channel as mapped tasks name it (ids only): a registration retry the fleet DAG found due,
    or one channel of a person's selection (``whatsapp_fleet_action``)."""

    id: int
    account_id: int
    inbox_id: int
    phone_number_id: str
    display_phone_number: str | None


@dataclass(frozen=True, slots=True)
class Credentials:
    """The channel's secrets in plaintext; printing this object shows none of them."""

    channel_id: int
    phone_number_id: str
    access_token: str = field(repr=False)
    pin: str = field(repr=False)
    verify_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class StoredSignup:
    """The remembered result of exchanging one Embedded Signup code (keyed by the code's digest)."""

    code_digest: str
    account_id: int
    waba_id: str
    business_id: str
    phone_number_id: str | None
    created_at: datetime
    access_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class FleetSummary:
    created_at: datetime
    counts: dict[str, Any]
