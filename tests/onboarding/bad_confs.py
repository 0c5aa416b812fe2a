"""Onboarding inputs that must be refused, each naming the field it breaks (docs/dags-and-operators.md).

One table for every entry point: ``tests/onboarding/test_conf_validation.py`` feeds each case to
the ``whatsapp_onboarding`` DAG (``dag.test()``), ``tests/api/test_signups.py`` to the signup
intake. A case changes (or, with :data:`MISSING`, removes) keys of a valid signup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MISSING = object()
#: A well-formed signup id that no intake stored.
UNKNOWN_SIGNUP_ID = "0" * 32


@dataclass(frozen=True)
class BadConf:
    case: str
    field: str
    changes: dict[str, Any]
    #: The intake refuses another field first (``signup_id`` is not an intake key).
    intake_field: str | None = None

    def apply(self, valid: dict[str, Any]) -> dict[str, Any]:
        conf = {**valid, **self.changes}
        return {key: value for key, value in conf.items() if value is not MISSING}


BAD_CONFS: list[BadConf] = [
    # account_id: an integer 1 ... 2**63-1
    BadConf("account_id missing", "account_id", {"account_id": MISSING}),
    BadConf("account_id zero", "account_id", {"account_id": 0}),
    BadConf("account_id negative", "account_id", {"account_id": -1}),
    BadConf("account_id 2**63", "account_id", {"account_id": 2**63}),
    BadConf("account_id 10**30", "account_id", {"account_id": 10**30}),
    BadConf("account_id as text", "account_id", {"account_id": "1"}),
    BadConf("account_id boolean", "account_id", {"account_id": True}),
    BadConf("account_id fraction", "account_id", {"account_id": 1.5}),
    BadConf("account_id list", "account_id", {"account_id": [1]}),
    # code: 1 ... 2048 visible ASCII characters
    BadConf("code missing", "code", {"code": MISSING}),
    BadConf("code empty", "code", {"code": ""}),
    BadConf("code with a NUL byte", "code", {"code": "abc\x00def"}),
    BadConf("code with a space", "code", {"code": "abc def"}),
    BadConf("code with a newline", "code", {"code": "abcdef\n"}),
    BadConf("code too long", "code", {"code": "A" * 2049}),
    BadConf("code not ASCII", "code", {"code": "cöde"}),
    BadConf("code a number", "code", {"code": 123456}),
    # Meta ids: strings of 1 ... 20 digits
    BadConf("business_id missing", "business_id", {"business_id": MISSING}),
    BadConf("business_id letters", "business_id", {"business_id": "12ab"}),
    BadConf("business_id 21 digits", "business_id", {"business_id": "1" * 21}),
    BadConf("business_id a number", "business_id", {"business_id": 123}),
    BadConf("business_id leading space", "business_id", {"business_id": " 123"}),
    BadConf("business_id trailing newline", "business_id", {"business_id": "123\n"}),
    BadConf("waba_id missing", "waba_id", {"waba_id": MISSING}),
    BadConf("waba_id not digits", "waba_id", {"waba_id": "not-digits"}),
    BadConf("waba_id 40 digits", "waba_id", {"waba_id": "9" * 40}),
    BadConf("waba_id empty", "waba_id", {"waba_id": ""}),
    BadConf("waba_id with a NUL byte", "waba_id", {"waba_id": "12\x00"}),
    BadConf("phone_number_id dashes", "phone_number_id", {"phone_number_id": "12-34"}),
    BadConf("phone_number_id 21 digits", "phone_number_id", {"phone_number_id": "1" * 21}),
    BadConf("phone_number_id a number", "phone_number_id", {"phone_number_id": 5}),
    # event: how Embedded Signup ended, one of Meta's three ends that carry a code (optional)
    BadConf("event CANCEL (never reaches the intake)", "event", {"event": "CANCEL"}),
    BadConf("event lower case", "event", {"event": "finish"}),
    BadConf("event a number", "event", {"event": 1}),
    BadConf(
        "event FINISH_ONLY_WABA with a phone number",
        "phone_number_id",
        {"event": "FINISH_ONLY_WABA", "phone_number_id": "123"},
    ),
    # inbox_id: an integer 1 ... 2**63-1 (optional)
    BadConf("inbox_id text", "inbox_id", {"inbox_id": "seven"}),
    BadConf("inbox_id zero", "inbox_id", {"inbox_id": 0}),
    BadConf("inbox_id 2**63", "inbox_id", {"inbox_id": 2**63}),
    # timing: the same rules for the DAG's params and the intake's optional fields
    BadConf("name_poke_interval zero", "name_poke_interval", {"name_poke_interval": 0}),
    BadConf("name_poke_interval over a day", "name_poke_interval", {"name_poke_interval": 86_401}),
    BadConf("name_poke_interval text", "name_poke_interval", {"name_poke_interval": "600"}),
    BadConf("name_wait_timeout negative", "name_wait_timeout", {"name_wait_timeout": -5}),
    BadConf("name_wait_timeout 10**15", "name_wait_timeout", {"name_wait_timeout": 10**15}),
    BadConf("name_wait_timeout over 30 days", "name_wait_timeout", {"name_wait_timeout": 30 * 86_400 + 1}),
    # unknown keys
    BadConf("unknown key", "callback_url", {"callback_url": "https://evil.example/hook"}),
    BadConf("misspelled key", "wabaid", {"wabaid": "123"}),
    BadConf("prototype key", "__proto__", {"__proto__": {"admin": True}}),
    BadConf("a token instead of the code", "access_token", {"access_token": "EAAG-not-a-token"}),
    # signup ids (DAG only; the intake has no such field)
    BadConf("signup_id malformed", "signup_id", {"signup_id": "../../etc"}),
    BadConf(
        "signup_id with the raw signup",
        "account_id",
        {"signup_id": UNKNOWN_SIGNUP_ID},
        intake_field="signup_id",
    ),
]
