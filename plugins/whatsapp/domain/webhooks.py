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

The two phone-number fields name the number by its display phone number, not its id: the
receiver finds the channel by WABA (``entry.id``) and the number's digits.

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
#: The fields this provider acts on; other fields (messages, templates…) are acknowledged and ignored.
FIELDS = (NAME_UPDATE, QUALITY_UPDATE, ACCOUNT_UPDATE)

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


@dataclass(frozen=True, slots=True)
class QualityUpdate:
    display_phone_number: str
    event: str
    current_limit: str | None = None
    old_limit: str | None = None


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    event: str
    violation_type: str | None = None
    ban_state: str | None = None
    ban_date: str | None = None


Parsed = NameDecision | QualityUpdate | AccountUpdate


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """One ``changes`` item of one entry, with the key that makes a redelivery a duplicate."""

    field: str
    waba_id: str
    occurred_at: datetime
    key: str
    value: Mapping[str, Any]
    parsed: Parsed | None

    @property
    def display_phone_number(self) -> str | None:
        return getattr(self.parsed, "display_phone_number", None)

    @property
    def event(self) -> str | None:
        """The decision or event Meta named (``APPROVED``, ``FLAGGED``, ``ACCOUNT_VIOLATION``…)."""
        if isinstance(self.parsed, NameDecision):
            return self.parsed.decision
        return getattr(self.parsed, "event", None)

    def describe(self) -> str:
        """One line for the history and the log (never a secret: Meta's payload carries none)."""
        parsed = self.parsed
        detail = ""
        if isinstance(parsed, NameDecision) and parsed.rejection_reason:
            detail = f" ({parsed.rejection_reason})"
        elif isinstance(parsed, QualityUpdate) and parsed.current_limit:
            detail = f" (limit {parsed.old_limit or '?'} -> {parsed.current_limit})"
        elif isinstance(parsed, AccountUpdate):
            extra = [x for x in (parsed.violation_type, parsed.ban_state) if x]
            detail = f" ({', '.join(extra)})" if extra else ""
        return f"{self.field}: {self.event}{detail}"


def change_key(waba_id: str, time: Any, change: Mapping[str, Any]) -> str:
    """SHA-256 of the entry id, its time and the change (canonical JSON): a redelivery repeats all three."""
    canonical = json.dumps([waba_id, time, change], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _text(value: Mapping[str, Any], key: str) -> str | None:
    item = value.get(key)
    return None if item is None or item == "" else str(item)


def _parse_value(field: str, value: Mapping[str, Any]) -> Parsed | None:
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
            changes.append(
                WebhookChange(
                    field=field,
                    waba_id=waba_id,
                    occurred_at=_time(entry.get("time"), received_at),
                    key=change_key(waba_id, entry.get("time"), change),
                    value=dict(value),
                    parsed=_parse_value(field, value),
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
