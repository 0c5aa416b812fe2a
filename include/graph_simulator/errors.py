"""Meta's error answers: one exception carrying exactly the body and HTTP status Graph sends.

Codes, subcodes and statuses follow Meta's documentation and the OpenAPI spec's examples
(400 for OAuthException/parameter errors, 401 for code 190, 403 for permissions, 429 for
throttling, 500 for transient failures), because the project decides on ``code`` and
``error_subcode`` and must see the real ones here.
"""

from __future__ import annotations

import secrets
from typing import Any


def fbtrace_id() -> str:
    return "Sim" + secrets.token_urlsafe(12)


class GraphError(Exception):
    """Raised anywhere in request handling; rendered as ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        type: str = "OAuthException",
        user_title: str | None = None,
        user_msg: str | None = None,
        is_transient: bool = False,
        error_data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.subcode = subcode
        self.type = type
        self.user_title = user_title
        self.user_msg = user_msg
        self.is_transient = is_transient
        self.error_data = error_data

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        if self.error_data is not None:
            error["error_data"] = self.error_data
        error["is_transient"] = self.is_transient
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def invalid_param(message: str, subcode: int | None = None) -> GraphError:
    return GraphError(400, 100, message, subcode=subcode)


def no_such_object(object_id: str, method: str) -> GraphError:
    verb = "get" if method == "GET" else "post"
    return GraphError(
        400,
        100,
        f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation.",
        subcode=33,
        type="GraphMethodException",
    )


def unknown_path() -> GraphError:
    return GraphError(400, 2500, "Unknown path components")


def missing_token() -> GraphError:
    return GraphError(400, 104, "An access token is required to request this resource.")


def invalid_token(subcode: int | None = None, message: str | None = None) -> GraphError:
    messages = {
        463: "Error validating access token: Session has expired.",
        460: "Error validating access token: The session has been invalidated because the user changed "
        "their password or Facebook has changed the session for security reasons.",
    }
    return GraphError(
        401,
        190,
        message or messages.get(subcode or 0, "Invalid OAuth access token - Cannot parse access token"),
        subcode=subcode,
    )


def permission_denied() -> GraphError:
    return GraphError(
        403,
        200,
        "(#200) Permissions error",
        subcode=1349174,
        user_title="Permission Denied",
        user_msg="Your app doesn't have permission to access this resource",
    )


def waba_throttled(minutes: int) -> GraphError:
    return GraphError(
        429,
        80007,
        "(#80007) Rate limit issues",
        user_title="Rate limit hit",
        user_msg="The WhatsApp Business Account has reached its rate limit.",
        is_transient=True,
        error_data={"estimated_time_to_regain_access": minutes},
    )


def app_throttled(minutes: int) -> GraphError:
    return GraphError(
        429,
        4,
        "(#4) Application request limit reached",
        subcode=2446079,
        is_transient=True,
        error_data={"estimated_time_to_regain_access": minutes},
    )


def server_error() -> GraphError:
    return GraphError(
        500,
        2,
        "An unexpected error has occurred. Please retry your request later.",
        is_transient=True,
    )


#: Titles of Meta's error codes (Cloud API error-code page); the ``message`` Graph sends for them.
TITLES: dict[int, str] = {
    1: "API Unknown",
    2: "API Service",
    4: "Application request limit reached",
    10: "Permission Denied",
    100: "Invalid parameter",
    190: "Access token has expired",
    200: "Permissions error",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131009: "Parameter value is not valid",
    131031: "Account has been locked",
    133000: "Incomplete Deregistration",
    133004: "Server Temporarily Unavailable",
    133005: "Two step verification PIN Mismatch",
    133006: "Phone number re-verification needed",
    133008: "Too Many two step verification PIN Guesses",
    133009: "Two step verification PIN Guessed Too Fast",
    133010: "Account not registered",
    133015: "Please wait a few minutes before attempting to register this phone number",
    133016: "Account register deregister rate limit exceeded",
}


def whatsapp_error(status: int, code: int, details: str | None, *, subcode: int | None = None) -> GraphError:
    """A Cloud API error as Graph sends it: ``(#code) Title`` plus ``error_data.details``."""
    message = f"(#{code}) {TITLES.get(code, 'Graph API error')}"
    error_data = None if details is None else {"messaging_product": "whatsapp", "details": details}
    return GraphError(status, code, message, subcode=subcode, error_data=error_data)


def appsecret_proof_missing() -> GraphError:
    """Meta's answer when "Require App Secret" is on and the call carries no proof."""
    return GraphError(
        400, 100, "API calls from the server require an appsecret_proof argument", type="GraphMethodException"
    )


def appsecret_proof_invalid() -> GraphError:
    return GraphError(
        400, 100, "Invalid appsecret_proof provided in the API argument", type="GraphMethodException"
    )
