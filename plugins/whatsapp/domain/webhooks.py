"""Meta's webhook notifications as Meta documents them: verification, signature, the fields we act on.

Pure code (no Airflow, no HTTP): the receiver route (``whatsapp.api.routes.webhooks``) hands it
the raw body and headers, the simulator builds the same shapes.

The envelope (every WhatsApp Business Account webhook)::

    {"object": "whatsapp_business_account",
     "entry": [{"id": "<WABA_ID>", "time": <unix seconds>,
                "changes": [{"field": "<FIELD>", "value": {...}}]}]}

The fields read here, each as its reference page shows it:

* ``phone_number_name_update`` — ``value``: ``display_phone_number``, ``decision`` (``APPROVED``,
  ``DEFERRED``, ``PENDING``, ``REJECTED``), ``requested_verified_name``, ``rejection_reason``
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/phone_number_name_update).
  Fired when a new number's display name is reviewed, and when an approved name is edited and reviewed.
* ``phone_number_quality_update`` — ``value``: ``display_phone_number``, ``event`` (``FLAGGED``,
  ``UNFLAGGED``, ``UPGRADE``, ``DOWNGRADE``, ``ONBOARDING``, ``THROUGHPUT_UPGRADE``), ``old_limit`` (limit
  changes only), ``current_limit`` (being replaced by ``max_daily_conversations_per_business``)
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/phone_number_quality_update).
  Meta sends no ``quality_rating`` in it: a number is ``FLAGGED`` when its quality rating reaches
  Low (red), ``UNFLAGGED`` when it recovers; a medium (yellow) rating is only seen by the audit.
* ``account_update`` — ``value``: ``event`` (``ACCOUNT_VIOLATION``, ``DISABLED_UPDATE``,
  ``ACCOUNT_RESTRICTION``, ``ACCOUNT_DELETED``, ``PARTNER_REMOVED``, ``PARTNER_APP_UNINSTALLED``, …),
  ``violation_info.violation_type``, ``ban_info.waba_ban_state`` (``DISABLE``, ``REINSTATE``,
  ``SCHEDULE_FOR_DISABLE``), ``ban_info.waba_ban_date``
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update).

  For a WhatsApp Business app number the reference adds ``disconnection_info`` (``reason``,
  ``initiated_by``) to ``PARTNER_REMOVED`` ("only included for PARTNER_REMOVED events where the
  business was using both the WhatsApp Business app and Cloud API"), and ``ACCOUNT_OFFBOARDED`` /
  ``ACCOUNT_RECONNECTED`` (a device change or re-registration of the app, carrying only
  ``event``:
  https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/reconnect-offboarded-coexistence-clients).
  Meta's "Onboard WhatsApp Business app users" page
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users,
  "Offboarding business customers") shows the disconnection payload with the number's
  ``phone_number`` too; it is optional here (the reference does not list it).

The three fields of WhatsApp Business app numbers (:mod:`whatsapp.domain.business_app`), each with
``messaging_product`` and ``metadata`` (``display_phone_number``, ``phone_number_id``):

* ``history`` — ``value.history``: chunks, each ``metadata`` (``phase`` 0 to 2, ``chunk_order``,
  ``progress``: 100 when the whole history was sent) and ``threads`` (``id``, ``messages``), or,
  when the business declined to share its history, ``errors`` with code 2593109
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/history).
  Chunks "may not be delivered sequentially": the highest progress wins.
* ``smb_app_state_sync`` — ``value.state_sync``: items of ``type`` ``contact`` with ``contact``
  (``full_name``, ``first_name``, ``phone_number``), ``action`` and ``metadata.timestamp``
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/smb_app_state_sync).
  Sent for the sync, then whenever the business adds, edits or removes a contact in the app.
* ``smb_message_echoes`` — ``value.message_echoes``: messages the business sent from the app
  (``from``, ``to``, ``id``, ``timestamp``, ``type`` and the content under the type's name)
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/smb_message_echoes).

These three carry messages and contacts, which belong to the partner's inbox, not to fleet
health: only their counts, progress and errors are kept (:func:`kept_value`), never a message,
a contact's name or a contact's number.

The two phone-number fields name the number by its display phone number, not its id: the
receiver finds the channel by WABA (``entry.id``) and the number's digits. The three fields of
WhatsApp Business app numbers carry ``metadata.phone_number_id`` as well: the channel is found by
it, by the digits of ``metadata.display_phone_number`` when no channel has that id.

Verification and signature (https://developers.facebook.com/docs/graph-api/webhooks/getting-started):
Meta's ``GET`` carries ``hub.mode=subscribe``, ``hub.verify_token`` and ``hub.challenge`` (answer
the challenge when the token matches); every ``POST`` carries ``X-Hub-Signature-256: sha256=<hex
HMAC-SHA256 of the raw body, keyed with the app secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from whatsapp.domain.business_app import (
    HISTORY_DECLINED_CODE,
    LINK_EVENTS,
    SYNC_STATE_WORDS,
    AppLink,
    Disconnection,
    SyncState,
    SyncType,
)
from whatsapp.domain.health import NAME_DECLINED, NAME_IN_REVIEW

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
#: Bodies above this are refused (413) before being read further.
MAX_BODY_BYTES = 1 << 20
OBJECT = "whatsapp_business_account"
#: Deepest JSON nesting accepted. Meta's notifications nest under a dozen levels (the envelope
#: takes six); a deeper body is refused before it is parsed: Python's JSON decoder recurses,
#: and a signed body thousands of levels deep would otherwise end in ``RecursionError``.
MAX_DEPTH = 64

NAME_UPDATE = "phone_number_name_update"
QUALITY_UPDATE = "phone_number_quality_update"
ACCOUNT_UPDATE = "account_update"
HISTORY = SyncType.HISTORY.value
CONTACTS_SYNC = SyncType.CONTACTS.value
MESSAGE_ECHOES = "smb_message_echoes"
#: The fields this provider acts on; other fields (messages, templates…) are acknowledged and ignored.
FIELDS = (NAME_UPDATE, QUALITY_UPDATE, ACCOUNT_UPDATE, HISTORY, CONTACTS_SYNC, MESSAGE_ECHOES)
#: The fields whose values carry messages or contacts: stored as counts (:func:`kept_value`).
CONTENT_FIELDS = frozenset({HISTORY, CONTACTS_SYNC, MESSAGE_ECHOES})
PARTNER_REMOVED = "PARTNER_REMOVED"

APPROVED = "APPROVED"
REJECTED = "REJECTED"
#: Quality events that tell the quality rating (Meta: "Flagged" when the rating reaches Low).
FLAGGED = "FLAGGED"
UNFLAGGED = "UNFLAGGED"


class WebhookPayloadError(ValueError):
    """The body is signed but is not a WhatsApp Business Account notification."""


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body`` (the simulator signs with it too)."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def signature_matches(body: bytes, header: str | None, app_secret: str) -> bool:
    """Constant-time check of ``X-Hub-Signature-256`` against the raw body."""
    if not header or not app_secret:
        return False
    return hmac.compare_digest(sign(body, app_secret).encode(), header.strip().encode())


def verification_answer(params: Mapping[str, str], verify_token: str | None) -> str | None:
    """The ``hub.challenge`` to echo for a valid subscription check, else ``None`` (answer 403)."""
    if not verify_token or params.get("hub.mode") != "subscribe":
        return None
    offered = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(offered.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge") or ""


def digits(phone: str | None) -> str:
    """``"+1 555-078-3881"`` and ``"15550783881"`` both → ``"15550783881"``."""
    return "".join(ch for ch in phone or "" if ch.isdigit())


@dataclass(frozen=True, slots=True)
class NameDecision:
    display_phone_number: str
    decision: str
    requested_verified_name: str | None = None
    rejection_reason: str | None = None

    def describe(self) -> str:
        return self.decision + (f" ({self.rejection_reason})" if self.rejection_reason else "")


@dataclass(frozen=True, slots=True)
class QualityUpdate:
    display_phone_number: str
    event: str
    current_limit: str | None = None
    old_limit: str | None = None

    def describe(self) -> str:
        limit = f" (limit {self.old_limit or '?'} -> {self.current_limit})" if self.current_limit else ""
        return self.event + limit


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """``account_update``: about the whole WABA; ``phone_number`` (digits) and ``disconnection``
    only on a WhatsApp Business app number's ``PARTNER_REMOVED``."""

    event: str
    violation_type: str | None = None
    ban_state: str | None = None
    ban_date: str | None = None
    phone_number: str | None = None
    disconnection: Disconnection | None = None

    def describe(self) -> str:
        extra = [x for x in (self.violation_type, self.ban_state) if x]
        if self.disconnection is not None:
            by, why = self.disconnection.initiated_by, self.disconnection.reason
            extra.append(": ".join(x for x in (by, why) if x) or "disconnected")
        return self.event + (f" ({', '.join(extra)})" if extra else "")

    def moves_link(self, link: AppLink | None, display_phone_number: str | None) -> bool:
        """Whether this event is about the app link of a number linked as ``link``.

        Only a WhatsApp Business app number has a link. ``ACCOUNT_OFFBOARDED`` and
        ``ACCOUNT_RECONNECTED`` are about every such number of the WABA; a ``PARTNER_REMOVED`` with
        ``disconnection_info`` about the number it names (every one when it names none). Any
        other event, or another number, is handled as for any channel (the registration machine).
        """
        if link is None:
            return False
        if self.event in LINK_EVENTS:
            return True
        if self.event != PARTNER_REMOVED or self.disconnection is None:
            return False
        return self.phone_number is None or self.phone_number == digits(display_phone_number)


