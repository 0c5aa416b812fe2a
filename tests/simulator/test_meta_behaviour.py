"""The simulator's finer points, over loopback HTTP: the behaviour Meta documents.

Phone-number fields by API version, ``appsecret_proof`` (plain calls and batches),
deregistration and its limit, display-name changes and their 14-day window, register errors
reached through their causes, the ``graph_error`` fault, and the alternate-callback rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from include.graph_simulator.graph import PHONE_FIELDS, appsecret_proof
from include.graph_simulator.process import RunningSimulator, SimulatorControl

PIN = "135790"
DAY = 24 * 3600


@pytest.fixture
def graph(simulator_process: RunningSimulator, sim: SimulatorControl) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{simulator_process.base_url}/v24.0") as client:
        yield client


def onboarded(sim: SimulatorControl, **state: Any) -> tuple[str, str, dict[str, str]]:
    number = sim.add_number(**state)
    token = sim.new_token(number["waba_id"])
    return number["phone_number_id"], number["waba_id"], {"Authorization": f"Bearer {token}"}


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.is_error, response.text
    return response.json()["error"]


def test_every_documented_phone_field_by_version(sim: SimulatorControl, graph: httpx.Client) -> None:
    phone, _, auth = onboarded(sim, messaging_limit_tier="TIER_2K", name_status="APPROVED")
    every = ",".join(PHONE_FIELDS)

    v24 = graph.get(f"/{phone}", params={"fields": every}, headers=auth).json()
    assert v24["whatsapp_business_manager_messaging_limit"] == "TIER_2K"
    assert "messaging_limit_tier" not in v24  # deprecated: accepted, left out
    assert v24["certificate"] and "new_certificate" not in v24 and "new_display_name" not in v24
    v23 = graph.get(f"/../v23.0/{phone}", params={"fields": every}, headers=auth).json()
    assert v23["messaging_limit_tier"] == "TIER_2K"
    assert v23["whatsapp_business_manager_messaging_limit"] == {"current_limit": "TIER_2K"}

    unknown = error_of(graph.get(f"/{phone}", params={"fields": "status,colour"}, headers=auth))
    assert unknown["code"] == 100 and "(colour)" in unknown["message"]


def test_waba_node(sim: SimulatorControl, graph: httpx.Client) -> None:
    _, waba, auth = onboarded(sim, subscribed=True)
    default = graph.get(f"/{waba}", headers=auth).json()
    assert set(default) == {"id", "name", "timezone_id", "message_template_namespace"}
    asked = graph.get(f"/{waba}", params={"fields": "currency,subscribed_apps"}, headers=auth).json()
    assert asked["currency"] == "USD" and asked["subscribed_apps"]["data"][0]["whatsapp_business_api_data"]
    assert error_of(graph.get(f"/{waba}", params={"fields": "pin"}, headers=auth))["code"] == 100
    assert error_of(graph.get(f"/{waba}"))["code"] == 104


def test_appsecret_proof_required(sim: SimulatorControl, graph: httpx.Client) -> None:
    phone, waba, auth = onboarded(sim)
    other_phone, _, other_auth = onboarded(sim)
    token, other = auth["Authorization"][7:], other_auth["Authorization"][7:]
    proof = appsecret_proof(sim.app_secret, token)
    sim.configure(require_appsecret_proof=True)

    missing = error_of(graph.get(f"/{phone}", headers=auth))
    assert (missing["code"], missing["type"]) == (100, "GraphMethodException")
    assert missing["message"] == "API calls from the server require an appsecret_proof argument"
    wrong = error_of(graph.get(f"/{phone}", params={"appsecret_proof": "0" * 64}, headers=auth))
    assert wrong["message"] == "Invalid appsecret_proof provided in the API argument"
    assert graph.get(f"/{phone}", params={"appsecret_proof": proof}, headers=auth).status_code == 200
    assert graph.post(f"/{waba}/subscribed_apps", data={"appsecret_proof": proof}, headers=auth).is_success
    assert graph.get("/debug_token", params={"input_token": token, "access_token": sim.app_token}).is_success

    def batch(items: list[dict[str, str]], **envelope: str) -> list[int]:
        answer = graph.post("/", data={"batch": json.dumps(items), **envelope})
        assert answer.status_code == 200, answer.text
        return [item["code"] for item in answer.json()]

    own = f"{other_phone}?access_token={other}"
    sub = [{"method": "GET", "relative_url": phone}, {"method": "GET", "relative_url": own}]
    top = {"access_token": token, "appsecret_proof": proof}
    assert batch(sub, **top) == [200, 400]  # the top-level proof covers the top-level token only
    sub[1]["relative_url"] += f"&appsecret_proof={appsecret_proof(sim.app_secret, other)}"
    assert batch(sub, **top) == [200, 200]
    refused = graph.post("/", data={"batch": json.dumps(sub), "access_token": token})
    assert error_of(refused)["code"] == 100


def test_deregister_has_its_own_limit_and_needs_a_registration(
    sim: SimulatorControl, graph: httpx.Client
) -> None:
    phone, _, auth = onboarded(sim, name_status="APPROVED")
    register = {"messaging_product": "whatsapp", "pin": PIN}
    assert error_of(graph.post(f"/{phone}/deregister", headers=auth))["code"] == 133010
    assert graph.post(f"/{phone}/register", json=register, headers=auth).is_success
    assert graph.post(f"/{phone}/deregister", headers=auth).json() == {"success": True}
    wait = error_of(graph.post(f"/{phone}/register", json=register, headers=auth))
    assert wait["code"] == 133015 and "Wait 5 minutes" in wait["error_data"]["details"]
    for _ in range(8):
        assert error_of(graph.post(f"/{phone}/deregister", headers=auth))["code"] == 133010
    limit = error_of(graph.post(f"/{phone}/deregister", headers=auth))
    assert limit["code"] == 133016
    state = sim.number(phone)
    assert (state["deregister_attempts_72h"], state["register_attempts_72h"]) == (11, 2)
    sim.advance(300)
    assert graph.post(f"/{phone}/register", json=register, headers=auth).is_success


def test_display_name_change_and_its_14_day_window(sim: SimulatorControl, graph: httpx.Client) -> None:
    phone, _, auth = onboarded(sim, name_status="APPROVED", review_seconds=600, verified_name="Old")
    register = {"messaging_product": "whatsapp", "pin": PIN}

    def fields() -> dict[str, Any]:
        params = {"fields": "verified_name,name_status,new_name_status,new_display_name"}
        return graph.get(f"/{phone}", params=params, headers=auth).json()

    assert graph.post(f"/{phone}", json={"new_display_name": "New Name"}, headers=auth).is_success
    assert fields()["new_name_status"] == "PENDING_REVIEW"
    sim.advance(600)
    assert (fields()["new_name_status"], fields()["new_display_name"]) == ("APPROVED", "New Name")
    sim.advance(13 * DAY)
    assert graph.post(f"/{phone}/register", json=register, headers=auth).is_success
    assert fields() == {
        "id": phone,
        "verified_name": "New Name",
        "name_status": "APPROVED",
        "new_name_status": "NONE",
    }

    graph.post(f"/{phone}", json={"new_display_name": "Too Late"}, headers=auth)
    sim.advance(600 + 14 * DAY + 1)
    assert (fields()["new_name_status"], fields()["verified_name"]) == ("EXPIRED", "New Name")

    graph.post(f"/{phone}", json={"new_display_name": "Refused"}, headers=auth)
    sim.update_number(phone, new_name_status="DECLINED")
    sim.advance(600)
    assert fields()["new_name_status"] == "DECLINED"

    for name in ("Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"):
        assert graph.post(f"/{phone}", json={"new_display_name": name}, headers=auth).is_success
    assert error_of(graph.post(f"/{phone}", json={"new_display_name": "Eleven"}, headers=auth))["code"] == 100
    assert error_of(graph.post(f"/{phone}", json={"new_display_name": "X"}, headers=auth))["code"] == 100


@pytest.mark.parametrize(
    ("state", "code", "status"),
    [({"locked": True}, 131031, 403), ({"needs_reverification": True}, 133006, 400)],
)
def test_register_errors_from_the_account_state(
    sim: SimulatorControl, graph: httpx.Client, state: dict[str, bool], code: int, status: int
) -> None:
    phone, _, auth = onboarded(sim, name_status="APPROVED", **state)
    answer = graph.post(
        f"/{phone}/register", json={"messaging_product": "whatsapp", "pin": PIN}, headers=auth
    )
    assert (answer.status_code, error_of(answer)["code"]) == (status, code)
    assert error_of(answer)["error_data"]["details"]


def test_wrong_pins_too_fast_then_too_many(sim: SimulatorControl, graph: httpx.Client) -> None:
    phone, _, auth = onboarded(sim, name_status="APPROVED", pin=PIN)

    def register(pin: str) -> dict[str, Any]:
        answer = graph.post(
            f"/{phone}/register", json={"messaging_product": "whatsapp", "pin": pin}, headers=auth
        )
        return answer.json().get("error") or answer.json()

    assert register("000001")["code"] == 133005
    fast = register("000002")
    assert fast["code"] == 133009 and fast["error_data"]["details"].endswith("Try again after 30 seconds.")
    for pin in ("000003", "000004"):
        sim.advance(31)
        assert register(pin)["code"] == 133005
    sim.advance(31)
    many = register("000005")
    assert many["code"] == 133008 and many["error_data"]["details"].endswith("Try again after 60 minutes.")
    assert register(PIN)["code"] == 133008  # locked: even the right PIN waits
    sim.advance(3600)
    assert register(PIN) == {"success": True}


def test_graph_error_fault(sim: SimulatorControl, graph: httpx.Client) -> None:
    phone, _, auth = onboarded(sim, name_status="APPROVED")
    fault = sim.add_fault(
        kind="graph_error",
        path="/register$",
        code=131000,
        subcode=7,
        http_status=500,
        details="boom",
        count=1,
    )
    answer = graph.post(
        f"/{phone}/register", json={"messaging_product": "whatsapp", "pin": PIN}, headers=auth
    )
    error = error_of(answer)
    assert answer.status_code == 500 and (error["code"], error["error_subcode"]) == (131000, 7)
    assert error["error_data"]["details"] == "boom" and error["is_transient"]
    assert graph.get(f"/{phone}", headers=auth).status_code == 200  # path did not match
    assert sim.faults()[0]["applied"] == 1 and fault["kind"] == "graph_error"
    assert sim.number(phone)["register_attempts_72h"] == 0  # the fault answered before Meta's logic
    with pytest.raises(AssertionError, match="422"):
        sim.add_fault(kind="throttle", code=131000)


def test_alternate_callbacks_as_meta_documents(sim: SimulatorControl, graph: httpx.Client) -> None:
    phone, waba, auth = onboarded(sim)
    uri = "https://hooks.example.test/waba"

    def waba_override() -> str | None:
        [app] = graph.get(f"/{waba}/subscribed_apps", headers=auth).json()["data"]
        return app.get("override_callback_uri")

    body = {"override_callback_uri": uri, "verify_token": "vt"}
    assert graph.post(f"/{waba}/subscribed_apps", json=body, headers=auth).is_success
    assert waba_override() == uri
    assert graph.post(f"/{waba}/subscribed_apps", json={}, headers=auth).is_success
    assert waba_override() is None  # Meta: a POST without the URI removes the override
    for bad in ("http://hooks.example.test/x", "https://hooks.example.test/" + "x" * 175, "not a url"):
        answer = graph.post(
            f"/{waba}/subscribed_apps", json={**body, "override_callback_uri": bad}, headers=auth
        )
        assert error_of(answer)["code"] == 100, bad
        phone_body = {"webhook_configuration": {"override_callback_uri": bad, "verify_token": "vt"}}
        assert error_of(graph.post(f"/{phone}", json=phone_body, headers=auth))["code"] == 100
    assert graph.post(
        f"/{waba}/subscribed_apps", json={**body, "override_callback_uri": uri[:8] + "h" * 192}, headers=auth
    ).is_success
    assert graph.delete(f"/{waba}/subscribed_apps", headers=auth).is_success
    assert graph.get(f"/{waba}/subscribed_apps", headers=auth).json() == {"data": []}
