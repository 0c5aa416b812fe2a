"""pywa 4.5.0, unchanged, against the simulator: an independent client agrees with it.

pywa hard-codes ``https://graph.facebook.com/v{api_version}`` as its session's base URL; the
only thing added here is an ``httpx`` request hook on the session we hand it, which sends
``graph.facebook.com`` traffic to the simulator on loopback (and, where a test says so, adds
``appsecret_proof`` the way a production transport would). Every call, body, field list and
error mapping below is pywa's own.

Where pywa and the simulator disagreed, Meta's documentation decided; all changes were on the
simulator side, none on pywa's:

- ``get_business_phone_number()`` asks 27 fields; the simulator refused 11 that Meta documents
  for the phone-number node (``certificate``, ``conversational_automation``, ``is_pin_enabled``,
  ...). It now accepts every documented field and leaves out the ones without a value.
- ``whatsapp_business_manager_messaging_limit`` is a string (``TIER_250``) from v24.0 on
  (Meta's messaging-limits page); the simulator answered the older object form.
- ``deregister_phone_number()`` and ``get_business_account()`` (``GET /{waba_id}``) had no
  endpoint in the simulator.
- ``delete_waba_callback_url()`` POSTs ``subscribed_apps`` without ``override_callback_uri``,
  which Meta documents as removing the WABA's alternate callback; the simulator kept it.
- pywa reads ``business_verification_status`` in lower case and ``subscribed_apps`` as a
  ``{"data": [...]}`` edge, as Meta's WhatsApp Business Account reference has them (the OpenAPI
  spec says upper case and a bare list); the simulator follows the reference.

No case needed an ``xfail``: where this module checks pywa's behaviour, it matches Meta's docs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pywa import WhatsApp
from pywa.errors import (
    ExpiredAccessToken,
    RateLimitIssues,
    RegistrationOrDeregistrationFailed,
    ToManyAPICalls,
    WhatsAppError,
)
from pywa.types.others import BusinessVerificationStatus

from include.graph_simulator.graph import appsecret_proof
from include.graph_simulator.process import RunningSimulator, SimulatorControl

API_VERSION = "24.0"
PIN = "246810"
CALLBACK = "https://hooks.example.test/pywa"
META_HOST = "graph.facebook.com"

Client = Callable[..., WhatsApp]


def _to_simulator(base_url: str, *, app_secret: str | None) -> Callable[[httpx.Request], None]:
    """An httpx request hook: Meta's host -> the simulator; optionally add ``appsecret_proof``."""
    target = httpx.URL(base_url)

    def rewrite(request: httpx.Request) -> None:
        if request.url.host == META_HOST:
            request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
            request.headers["Host"] = target.netloc.decode()
        if app_secret is not None:
            token = request.headers["Authorization"].removeprefix("Bearer ")
            proof = appsecret_proof(app_secret, token)
            request.url = request.url.copy_merge_params({"appsecret_proof": proof})

    return rewrite


@pytest.fixture
def pywa_client(simulator_process: RunningSimulator, sim: SimulatorControl) -> Iterator[Client]:
    """Builds pywa ``WhatsApp`` clients bound to the simulator; closes their sessions after."""
    sessions: list[httpx.Client] = []

    def build(number: dict[str, Any], token: str, *, with_proof: bool = False) -> WhatsApp:
        hook = _to_simulator(simulator_process.base_url, app_secret=sim.app_secret if with_proof else None)
        session = httpx.Client(timeout=10.0, event_hooks={"request": [hook]})
        sessions.append(session)
        return WhatsApp(
            phone_id=number["phone_number_id"],
            waba_id=number["waba_id"],
            token=token,
            session=session,
            api_version=API_VERSION,
        )

    yield build
    for session in sessions:
        session.close()


def onboarded(sim: SimulatorControl, **state: Any) -> tuple[dict[str, Any], str]:
    """A number and a business token for its WABA (what Embedded Signup hands a platform)."""
    number = sim.add_number(**state)
    return number, sim.new_token(number["waba_id"])