@dataclass(frozen=True, slots=True)
class HistoryChunks:
    """``history``: how far the chat history sync got (its messages are not kept)."""

    display_phone_number: str
    phone_number_id: str | None
    #: The highest ``progress`` of the webhook's chunks (0 to 100), ``None`` when none gives one.
    progress: int | None = None
    error_codes: tuple[int, ...] = ()

    @property
    def declined(self) -> bool:
        """The business chose not to share its chat history (Meta's error 2593109)."""
        return HISTORY_DECLINED_CODE in self.error_codes

    def describe(self) -> str:
        if self.declined:
            return f"{SYNC_STATE_WORDS[SyncState.DECLINED]} ({HISTORY_DECLINED_CODE})"
        if self.progress is not None:
            return f"{self.progress} %"
        if self.error_codes:
            return "error " + ", ".join(map(str, self.error_codes))
        return "no progress given"


@dataclass(frozen=True, slots=True)
class ContactsSynced:
    """``smb_app_state_sync``: how many contacts the app sent (the contacts are not kept)."""

    display_phone_number: str
    phone_number_id: str | None
    contacts: int = 0

    def describe(self) -> str:
        return _count(self.contacts, "contact")


@dataclass(frozen=True, slots=True)
class MessageEchoes:
    """``smb_message_echoes``: how many messages the business sent from the app (not kept)."""

    display_phone_number: str
    phone_number_id: str | None
    messages: int = 0

    def describe(self) -> str:
        return _count(self.messages, "message")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


