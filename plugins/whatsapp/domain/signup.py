"""Every onboarding input, checked by one set of rules before anything is exchanged, stored or called.

The same rules serve every entry point: the ``whatsapp_onboarding`` DAG's conf (its ``Param``
schemas are built from :meth:`FieldRule.schema`, its first task runs
:meth:`OnboardingConf.from_params`, and Airflow's REST routes that create its runs are guarded by
:meth:`OnboardingConf.from_api`), the signup intake
``POST /whatsapp/api/v1/signups`` (:meth:`Intake.from_mapping`), the register DAG's params and
the API's path parameters (:data:`ROW_ID`). They match what the store can hold and what the code
can compute:

- ids from Meta (business, WABA, phone number): strings of 1 to :data:`MAX_ID_DIGITS` digits
  (the store's id columns are ``VARCHAR(32)``; Meta's ids are 15-17 digits today);
- ``account_id`` / ``inbox_id``: integers 1 ... 2^63-1 (PostgreSQL ``BIGINT``);
- ``name_poke_interval``: 1 s ... 1 day; ``name_wait_timeout``: 1 s ... 30 days. The lower bound
  is 1 s so simulator-driven tests and demos run fast; against Meta keep the default poll of
  600 s (each poll is a Graph call). The upper bounds keep every deadline the sensor and the
  triggerer compute far inside what ``datetime`` represents (``10**15`` s used to fail only after
  the code was exchanged);
- the signup code: 1 ... :data:`CODE_MAX_LENGTH` visible ASCII characters (no space, no control
  character: a NUL byte used to reach the database);
- no unknown keys.

Errors name the field and never echo the code. Pure: no Airflow, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum, StrEnum
from typing import Any

#: Meta's ids are digit strings; the store keeps them in ``VARCHAR(32)`` columns.
MAX_ID_DIGITS = 20
#: ``account_id`` and ``inbox_id`` are PostgreSQL ``BIGINT`` columns.
MAX_ROW_ID = 2**63 - 1
#: Embedded Signup codes are a few hundred characters; anything longer is not one.
CODE_MAX_LENGTH = 2048
#: "The exchangeable token code has a time-to-live of 30 seconds" (Meta, Embedded Signup
#: implementation: https://developers.facebook.com/docs/whatsapp/embedded-signup/implementation).
#: A code the intake received longer ago than this cannot be exchanged any more.
CODE_LIFETIME = timedelta(seconds=30)

DEFAULT_NAME_POKE_INTERVAL = 600
DEFAULT_NAME_WAIT_TIMEOUT = 172_800

_DAY = 86_400
#: ``$`` in Python's ``re`` (which jsonschema uses for Airflow's ``Param``) also matches before a
#: final newline; the lookahead makes ``"123\n"`` fail there as it does in ECMAScript and here.
_END = r"(?!\n)$"
_ID_PATTERN = rf"^[0-9]{{1,{MAX_ID_DIGITS}}}{_END}"
_CODE_PATTERN = rf"^[!-~]{{1,{CODE_MAX_LENGTH}}}{_END}"
_SIGNUP_ID_PATTERN = rf"^[0-9a-f]{{32}}{_END}"
_REPR_LIMIT = 40


class InvalidSignupError(ValueError):
    """An onboarding input breaks a rule; ``field`` names it and the message says which rule."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name!r} {message}")
        self.field = field_name


class SignupEvent(StrEnum):
    """How the customer's Embedded Signup ended: the ``event`` of Meta's ``WA_EMBEDDED_SIGNUP`` message.

    ``CANCEL`` and ``ERROR`` end the popup without a code, so they never reach the intake (Meta,
    Embedded Signup "Implementation":
    https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/implementation).
    """

    #: A number was added: the message carries its phone number id, the WABA and the business.
    FINISH = "FINISH"
    #: The customer made a WABA but added no number yet: there is no channel to make.
    FINISH_ONLY_WABA = "FINISH_ONLY_WABA"
    #: A WhatsApp Business app number (domain/business_app.py); the message carries only the WABA id.
    FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"