def test_phone_number_with_pywas_default_fields(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim, name_status="APPROVED", messaging_limit_tier="TIER_2K", pin=PIN)
    wa = pywa_client(number, token)

    phone = wa.get_business_phone_number()

    assert phone.id == number["phone_number_id"]
    assert phone.display_phone_number == number["display_phone_number"]
    assert (phone.name_status, phone.code_verification_status, phone.platform_type) == (
        "APPROVED",
        "VERIFIED",
        "NOT_APPLICABLE",
    )
    assert phone.throughput == {"level": "NOT_APPLICABLE"}
    assert phone.whatsapp_business_manager_messaging_limit == "TIER_2K"
    assert phone.is_pin_enabled and not phone.is_on_biz_app
    assert phone.certificate and phone.health_status["can_send_message"] == "BLOCKED"
    [call] = sim.calls(path=f"/{number['phone_number_id']}$")
    assert call["status"] == 200 and len(call["query"]["fields"].split(",")) == 27


def test_phone_numbers_are_paged_through_paging_next(sim: SimulatorControl, pywa_client: Client) -> None:
    sim.configure(page_size=2)
    first, token = onboarded(sim)
    ids = [first["phone_number_id"]]
    ids += [sim.add_number(waba_id=first["waba_id"])["phone_number_id"] for _ in range(4)]
    sim.add_number()  # another WABA's number never shows up
    wa = pywa_client(first, token)

    page = wa.get_business_phone_numbers()
    seen = [phone.id for phone in page]
    while page.has_next:
        page = page.next()
        seen += [phone.id for phone in page]

    assert seen == ids
    assert len(sim.calls(path="/phone_numbers$")) == 3


def test_register_deregister_and_register_again(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim, name_status="APPROVED")
    phone = number["phone_number_id"]
    wa = pywa_client(number, token)

    assert wa.register_phone_number(PIN, data_localization_region="DE").success
    assert sim.number(phone)["status"] == "CONNECTED"
    assert wa.deregister_phone_number().success
    state = sim.number(phone)
    assert (state["status"], state["platform_type"], state["deregister_attempts_72h"]) == (
        "DISCONNECTED",
        "NOT_APPLICABLE",
        1,
    )

    with pytest.raises(WhatsAppError) as not_registered:
        wa.deregister_phone_number()
    assert (type(not_registered.value), not_registered.value.code) == (WhatsAppError, 133010)
    with pytest.raises(WhatsAppError) as too_soon:
        wa.register_phone_number(PIN)
    assert too_soon.value.code == 133015 and "5 minutes" in (too_soon.value.details or "")

    sim.advance(300)
    assert wa.register_phone_number(PIN).success
    assert sim.number(phone)["register_attempts_72h"] == 3


def test_waba_callback_override_and_its_deletion(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim)
    wa = pywa_client(number, token)

    assert wa.override_waba_callback_url(CALLBACK, "waba-verify").success
    [app] = wa.api.get_waba_subscribed_apps(number["waba_id"])["data"]
    assert app["override_callback_uri"] == CALLBACK
    assert app["whatsapp_business_api_data"]["id"] == sim.app_id

    assert wa.delete_waba_callback_url().success
    [app] = wa.api.get_waba_subscribed_apps(number["waba_id"])["data"]
    assert "override_callback_uri" not in app  # Meta: POST without the URI removes it
    assert sim.number(number["phone_number_id"])["waba"]["override_callback_uri"] is None


def test_phone_callback_override_and_its_deletion(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim, subscribed=True)
    wa = pywa_client(number, token)

    assert wa.override_phone_callback_url(f"{CALLBACK}/phone", "phone-verify").success
    assert wa.get_business_phone_number().webhook_configuration == {"phone_number": f"{CALLBACK}/phone"}

    assert wa.delete_phone_callback_url().success
    assert "phone_number" not in (wa.get_business_phone_number().webhook_configuration or {})
    assert sim.number(number["phone_number_id"])["webhook_configuration"] == {
        "override_callback_uri": None,
        "verify_token": None,
    }


