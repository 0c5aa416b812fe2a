"""Every error kind, built from a real Graph error body; classification never reads text."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest

from tests.unit import graph_errors as g
from whatsapp.errors import ErrorKind, GraphApiError, classify, wait_in_details

CASES = [
    (400, g.DISPLAY_NAME_NOT_READY, ErrorKind.DISPLAY_NAME_NOT_READY),
    (400, g.REGISTER_LIMIT, ErrorKind.REGISTER_LIMIT),
    (400, g.PIN_MISMATCH, ErrorKind.PIN_PROBLEM),
    (400, g.PIN_TOO_MANY_GUESSES, ErrorKind.PIN_LOCKED),
    (400, g.PIN_GUESSED_TOO_FAST, ErrorKind.PIN_LOCKED),
    (400, g.PIN_TOO_MANY_GUESSES_WITH_WAIT, ErrorKind.PIN_LOCKED),
    (400, g.PIN_GUESSED_TOO_FAST_WITH_WAIT, ErrorKind.PIN_LOCKED),
    (400, g.NEEDS_REVERIFICATION, ErrorKind.NEEDS_REVERIFICATION),
    (400, g.REGISTER_TOO_SOON, ErrorKind.REGISTER_TOO_SOON),
    (401, g.TOKEN_EXPIRED, ErrorKind.TOKEN_INVALID),
    (401, g.TOKEN_INVALID, ErrorKind.TOKEN_INVALID),
    (400, g.NOT_SUPPORTED, ErrorKind.PERMISSION),
    (403, g.NO_PERMISSION_TO_REGISTER, ErrorKind.PERMISSION),
    (403, g.INSUFFICIENT_PERMISSIONS, ErrorKind.PERMISSION),
    (400, g.APP_RATE_LIMIT, ErrorKind.THROTTLED),
    (429, g.WABA_RATE_LIMIT, ErrorKind.THROTTLED),
    (400, g.USER_RATE_LIMIT, ErrorKind.THROTTLED),
    (400, g.PAGE_RATE_LIMIT, ErrorKind.THROTTLED),
    (400, g.CUSTOM_RATE_LIMIT, ErrorKind.THROTTLED),
    (400, g.THROUGHPUT_LIMIT, ErrorKind.THROTTLED),
    (503, g.SERVICE_UNAVAILABLE, ErrorKind.TRANSIENT),
    (500, g.UNKNOWN_TRANSIENT, ErrorKind.TRANSIENT),
    (400, g.INVALID_PARAMETER, ErrorKind.INVALID_REQUEST),
    (400, g.OVERRIDE_BEFORE_SUBSCRIBE, ErrorKind.INVALID_REQUEST),
    (403, g.ACCOUNT_LOCKED, ErrorKind.ACCOUNT_LOCKED),
    (400, g.SOMETHING_WENT_WRONG, ErrorKind.TRANSIENT),
    (400, g.PARAMETER_VALUE_INVALID, ErrorKind.INVALID_REQUEST),
    (400, g.NOT_REGISTERED, ErrorKind.UNKNOWN),
]


@pytest.mark.parametrize(
    ("status", "raw", "kind"), CASES, ids=[c[2].value + f"-{i}" for i, c in enumerate(CASES)]
)
def test_kind_from_real_error_body(status: int, raw: str, kind: ErrorKind) -> None:
    error = GraphApiError.from_response(status, g.load(raw), operation="register")
    assert error.kind is kind
    body = g.load(raw)["error"]
    assert error.code == body["code"]
    assert error.subcode == body.get("error_subcode")
    assert error.fbtrace_id == body.get("fbtrace_id")
    assert error.type == "OAuthException"


def test_every_kind_is_covered() -> None:
    covered = {kind for _, _, kind in CASES} | {ErrorKind.TRANSIENT}
    assert covered == set(ErrorKind)


def test_fields_carried_and_message_readable() -> None:
    error = GraphApiError.from_response(400, g.load(g.DISPLAY_NAME_NOT_READY), operation="register")
    assert (error.http_status, error.code, error.subcode) == (400, 100, 2388001)
    assert error.user_title == "Cannot Create Certificate"
    assert error.user_msg == "The display name has not been approved yet."
    assert error.is_transient is False
    text = str(error)
    assert text.startswith("register: (#100) Cannot Create Certificate")
    assert "code=100/2388001" in text and "kind=display_name_not_ready" in text
    assert error.to_dict() == {
        "type": "display_name_not_ready",
        "message": "(#100) Cannot Create Certificate",
        "code": 100,
        "subcode": 2388001,
    }


def test_classification_ignores_message_text() -> None:
    body = g.load(g.INVALID_PARAMETER)
    body["error"]["message"] = "Cannot Create Certificate"  # same words, no subcode: not the 2388001 case
    assert GraphApiError.from_response(400, body).kind is ErrorKind.INVALID_REQUEST


def test_throttle_carries_time_to_regain_access() -> None:
    error = GraphApiError.from_response(429, g.load(g.WABA_RATE_LIMIT))
    assert error.retry_after_s == 12 * 60
    assert error.retryable


@pytest.mark.parametrize(
    ("code", "subcode", "status", "transient", "kind"),
    [
        (None, None, None, False, ErrorKind.TRANSIENT),  # timeout / connection error: no answer
        (None, None, 502, False, ErrorKind.TRANSIENT),  # gateway error without a Graph body
        (None, None, 429, False, ErrorKind.THROTTLED),
        (100, None, 500, False, ErrorKind.TRANSIENT),
        (131026, None, 400, True, ErrorKind.TRANSIENT),  # an unmapped code Meta calls transient: trust it
        (131031, None, 403, True, ErrorKind.ACCOUNT_LOCKED),  # a mapped code decides, not the flag
        (250, None, 400, False, ErrorKind.PERMISSION),
        (299, None, 400, False, ErrorKind.PERMISSION),
        (300, None, 400, False, ErrorKind.UNKNOWN),
        (1, None, 400, False, ErrorKind.UNKNOWN),  # "Error validating client secret": do not retry
        (1, None, 500, True, ErrorKind.TRANSIENT),
    ],
)
def test_classify_table(code, subcode, status, transient, kind) -> None:
    assert classify(code, subcode, status, transient) is kind


@pytest.mark.parametrize(
    ("details", "wait"),
    [
        (
            "Too many two step verification PIN guesses for this phone number. Try again after 60 minutes.",
            3600,
        ),
        ("Two step verification PIN was entered too quickly. Try again after 30 seconds.", 30),
        ("Please wait 1 hour and 30 minutes before trying again", 5400),
        ("try again in 2 hrs", 7200),
        ("Retry after 1 day", 86400),
        ("Wait 5 min.", 300),
        ("Try again later.", None),
        ("Param pin must be 6 characters long.", None),
        ("", None),
        (None, None),
    ],
)
def test_wait_read_from_details(details: str | None, wait: int | None) -> None:
    expected = None if wait is None else timedelta(seconds=wait)
    assert wait_in_details(details) == expected


def test_details_carried_from_the_error_body() -> None:
    error = GraphApiError.from_response(400, g.load(g.PIN_TOO_MANY_GUESSES_WITH_WAIT), operation="register")
    assert error.details is not None and error.details.endswith("Try again after 60 minutes.")
    assert error.wait == timedelta(minutes=60)
    assert GraphApiError.from_response(400, g.load(g.PIN_TOO_MANY_GUESSES)).wait is None
    assert pickle.loads(pickle.dumps(error)).wait == timedelta(minutes=60)


def test_answered_tells_a_lost_answer_from_an_error_answer() -> None:
    assert GraphApiError.from_response(503, None).answered
    assert not GraphApiError.transport("timed out (ReadTimeout)", operation="register").answered


def test_body_that_is_not_a_graph_error() -> None:
    error = GraphApiError.from_response(502, "<html>Bad Gateway</html>")
    assert error.kind is ErrorKind.TRANSIENT and error.code is None


def test_survives_pickling() -> None:
    error = GraphApiError.from_response(400, g.load(g.REGISTER_LIMIT), operation="register")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.kind, clone.code, clone.operation, str(clone)) == (
        error.kind,
        error.code,
        error.operation,
        str(error),
    )
