"""Every simulator answer for an endpoint Meta's OpenAPI spec defines fits its response schema.

A recording client captures each answer (and each batch sub-answer) of a run that walks
through success and every error status the simulator produces; all of them are then
validated against the spec's schema for that path, method and status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from include.graph_simulator.process import SimulatorControl
from tests.support.openapi import validate_request, validate_response

TEMPLATES = [
    (re.compile(r"^/v\d+\.\d+/\d+/register$"), "/{Version}/{Phone-Number-ID}/register"),
    (re.compile(r"^/v\d+\.\d+/\d+/deregister$"), "/{Version}/{Phone-Number-ID}/deregister"),
    (re.compile(r"^/v\d+\.\d+/1\d+$"), "/{Version}/{WABA-ID}"),
    (re.compile(r"^/v\d+\.\d+/\d+/phone_numbers$"), "/{Version}/{WABA-ID}/phone_numbers"),
    (re.compile(r"^/v\d+\.\d+/\d+/subscribed_apps$"), "/{Version}/{WABA-ID}/subscribed_apps"),
    (re.compile(r"^/v\d+\.\d+/\d+$"), "/{Version}/{Phone-Number-ID}"),
]
ALL_FIELDS = (
    "display_phone_number,verified_name,name_status,new_name_status,code_verification_status,"
    "platform_type,throughput,messaging_limit_tier,whatsapp_business_manager_messaging_limit,"
    "quality_rating,status,account_mode,health_status,webhook_configuration,last_onboarded_time"
)
WABA_FIELDS = (
    "name,currency,timezone_id,message_template_namespace,account_review_status,"
    "business_verification_status,country,ownership_type,on_behalf_of_business_info,"
    "is_enabled_for_insights,subscribed_apps,phone_numbers,status,health_status"
)
PIN = "246810"


def template_of(path: str) -> str | None:
    return next((template for pattern, template in TEMPLATES if pattern.match(path)), None)


def as_spec_writes_it(template: str, status: int, body: Any) -> Any:
    """Undo the two WABA-node deviations the simulator keeps on purpose (README, "Deviations"):
    Meta's reference has ``business_verification_status`` in lower case and ``subscribed_apps``
    as a ``{"data": [...]}`` edge; the spec has upper case and a bare list of apps."""
    if template != "/{Version}/{WABA-ID}" or status != 200:
        return body
    body = dict(body)
    if "business_verification_status" in body:
        body["business_verification_status"] = body["business_verification_status"].upper()
    if "subscribed_apps" in body:
        body["subscribed_apps"] = [
            app["whatsapp_business_api_data"] for app in body["subscribed_apps"]["data"]
        ]
    if "phone_numbers" in body:
        body["phone_numbers"] = body["phone_numbers"]["data"]
    return body


class Recorder:
    """Collects ``(method, path, status, body)`` of every answer the client receives."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, str, int, Any]] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        body = response.json()
        self.answers.append((request.method, request.url.path, response.status_code, body))
        if request.url.path.rstrip("/").count("/") <= 1 and isinstance(body, list):  # a batch
            sent = json.loads(dict(httpx.QueryParams(request.content.decode()))["batch"])
            for sub, item in zip(sent, body, strict=True):
                path = "/" + httpx.URL(sub["relative_url"]).path.lstrip("/")
                self.answers.append((sub["method"], path, item["code"], json.loads(item["body"])))