def test_waba_details(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim, subscribed=True)
    wa = pywa_client(number, token)

    waba = wa.get_business_account()

    assert (waba.id, waba.name) == (number["waba_id"], sim.number(number["phone_number_id"])["waba"]["name"])
    assert (waba.currency, waba.timezone_id, waba.status) == ("USD", "1", "ACTIVE")
    assert waba.message_template_namespace
    assert waba.business_verification_status is BusinessVerificationStatus.VERIFIED
    assert waba.owner_business_info is not None and waba.owner_business_info.id == number["business_id"]
    assert [app.id for app in waba.subscribed_apps or ()] == [sim.app_id]


def _expired(sim: SimulatorControl, number: dict[str, Any]) -> None:
    sim.update_number(number["phone_number_id"], token_state="expired")


def _throttled(code: int) -> Callable[[SimulatorControl, dict[str, Any]], None]:
    return lambda sim, number: sim.add_fault(kind="throttle", code=code, count=1)


@pytest.mark.parametrize(
    ("cause", "error_class", "code"),
    [
        (_expired, ExpiredAccessToken, 190),
        (_throttled(80007), RateLimitIssues, 80007),
        (_throttled(4), ToManyAPICalls, 4),
    ],
    ids=["190", "80007", "4"],
)
def test_pywa_error_classes_for_reads(
    sim: SimulatorControl,
    pywa_client: Client,
    cause: Callable[[SimulatorControl, dict[str, Any]], None],
    error_class: type[WhatsAppError],
    code: int,
) -> None:
    number, token = onboarded(sim)
    cause(sim, number)
    with pytest.raises(WhatsAppError) as caught:
        pywa_client(number, token).get_business_phone_number()
    assert type(caught.value) is error_class and caught.value.code == code


def test_register_limit_is_pywas_registration_error(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim, name_status="APPROVED")
    wa = pywa_client(number, token)
    for _ in range(10):
        wa.register_phone_number(PIN)
    with pytest.raises(WhatsAppError) as caught:
        wa.register_phone_number(PIN)
    assert type(caught.value) is RegistrationOrDeregistrationFailed and caught.value.code == 133016


def test_display_name_not_ready_is_a_plain_code_100(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim, review_seconds=600)
    with pytest.raises(WhatsAppError) as caught:
        pywa_client(number, token).register_phone_number(PIN)
    error = caught.value
    assert type(error) is WhatsAppError  # pywa has no class for code 100: the base class is right
    assert (error.code, error.subcode, error.user_title) == (100, 2388001, "Cannot Create Certificate")


def test_graph_error_fault_reaches_pywa_with_its_details(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim, name_status="APPROVED")
    sim.add_fault(kind="graph_error", path="/register$", code=133008, details="Try again after 42 minutes.")
    with pytest.raises(WhatsAppError) as caught:
        pywa_client(number, token).register_phone_number(PIN)
    assert (caught.value.code, caught.value.details, caught.value.status_code) == (
        133008,
        "Try again after 42 minutes.",
        400,
    )


def test_required_appsecret_proof(sim: SimulatorControl, pywa_client: Client) -> None:
    number, token = onboarded(sim)
    sim.configure(require_appsecret_proof=True)

    with pytest.raises(WhatsAppError) as caught:  # pywa itself never sends a proof
        pywa_client(number, token).get_business_phone_number()
    assert (caught.value.code, caught.value.type) == (100, "GraphMethodException")
    assert caught.value.message == "API calls from the server require an appsecret_proof argument"

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and nothing in the answer surprises pywa
        phone = pywa_client(number, token, with_proof=True).get_business_phone_number()
    assert phone.id == number["phone_number_id"]
