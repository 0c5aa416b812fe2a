"""Graph API errors, classified by code and subcode (never by message text).

Like pywa's ``errors.py``, the classification is one table keyed by Graph error code, so
every caller (hook, registration decision, fleet audit, health API) agrees on what an
error means. This module imports neither Airflow nor an HTTP library: the hook turns
transport failures into :class:`GraphApiError` with ``http_status`` ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What a Graph error means to this project (the register outcome table keys on it)."""

    DISPLAY_NAME_NOT_READY = "display_name_not_ready"  # 100/2388001
    REGISTER_TOO_SOON = "register_too_soon"  # 133015: wait a few minutes (recently deregistered)
    REGISTER_LIMIT = "register_limit"  # 133016: Meta's REGISTER_ALLOWANCE spent
    PIN_PROBLEM = "pin_problem"  # 133005: the two-step PIN differs from the number's
    PIN_LOCKED = "pin_locked"  # 133008/133009: PIN guessed too often / too fast; Meta names the wait
    NEEDS_REVERIFICATION = "needs_reverification"  # 133006: the number must be verified again (OTP)
    ACCOUNT_LOCKED = "account_locked"  # 131031: the business account is locked
    TOKEN_INVALID = "token_invalid"
    PERMISSION = "permission"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN = "unknown"


# (code, subcode) pairs first, then bare codes. Subcode ``None`` matches any subcode.
_BY_CODE_AND_SUBCODE: Mapping[tuple[int, int], ErrorKind] = {
    (100, 2388001): ErrorKind.DISPLAY_NAME_NOT_READY,
}
_BY_CODE: Mapping[int, ErrorKind] = {
    133015: ErrorKind.REGISTER_TOO_SOON,
    133016: ErrorKind.REGISTER_LIMIT,
    133005: ErrorKind.PIN_PROBLEM,
    133008: ErrorKind.PIN_LOCKED,
    133009: ErrorKind.PIN_LOCKED,
    133006: ErrorKind.NEEDS_REVERIFICATION,
    131031: ErrorKind.ACCOUNT_LOCKED,
    190: ErrorKind.TOKEN_INVALID,
    0: ErrorKind.PERMISSION,
    3: ErrorKind.PERMISSION,
    10: ErrorKind.PERMISSION,
    **{code: ErrorKind.PERMISSION for code in range(200, 300)},
    4: ErrorKind.THROTTLED,
    17: ErrorKind.THROTTLED,
    32: ErrorKind.THROTTLED,
    613: ErrorKind.THROTTLED,
    80007: ErrorKind.THROTTLED,
    130429: ErrorKind.THROTTLED,
    # Code 1 ("API Unknown") is also how Meta reports a wrong client secret on the code
    # exchange: it is transient only when Meta says so (is_transient / HTTP 5xx).
    2: ErrorKind.TRANSIENT,
    131000: ErrorKind.TRANSIENT,  # "Something went wrong"
    133004: ErrorKind.TRANSIENT,  # "Server temporarily unavailable"
    100: ErrorKind.INVALID_REQUEST,
    131009: ErrorKind.INVALID_REQUEST,  # "Parameter value is not valid"
}

#: Each kind in words, as a person reads it (the page's attempts table, through the API's vocabulary).
ERROR_WORDS: Mapping[ErrorKind, str] = {
    ErrorKind.DISPLAY_NAME_NOT_READY: "Display name not ready",
    ErrorKind.REGISTER_TOO_SOON: "Too soon after deregistering",
    ErrorKind.REGISTER_LIMIT: "Register limit reached",
    ErrorKind.PIN_PROBLEM: "Two-step PIN mismatch",
    ErrorKind.PIN_LOCKED: "PIN tried too often",
    ErrorKind.NEEDS_REVERIFICATION: "Number must be verified again",
    ErrorKind.ACCOUNT_LOCKED: "Business account locked",
    ErrorKind.TOKEN_INVALID: "Access token invalid",
    ErrorKind.PERMISSION: "Permission missing",
    ErrorKind.THROTTLED: "Rate limited",
    ErrorKind.TRANSIENT: "Meta temporarily unavailable",
    ErrorKind.INVALID_REQUEST: "Request refused",
    ErrorKind.UNKNOWN: "Other error",
}

#: What an error means beyond Meta's own words, where those mislead: 2388001 comes as "(#100)
#: Invalid parameter" ("Cannot Create Certificate") while the name reads APPROVED, because Meta
#: issues the name's certificate some time after approving it (README: the premature call).
ERROR_HINTS: Mapping[ErrorKind, str] = {
    ErrorKind.DISPLAY_NAME_NOT_READY: (
        "The display name's certificate is not ready yet: Meta issues it some time after approving "
        "the name, and refuses registration until then, even while the name reads APPROVED."
    ),
}

#: Kinds worth retrying soon without a person: the same call may succeed in minutes.
RETRYABLE_KINDS = frozenset({ErrorKind.THROTTLED, ErrorKind.TRANSIENT})