@pytest.fixture
def graph(simulator_process: Any, sim: SimulatorControl) -> Iterator[tuple[httpx.Client, Recorder]]:
    recorder = Recorder()
    with httpx.Client(
        base_url=f"{simulator_process.base_url}/v24.0", event_hooks={"response": [recorder]}
    ) as client:
        yield client, recorder


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_answer_matches_the_spec(sim: SimulatorControl, graph: tuple[httpx.Client, Recorder]) -> None:
    client, recorder = graph
    sim.configure(page_size=2)
    first = sim.add_number(review_seconds=600)
    waba, phone = first["waba_id"], first["phone_number_id"]
    sim.add_number(waba_id=waba, name_status="APPROVED")
    sim.add_number(waba_id=waba, quality_rating="UNKNOWN", code_verification_status="NOT_VERIFIED")
    other = sim.add_number()
    token = client.get(
        "/oauth/access_token",
        params={"client_id": sim.app_id, "client_secret": sim.app_secret, "code": first["code"]},
    ).json()["access_token"]
    auth = bearer(token)

    # phone number node: default fields, every field, unknown field, no token, other WABA's number
    client.get(f"/{phone}", headers=auth)
    client.get(f"/{phone}", params={"fields": ALL_FIELDS}, headers=auth)
    client.get(f"/{phone}", params={"fields": "name_status,bogus"}, headers=auth)
    client.get(f"/{phone}")
    client.get(f"/{other['phone_number_id']}", headers=auth)
    # listing: two pages, with and without fields
    page = client.get(
        f"/{waba}/phone_numbers", params={"fields": "name_status,throughput"}, headers=auth
    ).json()
    client.get(page["paging"]["next"], headers=auth)
    client.get(f"/{waba}/phone_numbers", headers=auth)
    # subscription, then the override, in the wrong order first
    override = {
        "webhook_configuration": {
            "override_callback_uri": "https://hooks.example.test/x",
            "verify_token": "vt",
        }
    }
    validate_request("POST", "/{Version}/{Phone-Number-ID}", override)
    client.post(f"/{phone}", json=override, headers=auth)
    client.get(f"/{waba}/subscribed_apps", headers=auth)
    validate_request("POST", "/{Version}/{WABA-ID}/subscribed_apps", {})
    client.post(f"/{waba}/subscribed_apps", json={}, headers=auth)
    client.get(f"/{waba}/subscribed_apps", headers=auth)
    client.post(f"/{phone}", json=override, headers=auth)
    client.get(f"/{phone}", params={"fields": "webhook_configuration"}, headers=auth)
    # register: before review, bad body, after review, PIN mismatch, the 72 h limit
    body = {"messaging_product": "whatsapp", "pin": PIN}
    validate_request("POST", "/{Version}/{Phone-Number-ID}/register", body)
    client.post(f"/{phone}/register", json=body, headers=auth)
    client.post(f"/{phone}/register", json={"messaging_product": "whatsapp", "pin": "12"}, headers=auth)
    sim.advance(600)
    client.post(f"/{phone}/register", json=body, headers=auth)
    client.post(f"/{phone}/register", json={**body, "pin": "999999"}, headers=auth)
    for _ in range(8):
        client.post(f"/{phone}/register", json=body, headers=auth)
    assert client.post(f"/{phone}/register", json=body, headers=auth).json()["error"]["code"] == 133016
    # deregister: success, then "not registered"; the WABA node with default and all fields
    client.post(f"/{phone}/deregister", headers=auth)
    client.post(f"/{phone}/deregister", headers=auth)
    client.get(f"/{waba}", headers=auth)
    client.get(f"/{waba}", params={"fields": WABA_FIELDS}, headers=auth)
    client.get(f"/{waba}", params={"fields": "bogus"}, headers=auth)
    rename = {"new_display_name": "Jaspers Market"}
    validate_request("POST", "/{Version}/{Phone-Number-ID}", rename)
    client.post(f"/{phone}", json=rename, headers=auth)
    # batch sub-answers of the phone node, one of them failing
    batch = [{"method": "GET", "relative_url": f"v24.0/{phone}?fields={ALL_FIELDS}&access_token={token}"}]
    batch.append({"method": "GET", "relative_url": f"{other['phone_number_id']}?access_token={token}"})
    client.post("/", data={"batch": json.dumps(batch)}, headers=bearer(sim.app_token))
    # injected server error, throttling, permission loss, expiry
    sim.add_fault(kind="http_500", path=r"/subscribed_apps$", count=1)
    client.get(f"/{waba}/subscribed_apps", headers=auth)
    sim.configure(waba_hourly_budget=1)
    sim.advance(3600)
    client.get(f"/{phone}", headers=auth)
    client.get(f"/{waba}/phone_numbers", headers=auth)
    sim.configure(waba_hourly_budget=5000)
    sim.update_number(phone, token_state="no_permission")
    client.post(f"/{waba}/subscribed_apps", json={}, headers=auth)
    sim.update_number(phone, token_state="expired")
    client.post(f"/{phone}/register", json=body, headers=auth)
    client.delete(f"/{waba}/subscribed_apps", headers=bearer(sim.new_token(waba)))

    seen: set[tuple[str, str, int]] = set()
    for method, path, status, answer in recorder.answers:
        template = template_of(path)
        if template is None:
            continue
        validate_response(method, template, status, as_spec_writes_it(template, status, answer))
        seen.add((method, template, status))
    assert {status for _, _, status in seen} == {200, 400, 401, 403, 429, 500}
    for method, template in [
        ("GET", "/{Version}/{Phone-Number-ID}"),
        ("POST", "/{Version}/{Phone-Number-ID}"),
        ("POST", "/{Version}/{Phone-Number-ID}/register"),
        ("POST", "/{Version}/{Phone-Number-ID}/deregister"),
        ("GET", "/{Version}/{WABA-ID}"),
        ("GET", "/{Version}/{WABA-ID}/phone_numbers"),
        ("GET", "/{Version}/{WABA-ID}/subscribed_apps"),
        ("POST", "/{Version}/{WABA-ID}/subscribed_apps"),
        ("DELETE", "/{Version}/{WABA-ID}/subscribed_apps"),
    ]:
        assert (method, template, 200) in seen, (method, template)


def test_validators_reject_what_the_spec_rejects() -> None:
    with pytest.raises(AssertionError, match=r"/register.*pin"):
        validate_request(
            "POST", "/{Version}/{Phone-Number-ID}/register", {"messaging_product": "whatsapp", "pin": "1"}
        )
    with pytest.raises(AssertionError, match="override_callback_uri"):
        validate_request(
            "POST", "/{Version}/{Phone-Number-ID}", {"webhook_configuration": {"verify_token": "v"}}
        )
    with pytest.raises(AssertionError, match="display_phone_number"):
        validate_response(
            "GET", "/{Version}/{WABA-ID}/phone_numbers", 200, {"data": [{"id": "1", "status": "PENDING"}]}
        )
    with pytest.raises(AssertionError, match="code"):
        validate_response(
            "GET", "/{Version}/{Phone-Number-ID}", 400, {"error": {"message": "x", "type": "y"}}
        )
    with pytest.raises(AssertionError, match="no path"):
        validate_response("GET", "/{Version}/nowhere", 200, {})