#: What Meta pushes about a WhatsApp Business app number's data (kept as counts).
AppData = HistoryChunks | ContactsSynced | MessageEchoes
Parsed = NameDecision | QualityUpdate | AccountUpdate | AppData


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """One ``changes`` item of one entry, with the key that makes a redelivery a duplicate.

    ``value`` is what is stored of Meta's value: all of it, except for :data:`CONTENT_FIELDS`
    (:func:`kept_value`).
    """

    field: str
    waba_id: str
    occurred_at: datetime
    key: str
    value: Mapping[str, Any]
    parsed: Parsed | None

    @property
    def display_phone_number(self) -> str | None:
        """The digits of the number the change names (``None``: it names none)."""
        if isinstance(self.parsed, AccountUpdate):
            return self.parsed.phone_number
        return getattr(self.parsed, "display_phone_number", None)

    @property
    def phone_number_id(self) -> str | None:
        """The number's id, carried by the fields of WhatsApp Business app numbers."""
        return getattr(self.parsed, "phone_number_id", None)

    @property
    def waba_wide(self) -> bool:
        """The change is about every channel of its WABA (``account_update``), not one number."""
        return isinstance(self.parsed, AccountUpdate)

    @property
    def event(self) -> str | None:
        """The decision or event Meta named (``APPROVED``, ``FLAGGED``, ``ACCOUNT_VIOLATION``…)."""
        if isinstance(self.parsed, NameDecision):
            return self.parsed.decision
        return getattr(self.parsed, "event", None)

    def describe(self) -> str:
        """One line for the history and the log (never a secret, a message or a contact)."""
        return self.field if self.parsed is None else f"{self.field}: {self.parsed.describe()}"


