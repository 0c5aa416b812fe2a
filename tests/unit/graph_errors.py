"""Real Graph error bodies, as Meta sends them (OpenAPI spec examples and Meta's error-code page,
https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).

Raw JSON strings on purpose: the tests parse what goes over the wire, string keys and all.
"""

from __future__ import annotations

import json
from typing import Any

DISPLAY_NAME_NOT_READY = """{"error": {"message": "(#100) Cannot Create Certificate", "type": "OAuthException",
 "code": 100, "error_subcode": 2388001, "error_user_title": "Cannot Create Certificate",
 "error_user_msg": "The display name has not been approved yet.", "fbtrace_id": "A1b2C3d4", "is_transient": false}}"""
REGISTER_LIMIT = """{"error": {"message": "(#133016) Account register deregister rate limit exceeded",
 "type": "OAuthException", "code": 133016, "error_data": {"messaging_product": "whatsapp",
 "details": "Too many register or deregister attempts in 72 hours"}, "fbtrace_id": "B1"}}"""
PIN_MISMATCH = """{"error": {"message": "(#133005) Two step verification PIN Mismatch", "type": "OAuthException",
 "code": 133005, "fbtrace_id": "C1"}}"""
PIN_TOO_MANY_GUESSES = """{"error": {"message": "(#133008) Too Many two step verification PIN Guesses",
 "type": "OAuthException", "code": 133008, "fbtrace_id": "C2"}}"""
PIN_GUESSED_TOO_FAST = """{"error": {"message": "(#133009) Two step verification PIN Guessed Too Fast",
 "type": "OAuthException", "code": 133009, "fbtrace_id": "C3"}}"""
# Meta's error-code page: 133008/133009 "Try again after the time specified in the details
# response parameter" (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
PIN_TOO_MANY_GUESSES_WITH_WAIT = """{"error": {"message": "(#133008) Too Many two step verification PIN Guesses",
 "type": "OAuthException", "code": 133008, "error_data": {"messaging_product": "whatsapp",
 "details": "Too many two step verification PIN guesses for this phone number. Try again after 60 minutes."},
 "fbtrace_id": "C4"}}"""
PIN_GUESSED_TOO_FAST_WITH_WAIT = """{"error": {"message": "(#133009) Two step verification PIN Guessed Too Fast",
 "type": "OAuthException", "code": 133009, "error_data": {"messaging_product": "whatsapp",
 "details": "Two step verification PIN was entered too quickly. Try again after 30 seconds."},
 "fbtrace_id": "C5"}}"""
NEEDS_REVERIFICATION = """{"error": {"message": "(#133006) Phone number re-verification needed",
 "type": "OAuthException", "code": 133006, "error_data": {"messaging_product": "whatsapp",
 "details": "Phone number needs to be verified before registering. Verify it, then register."},
 "fbtrace_id": "C6"}}"""
REGISTER_TOO_SOON = """{"error": {"message":
 "(#133015) Please wait a few minutes before attempting to register this phone number", "type": "OAuthException",
 "code": 133015, "error_data": {"messaging_product": "whatsapp", "details":
 "The phone number you are attempting to register was recently deleted. Wait 5 minutes before re-trying the request."},
 "fbtrace_id": "C7"}}"""
NOT_REGISTERED = """{"error": {"message": "(#133010) Account not registered", "type": "OAuthException",
 "code": 133010, "error_data": {"messaging_product": "whatsapp",
 "details": "Phone number not registered on the WhatsApp Business Platform."}, "fbtrace_id": "C8"}}"""
SOMETHING_WENT_WRONG = """{"error": {"message": "(#131000) Something went wrong", "type": "OAuthException",
 "code": 131000, "error_data": {"messaging_product": "whatsapp", "details": "Something went wrong"},
 "fbtrace_id": "C9"}}"""
PARAMETER_VALUE_INVALID = """{"error": {"message": "(#131009) Parameter value is not valid",
 "type": "OAuthException", "code": 131009, "error_data": {"messaging_product": "whatsapp",
 "details": "Param pin must be 6 characters long."}, "fbtrace_id": "C10"}}"""
TOKEN_EXPIRED = """{"error": {"message": "Error validating access token: Session has expired on Tuesday.",
 "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "D1"}}"""
TOKEN_INVALID = (
    """{"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}}"""
)
NOT_SUPPORTED = """{"error": {"message": "Not supported", "type": "OAuthException", "code": 10}}"""
NO_PERMISSION_TO_REGISTER = """{"error": {"message": "(#200) You do not have permission to register",
 "type": "OAuthException", "code": 200, "error_subcode": 1349174, "fbtrace_id": "E1"}}"""
INSUFFICIENT_PERMISSIONS = """{"error": {"message": "This operation requires additional permissions",
 "type": "OAuthException", "code": 200}}"""
APP_RATE_LIMIT = """{"error": {"message": "Rate limit exceeded", "type": "OAuthException", "code": 4,
 "is_transient": true}}"""
WABA_RATE_LIMIT = """{"error": {"message": "Business request limit reached for WhatsApp Business Account",
 "type": "OAuthException", "code": 80007, "error_subcode": 2446079, "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn",
 "is_transient": true, "error_data": {"estimated_time_to_regain_access": 12}}}"""
USER_RATE_LIMIT = (
    """{"error": {"message": "User request limit reached", "type": "OAuthException", "code": 17}}"""
)
PAGE_RATE_LIMIT = (
    """{"error": {"message": "Page request limit reached", "type": "OAuthException", "code": 32}}"""
)
CUSTOM_RATE_LIMIT = """{"error": {"message": "Calls to this api have exceeded the rate limit.",
 "type": "OAuthException", "code": 613}}"""
THROUGHPUT_LIMIT = """{"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
 "is_transient": true}}"""
SERVICE_UNAVAILABLE = """{"error": {"message": "(#133004) Server Temporarily Unavailable",
 "type": "OAuthException", "code": 133004, "is_transient": true}}"""
UNKNOWN_TRANSIENT = """{"error": {"message": "An unexpected error has occurred. Please retry your request later.",
 "type": "OAuthException", "code": 2, "is_transient": true, "fbtrace_id": "F1"}}"""
INVALID_PARAMETER = """{"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
 "error_data": {"details": "Invalid value for pin"}, "fbtrace_id": "G1"}}"""
OVERRIDE_BEFORE_SUBSCRIBE = """{"error": {"message":
 "(#100) Before override the current callback uri, your app must be subscribed to receive messages for WABA.",
 "type": "OAuthException", "code": 100, "fbtrace_id": "H1"}}"""
ACCOUNT_LOCKED = """{"error": {"message": "(#131031) Business Account locked", "type": "OAuthException",
 "code": 131031, "fbtrace_id": "I1"}}"""


def load(raw: str) -> Any:
    return json.loads(raw)