def classify(
    code: int | None,
    subcode: int | None = None,
    http_status: int | None = None,
    is_transient: bool = False,
) -> ErrorKind:
    """Map a Graph error (or a transport failure) to the one kind the project acts on."""
    if code is not None:
        if subcode is not None and (code, subcode) in _BY_CODE_AND_SUBCODE:
            return _BY_CODE_AND_SUBCODE[(code, subcode)]
        kind = _BY_CODE.get(code)
        if kind is not None and kind is not ErrorKind.INVALID_REQUEST:
            return kind
    if is_transient or http_status is None or http_status >= 500:
        return ErrorKind.TRANSIENT
    if http_status == 429:
        return ErrorKind.THROTTLED
    if code is not None and _BY_CODE.get(code) is ErrorKind.INVALID_REQUEST:
        return ErrorKind.INVALID_REQUEST
    if http_status == 400 and code is None:
        return ErrorKind.INVALID_REQUEST
    return ErrorKind.UNKNOWN


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h|days?|d)\b", re.IGNORECASE
)


def wait_in_details(details: str | None) -> timedelta | None:
    """The wait Meta names in ``error_data.details`` (133008/133009), or ``None`` if it names none.

    Meta documents "try again after the time in details" without a format; seen and simulated:
    "Try again after 60 minutes.", "... after 30 seconds.", "wait 1 hour and 30 minutes",
    "try again in 2 hrs", "5m". Every number-with-unit is added up; text without one is ``None``.
    """
    if not details:
        return None
    total = sum(float(amount) * _UNIT_SECONDS[unit[0].lower()] for amount, unit in _DURATION.findall(details))
    return timedelta(seconds=total) if total > 0 else None


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


class GraphApiError(Exception):
    """One failed Graph call, with every field Meta returns and its :class:`ErrorKind`.

    The message never contains a request URL or a credential: callers may log it as is.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        type: str | None = None,
        user_title: str | None = None,
        user_msg: str | None = None,
        fbtrace_id: str | None = None,
        is_transient: bool = False,
        retry_after_s: float | None = None,
        operation: str | None = None,
        details: str | None = None,
    ) -> None:
        self.message = message
        self.details = details
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.type = type
        self.user_title = user_title
        self.user_msg = user_msg
        self.fbtrace_id = fbtrace_id
        self.is_transient = is_transient
        self.retry_after_s = retry_after_s
        self.operation = operation
        self.kind = classify(code, subcode, http_status, is_transient)
        super().__init__(str(self))

    @classmethod
    def from_response(
        cls,
        http_status: int,
        payload: Any,
        *,
        operation: str | None = None,
        retry_after_s: float | None = None,
    ) -> GraphApiError:
        """Build from a Graph error body (``{"error": {...}}``); tolerate non-JSON bodies."""
        error = payload.get("error") if isinstance(payload, Mapping) else None
        if not isinstance(error, Mapping):
            return cls(
                f"HTTP {http_status} without a Graph error body",
                http_status=http_status,
                operation=operation,
                retry_after_s=retry_after_s,
            )
        error_data = error.get("error_data")
        details = error_data.get("details") if isinstance(error_data, Mapping) else None
        if retry_after_s is None and isinstance(error_data, Mapping):
            minutes = _int_or_none(error_data.get("estimated_time_to_regain_access"))
            retry_after_s = None if minutes is None else minutes * 60.0
        return cls(
            str(error.get("message") or "Graph API error"),
            http_status=http_status,
            code=_int_or_none(error.get("code")),
            subcode=_int_or_none(error.get("error_subcode")),
            type=error.get("type"),
            user_title=error.get("error_user_title"),
            user_msg=error.get("error_user_msg"),
            fbtrace_id=error.get("fbtrace_id"),
            is_transient=bool(error.get("is_transient", False)),
            retry_after_s=retry_after_s,
            operation=operation,
            details=None if details is None else str(details),
        )

    @classmethod
    def transport(cls, message: str, *, operation: str | None = None) -> GraphApiError:
        """A timeout or connection failure: no Graph answer at all."""
        return cls(message, operation=operation, is_transient=True)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    @property
    def answered(self) -> bool:
        """Graph answered (any HTTP status); ``False``: timeout or lost connection, outcome unknown."""
        return self.http_status is not None

    @property
    def wait(self) -> timedelta | None:
        """The wait Meta names in ``error_data.details`` (see :func:`wait_in_details`)."""
        return wait_in_details(self.details)

    def to_dict(self) -> dict[str, Any]:
        """The API's structured error (docs/http-api.md: ``{"type", "message", "code", "subcode"}``)."""
        return {"type": self.kind.value, "message": self.message, "code": self.code, "subcode": self.subcode}

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        parts = [f"{where}{self.message}"]
        if self.code is not None:
            parts.append(f"code={self.code}" + (f"/{self.subcode}" if self.subcode is not None else ""))
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        parts.append(f"kind={self.kind.value}")
        if self.user_msg:
            parts.append(f"user_msg={self.user_msg!r}")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id={self.fbtrace_id}")
        return " ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep every field across pickling (Airflow may pickle exceptions between processes).
        return (_rebuild, (self.__dict__.copy(),))


def _rebuild(state: dict[str, Any]) -> GraphApiError:
    error = GraphApiError.__new__(GraphApiError)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error