def change_key(waba_id: str, time: Any, change: Mapping[str, Any]) -> str:
    """SHA-256 of the entry id, its time and the change (canonical JSON): a redelivery repeats all three."""
    canonical = json.dumps([waba_id, time, change], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _text(value: Mapping[str, Any], key: str) -> str | None:
    item = value.get(key)
    return None if item is None or item == "" else str(item)


def _int(value: Any) -> int | None:
    """An integer Meta sent as a number or a numeric string; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a JSON list (anything else in it, or a value that is no list, is skipped)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


#: Longest text kept of a counted item's type, action or error title.
_KEPT_TEXT = 255


def _short(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)[:_KEPT_TEXT]


def _kept_metadata(value: Mapping[str, Any]) -> dict[str, str]:
    """The business number's ``metadata`` (its own number and id: no customer's)."""
    metadata = value.get("metadata")
    if not isinstance(metadata, Mapping):
        return {}
    kept = {key: _short(metadata.get(key)) for key in ("display_phone_number", "phone_number_id")}
    return {key: item for key, item in kept.items() if item is not None}


def _tally(items: list[Mapping[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """How many items share each combination of ``keys`` (first-seen order): counts, no content."""
    counts: dict[tuple[str | None, ...], int] = {}
    for item in items:
        group = tuple(_short(item.get(key)) for key in keys)
        counts[group] = counts.get(group, 0) + 1
    return [{**dict(zip(keys, group, strict=True)), "count": n} for group, n in counts.items()]


def _kept_chunk(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """A ``history`` chunk as stored: its metadata, how many threads and messages, its errors."""
    metadata = chunk.get("metadata") if isinstance(chunk.get("metadata"), Mapping) else {}
    kept: dict[str, Any] = {
        "metadata": {
            key: number
            for key in ("phase", "chunk_order", "progress")
            if (number := _int(metadata.get(key))) is not None
        }
    }
    if "threads" in chunk:
        threads = _mappings(chunk["threads"])
        kept["threads"] = len(threads)
        kept["messages"] = sum(len(_mappings(thread.get("messages"))) for thread in threads)
    if "errors" in chunk:
        kept["errors"] = [
            {"code": _int(error.get("code")), "title": _short(error.get("title"))}
            for error in _mappings(chunk["errors"])
        ]
    return kept


def kept_value(field: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """What is stored of a change's value: Meta's value, except for :data:`CONTENT_FIELDS`.

    Those keep ``messaging_product``, the business number's ``metadata`` and counts: per
    ``history`` chunk its phase, order, progress, how many threads and messages, and its errors'
    codes and titles; the contacts counted by ``type`` and ``action``; the echoes by ``type``.
    No message, contact name or contact number is kept, so none can leak from the store.
    """
    if field not in CONTENT_FIELDS:
        return dict(value)
    kept: dict[str, Any] = {"messaging_product": _short(value.get("messaging_product"))}
    kept["metadata"] = _kept_metadata(value)
    if field == HISTORY:
        kept["history"] = [_kept_chunk(chunk) for chunk in _mappings(value.get("history"))]
    elif field == CONTACTS_SYNC:
        kept["state_sync"] = _tally(_mappings(value.get("state_sync")), ("type", "action"))
    else:
        kept["message_echoes"] = _tally(_mappings(value.get("message_echoes")), ("type",))
    return kept


def _app_data(field: str, kept: Mapping[str, Any]) -> AppData | None:
    """A WhatsApp Business app number's data change, read from its kept value (counts only)."""
    metadata = kept.get("metadata") or {}
    number, number_id = metadata.get("display_phone_number"), metadata.get("phone_number_id")
    if number is None and number_id is None:
        return None  # no number named: nothing to apply it to
    named = {"display_phone_number": digits(number), "phone_number_id": number_id}
    if field == HISTORY:
        chunks = kept["history"]
        progresses = [c["metadata"]["progress"] for c in chunks if "progress" in c["metadata"]]
        return HistoryChunks(
            **named,
            progress=min(max(max(progresses), 0), 100) if progresses else None,
            error_codes=tuple(
                error["code"] for c in chunks for error in c.get("errors", ()) if error["code"] is not None
            ),
        )
    if field == CONTACTS_SYNC:
        contacts = sum(item["count"] for item in kept["state_sync"] if item["type"] == "contact")
        return ContactsSynced(**named, contacts=contacts)
    return MessageEchoes(**named, messages=sum(item["count"] for item in kept["message_echoes"]))