class Kind(Enum):
    """What a field holds, which decides its rule and its JSON schema."""

    META_ID = "meta_id"
    ROW_ID = "row_id"
    SECONDS = "seconds"
    CODE = "code"
    SIGNUP_ID = "signup_id"
    SIGNUP_EVENT = "signup_event"


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One input field: its rule (``kind`` and bounds), whether it is required, its help text."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    minimum: int = 1
    maximum: int = MAX_ROW_ID
    default: int | str | None = None

    def schema(self, *, nullable: bool = False) -> dict[str, Any]:
        """The JSON schema of the field (Airflow ``Param`` keywords, OpenAPI), without ``description``."""
        if self.kind in (Kind.ROW_ID, Kind.SECONDS):
            schema: dict[str, Any] = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        elif self.kind is Kind.META_ID:
            schema = {"type": "string", "minLength": 1, "maxLength": MAX_ID_DIGITS, "pattern": _ID_PATTERN}
        elif self.kind is Kind.CODE:
            schema = {
                "type": "string",
                "minLength": 1,
                "maxLength": CODE_MAX_LENGTH,
                "pattern": _CODE_PATTERN,
            }
        elif self.kind is Kind.SIGNUP_EVENT:
            schema = {"type": "string", "enum": [event.value for event in SignupEvent]}
        else:
            schema = {"type": "string", "minLength": 32, "maxLength": 32, "pattern": _SIGNUP_ID_PATTERN}
        if nullable:
            schema["type"] = [schema["type"], "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        return schema

    def check(self, value: Any) -> Any:
        """The value, normalized (integral floats become ints); :class:`InvalidSignupError` otherwise."""
        if self.kind in (Kind.ROW_ID, Kind.SECONDS):
            return self._integer(value)
        if self.kind is Kind.CODE:
            return _code(self.name, value)
        if self.kind is Kind.SIGNUP_EVENT:
            if not isinstance(value, str) or value not in SignupEvent.__members__:
                accepted = ", ".join(SignupEvent)
                raise InvalidSignupError(self.name, f"must be one of {accepted}, got {_show(value)}")
            return SignupEvent(value)
        pattern = _ID_PATTERN if self.kind is Kind.META_ID else _SIGNUP_ID_PATTERN
        if not isinstance(value, str) or re.search(pattern, value) is None:
            what = f"a string of 1 to {MAX_ID_DIGITS} digits" if self.kind is Kind.META_ID else "a signup id"
            raise InvalidSignupError(self.name, f"must be {what}, got {_show(value)}")
        return value

    def _integer(self, value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # JSON schema counts 5.0 as an integer; so do we
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidSignupError(self.name, f"must be an integer, got {_show(value)}")
        if not self.minimum <= value <= self.maximum:
            unit = " seconds" if self.kind is Kind.SECONDS else ""
            shown = str(value) if len(str(value)) <= _REPR_LIMIT else f"{str(value)[:_REPR_LIMIT]}..."
            raise InvalidSignupError(
                self.name, f"must be between {self.minimum} and {self.maximum}{unit}, got {shown}"
            )
        return value


def _show(value: Any) -> str:
    """A value for an error message: its type for containers, a short ``repr`` otherwise."""
    if isinstance(value, dict | list | tuple | set):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else f"{text[:_REPR_LIMIT]}..."


def _code(name: str, value: Any) -> str:
    """The code's rule; messages describe the problem without ever quoting the code."""
    if not isinstance(value, str):
        raise InvalidSignupError(name, f"must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidSignupError(name, "must not be empty")
    control = next((c for c in value if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0), None)
    if control is not None:
        raise InvalidSignupError(name, f"contains a control character (U+{ord(control):04X})")
    if len(value) > CODE_MAX_LENGTH or re.search(_CODE_PATTERN, value) is None:
        raise InvalidSignupError(
            name,
            f"must be 1 to {CODE_MAX_LENGTH} visible ASCII characters (no spaces), "
            f"got {len(value)} characters",
        )
    return value


ACCOUNT_ID = FieldRule("account_id", Kind.ROW_ID, "Tenant that owns the channel", required=True)
CODE = FieldRule("code", Kind.CODE, "Embedded Signup code (secret, single use)", required=True)
BUSINESS_ID = FieldRule("business_id", Kind.META_ID, "Meta business portfolio id", required=True)
WABA_ID = FieldRule("waba_id", Kind.META_ID, "WhatsApp Business Account id", required=True)
PHONE_NUMBER_ID = FieldRule(
    "phone_number_id",
    Kind.META_ID,
    "Number to onboard (default: the WABA's only number, or the one no channel holds yet)",
)
INBOX_ID = FieldRule("inbox_id", Kind.ROW_ID, "Reauthorize this existing channel")
EVENT = FieldRule(
    "event",
    Kind.SIGNUP_EVENT,
    "How Embedded Signup ended: FINISH (default), FINISH_ONLY_WABA or "
    "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING (a WhatsApp Business app number)",
)
NAME_POKE_INTERVAL = FieldRule(
    "name_poke_interval",
    Kind.SECONDS,
    "Seconds between display-name checks (1 s ... 1 day)",
    maximum=_DAY,
    default=DEFAULT_NAME_POKE_INTERVAL,
)
NAME_WAIT_TIMEOUT = FieldRule(
    "name_wait_timeout",
    Kind.SECONDS,
    "Seconds to wait for the display name before handing over to the fleet DAG (1 s ... 30 days)",
    maximum=30 * _DAY,
    default=DEFAULT_NAME_WAIT_TIMEOUT,
)
SIGNUP_ID = FieldRule("signup_id", Kind.SIGNUP_ID, "A signup stored by POST /whatsapp/api/v1/signups")
#: An ``account_id`` or ``inbox_id`` anywhere (register DAG params, API path parameters).
ROW_ID = FieldRule("id", Kind.ROW_ID, "")

#: The signup itself: the intake's body (with :data:`TIMING_FIELDS`), and the raw-code form of
#: the onboarding conf.
SIGNUP_FIELDS: tuple[FieldRule, ...] = (
    ACCOUNT_ID,
    CODE,
    BUSINESS_ID,
    WABA_ID,
    PHONE_NUMBER_ID,
    INBOX_ID,
    EVENT,
)
#: How the onboarding run waits for the display name.
TIMING_FIELDS: tuple[FieldRule, ...] = (NAME_POKE_INTERVAL, NAME_WAIT_TIMEOUT)
#: Every key the intake accepts in its body.
INTAKE_FIELDS: tuple[FieldRule, ...] = (*SIGNUP_FIELDS, *TIMING_FIELDS)
#: Every key ``whatsapp_onboarding`` accepts in its conf.
ONBOARDING_FIELDS: tuple[FieldRule, ...] = (SIGNUP_ID, *SIGNUP_FIELDS, *TIMING_FIELDS)


def _refuse_unknown(values: Mapping[str, Any], rules: tuple[FieldRule, ...]) -> None:
    known = {rule.name for rule in rules}
    unknown = sorted(str(key) for key in values if key not in known)
    if unknown:
        raise InvalidSignupError(
            unknown[0], f"is not an accepted field (accepted: {', '.join(sorted(known))})"
        )


def _present(values: Mapping[str, Any], rule: FieldRule) -> bool:
    return values.get(rule.name) is not None


@dataclass(frozen=True, slots=True)
class SignupIds:
    """Who is onboarding what: everything about a signup except its secret code."""

    account_id: int
    business_id: str
    waba_id: str
    phone_number_id: str | None = None
    inbox_id: int | None = None
    event: SignupEvent = SignupEvent.FINISH

    @property
    def number_expected(self) -> bool:
        """The signup added a number (every end but ``FINISH_ONLY_WABA``)."""
        return self.event is not SignupEvent.FINISH_ONLY_WABA


@dataclass(frozen=True, slots=True)
class Signup:
    """A validated signup: its ids and the single-use code (never in ``repr``)."""

    ids: SignupIds
    code: str = field(repr=False)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, extra: tuple[FieldRule, ...] = ()) -> Signup:
        """Check every field of :data:`SIGNUP_FIELDS` (and refuse any key not there or in ``extra``)."""
        _refuse_unknown(values, SIGNUP_FIELDS + extra)
        checked: dict[str, Any] = {}
        for rule in SIGNUP_FIELDS:
            if not _present(values, rule):
                if rule.required:
                    raise InvalidSignupError(rule.name, "is required")
                continue
            checked[rule.name] = rule.check(values[rule.name])
        code = checked.pop("code")
        ids = SignupIds(**checked)
        if ids.event is SignupEvent.FINISH_ONLY_WABA and ids.phone_number_id is not None:
            raise InvalidSignupError(
                PHONE_NUMBER_ID.name,
                "cannot be given with event FINISH_ONLY_WABA (the signup added no number)",
            )
        return cls(ids, code)


@dataclass(frozen=True, slots=True)
class Intake:
    """What ``POST /whatsapp/api/v1/signups`` receives: a signup, and how its run waits for the name.

    The timing fields are the DAG's own (:data:`TIMING_FIELDS`, same rules as its params); only
    those the client sent go to the run's conf, the DAG's defaults apply to the others.
    """

    signup: Signup
    timing: Mapping[str, int]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Intake:
        """Check the signup's fields and the timing fields sent; refuse any other key."""
        signup = Signup.from_mapping(values, extra=TIMING_FIELDS)
        timing = {
            rule.name: rule.check(values[rule.name]) for rule in TIMING_FIELDS if _present(values, rule)
        }
        return cls(signup, timing)

    def run_conf(self, signup_id: str) -> dict[str, Any]:
        """The onboarding run's conf for the stored signup: its id and the timing, never the code."""
        return {SIGNUP_ID.name: signup_id, **self.timing}


@dataclass(frozen=True, slots=True)
class OnboardingConf:
    """The conf of a ``whatsapp_onboarding`` run: a stored signup's id, or the signup itself.

    ``{"signup_id"}`` is what the intake triggers (the code stays in the store, encrypted);
    ``{"account_id", "code", "business_id", "waba_id", ...}`` is the raw form, whose code every
    user who may read the run's conf can see.
    """

    signup_id: str | None
    signup: Signup | None
    name_poke_interval: int = DEFAULT_NAME_POKE_INTERVAL
    name_wait_timeout: int = DEFAULT_NAME_WAIT_TIMEOUT

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> OnboardingConf:
        """From the run's params (conf merged over the DAG's defaults); absent keys are ``None``."""
        _refuse_unknown(params, ONBOARDING_FIELDS)
        timing = {
            rule.name: rule.check(params[rule.name]) if _present(params, rule) else rule.default
            for rule in TIMING_FIELDS
        }
        if _present(params, SIGNUP_ID):
            signup_id = SIGNUP_ID.check(params[SIGNUP_ID.name])
            mixed = next((rule for rule in SIGNUP_FIELDS if _present(params, rule)), None)
            if mixed is not None:
                raise InvalidSignupError(mixed.name, "cannot be combined with 'signup_id'")
            return cls(signup_id=signup_id, signup=None, **timing)
        raw = {rule.name: params.get(rule.name) for rule in SIGNUP_FIELDS}
        return cls(signup_id=None, signup=Signup.from_mapping(raw), **timing)

    @classmethod
    def from_api(cls, params: Mapping[str, Any]) -> OnboardingConf:
        """A conf sent through Airflow's REST API (trigger form included): the ``signup_id`` form only.

        Every rule of :meth:`from_params`, so the error names the broken field; then a valid raw
        signup is refused too: Airflow keeps a trigger's conf in ``dag_run.conf`` and its
        request body in the event log, and every user who may read the DAG's runs (the
        ``viewer`` role included) reads both.
        """
        _refuse_unknown(params, ONBOARDING_FIELDS)
        if not any(_present(params, rule) for rule in (SIGNUP_ID, *SIGNUP_FIELDS)):
            raise InvalidSignupError(SIGNUP_ID.name, f"is required ({_USE_THE_INTAKE})")
        conf = cls.from_params(params)
        if conf.signup is not None:
            raise InvalidSignupError(
                CODE.name, f"is not accepted in a conf sent through Airflow's API ({_USE_THE_INTAKE})"
            )
        return conf


#: Where a signup goes instead of a run's conf.
_USE_THE_INTAKE = (
    "post the signup to POST /whatsapp/api/v1/signups: it keeps the code encrypted and starts the "
    "run with its signup_id"
)
