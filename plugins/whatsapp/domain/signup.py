"""The onboarding DAG's conf, validated before any side effect.

Airflow's ``Param`` JSON schemas reject most bad input at trigger time; this is the same
contract in code, so a run created any other way (API without params, ``dag.test``) fails
just as early, naming the field and never echoing the single-use code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_NAME_POKE_INTERVAL = 600
DEFAULT_NAME_WAIT_TIMEOUT = 172_800


class InvalidSignupError(ValueError):
    """The conf of an onboarding run is unusable; the message names the param."""


@dataclass(frozen=True, slots=True)
class SignupRequest:
    account_id: int
    code: str = field(repr=False)
    business_id: str
    waba_id: str
    phone_number_id: str | None = None
    inbox_id: int | None = None
    name_poke_interval: int = DEFAULT_NAME_POKE_INTERVAL
    name_wait_timeout: int = DEFAULT_NAME_WAIT_TIMEOUT

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SignupRequest:
        return cls(
            account_id=_integer(params, "account_id", required=True, minimum=1),
            code=_code(params),
            business_id=_digits(params, "business_id", required=True),
            waba_id=_digits(params, "waba_id", required=True),
            phone_number_id=_digits(params, "phone_number_id", required=False),
            inbox_id=_integer(params, "inbox_id", required=False, minimum=1),
            name_poke_interval=_integer(params, "name_poke_interval", required=False, minimum=1)
            or DEFAULT_NAME_POKE_INTERVAL,
            name_wait_timeout=_integer(params, "name_wait_timeout", required=False, minimum=1)
            or DEFAULT_NAME_WAIT_TIMEOUT,
        )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _integer(params: Mapping[str, Any], name: str, *, required: bool, minimum: int) -> Any:
    value = params.get(name)
    if _missing(value):
        if required:
            raise InvalidSignupError(f"param {name!r} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidSignupError(f"param {name!r} must be an integer, got {type(value).__name__}")
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise InvalidSignupError(f"param {name!r} must be an integer, got {value!r}")
    number = int(text)
    if number < minimum:
        raise InvalidSignupError(f"param {name!r} must be >= {minimum}, got {number}")
    return number


def _digits(params: Mapping[str, Any], name: str, *, required: bool) -> Any:
    value = params.get(name)
    if _missing(value):
        if required:
            raise InvalidSignupError(f"param {name!r} is required")
        return None
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None or not text.isdigit():
        raise InvalidSignupError(f"param {name!r} must be a string of digits, got {value!r}")
    return text


def _code(params: Mapping[str, Any]) -> str:
    value = params.get("code")
    if _missing(value):
        raise InvalidSignupError("param 'code' is required")
    if not isinstance(value, str):
        raise InvalidSignupError(f"param 'code' must be a string, got {type(value).__name__}")
    return value.strip()