def _parse_value(field: str, value: Mapping[str, Any]) -> Parsed | None:
    """``value``: the kept value (:func:`kept_value`)."""
    if field in CONTENT_FIELDS:
        return _app_data(field, value)
    if field == NAME_UPDATE and _text(value, "decision"):
        return NameDecision(
            display_phone_number=digits(_text(value, "display_phone_number")),
            decision=str(value["decision"]).upper(),
            requested_verified_name=_text(value, "requested_verified_name"),
            rejection_reason=_text(value, "rejection_reason"),
        )
    if field == QUALITY_UPDATE and _text(value, "event"):
        return QualityUpdate(
            display_phone_number=digits(_text(value, "display_phone_number")),
            event=str(value["event"]).upper(),
            current_limit=_text(value, "max_daily_conversations_per_business")
            or _text(value, "current_limit"),
            old_limit=_text(value, "old_limit"),
        )
    if field == ACCOUNT_UPDATE and _text(value, "event"):
        violation = value.get("violation_info") or {}
        ban = value.get("ban_info") or {}
        return AccountUpdate(
            event=str(value["event"]).upper(),
            violation_type=_text(violation, "violation_type") if isinstance(violation, Mapping) else None,
            ban_state=_text(ban, "waba_ban_state") if isinstance(ban, Mapping) else None,
            ban_date=_text(ban, "waba_ban_date") if isinstance(ban, Mapping) else None,
            phone_number=digits(_text(value, "phone_number")) or None,
            disconnection=Disconnection.from_value(value),
        )
    return None


def _time(value: Any, received_at: datetime) -> datetime:
    """The entry's ``time`` ("when the webhook was triggered"), never later than its receipt.

    It orders Meta's decisions (see :mod:`whatsapp.domain.registration_machine`): a time ahead of ours
    would make every later health read look older than it.
    """
    try:
        triggered = datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return received_at
    return min(triggered, received_at)


#: A JSON string (its escapes included): brackets inside one do not nest anything.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
#: Each byte's step in nesting depth: +1 opens an array or object, -1 closes one.
_STEP = [1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256)]


def _nesting_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON body nest, judged without parsing it.

    Strings are dropped, then the depth after each bracket is summed up by ``map`` and
    ``accumulate`` (C loops): linear and free of recursion whatever the input. Invalid JSON can
    only count deeper than it is; the decoder refuses it afterwards.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def parse_notification(body: bytes, received_at: datetime) -> list[WebhookChange]:
    """Every change of a notification; fields we do not act on come back with ``parsed=None``.

    Raises :class:`WebhookPayloadError` when the body is not JSON, nests deeper than
    :data:`MAX_DEPTH`, or is not Meta's envelope.
    """
    if _nesting_depth(body) > MAX_DEPTH:
        raise WebhookPayloadError(f"the body nests deeper than {MAX_DEPTH} levels: not a Meta notification")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("the body is not JSON") from None
    if not isinstance(payload, Mapping) or not isinstance(payload.get("entry"), list):
        raise WebhookPayloadError("no 'entry' list: not a WhatsApp Business Account notification")
    changes: list[WebhookChange] = []
    for entry in payload["entry"]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("changes"), list):
            raise WebhookPayloadError("an entry without a 'changes' list")
        waba_id = str(entry.get("id") or "")
        for change in entry["changes"]:
            if not isinstance(change, Mapping):
                raise WebhookPayloadError("a change that is not an object")
            field = str(change.get("field") or "")
            value = change.get("value") if isinstance(change.get("value"), Mapping) else {}
            kept = kept_value(field, value)
            changes.append(
                WebhookChange(
                    field=field,
                    waba_id=waba_id,
                    occurred_at=_time(entry.get("time"), received_at),
                    key=change_key(waba_id, entry.get("time"), change),
                    value=kept,
                    parsed=_parse_value(field, kept),
                )
            )
    return changes


def health_values(parsed: Parsed, stored_name_status: str | None) -> dict[str, str]:
    """The snapshot fields a change tells (health field name → value, Graph's vocabulary).

    A name decision changes ``name_status`` only while the stored one is in review or declined
    (a new review after a rejection): the same webhook reports reviews of *edits* of an
    approved name, which leave ``name_status`` alone. The caller drops the values of a stale
    decision (older than what is known).
    """
    if isinstance(parsed, NameDecision):
        if stored_name_status not in (None, NAME_IN_REVIEW, NAME_DECLINED):
            return {}
        if parsed.decision == APPROVED:
            return {"name_status": APPROVED}
        if parsed.decision == REJECTED:
            return {"name_status": NAME_DECLINED}
        return {}
    if isinstance(parsed, QualityUpdate):
        values: dict[str, str] = {}
        if parsed.current_limit:
            values["messaging_limit_tier"] = parsed.current_limit
        if parsed.event == FLAGGED:
            values.update(quality_rating="RED", status="FLAGGED")
        elif parsed.event == UNFLAGGED:
            values["status"] = "CONNECTED"
        return values
    return {}
