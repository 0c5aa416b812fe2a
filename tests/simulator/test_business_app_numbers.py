"""WhatsApp Business app numbers on Cloud API ("coexistence") in the simulator, over loopback HTTP.

Meta, "Onboard WhatsApp Business app users":
https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from include.graph_simulator.process import SimulatorControl, SimulatorProcess
from include.graph_simulator.saved_state import load_state
from include.graph_simulator.state import SimulatorConfig
from tests.support.webhook_receiver import Receiver

DAY = 24 * 3600


@pytest.fixture
def receiver(sim: SimulatorControl) -> Iterator[Receiver]:
    rec = Receiver()
    sim.configure(webhook_url=rec.url)
    yield rec
    rec.server.shutdown()


def exchange(sim: SimulatorControl, code: str) -> str:
    """The partner's code exchange (its onboarding of the WABA): the business token."""
    answer = httpx.get(
        f"{sim.base_url}/v24.0/oauth/access_token",
        params={"client_id": sim.app_id, "client_secret": sim.app_secret, "code": code},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def onboarded(sim: SimulatorControl, **spec: Any) -> tuple[dict[str, Any], str]:
    """A WhatsApp Business app number the partner has just onboarded, and its token."""
    number = sim.add_number(is_on_biz_app=True, **spec)
    return number, exchange(sim, number["code"])


def graph(sim: SimulatorControl, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{sim.base_url}/v24.0/{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
    )


def sync(sim: SimulatorControl, number: dict[str, Any], token: str, sync_type: str) -> httpx.Response:
    body = {"messaging_product": "whatsapp", "sync_type": sync_type}
    return graph(sim, "POST", f"{number['phone_number_id']}/smb_app_data", token, json=body)


def error_of(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 400, answer.text
    return dict(answer.json()["error"])


def test_a_business_app_number_reads_registered_through_the_app(sim: SimulatorControl) -> None:
    number, token = onboarded(sim)
    fields = "is_on_biz_app,platform_type,status,name_status,code_verification_status,throughput"
    node = graph(sim, "GET", number["phone_number_id"], token, params={"fields": fields}).json()
    assert node == {
        "is_on_biz_app": True,
        "platform_type": "CLOUD_API",
        "status": "CONNECTED",
        "name_status": "APPROVED",
        "code_verification_status": "VERIFIED",
        "throughput": {"level": "STANDARD"},
        "id": number["phone_number_id"],
    }
    plain = sim.add_number()
    plain_token = exchange(sim, plain["code"])
    answer = graph(sim, "GET", plain["phone_number_id"], plain_token, params={"fields": "is_on_biz_app"})
    assert answer.json()["is_on_biz_app"] is False
    bulk = sim.add_numbers(numbers=[{"is_on_biz_app": True, "history_shared": False}])
    state = sim.number(bulk["numbers"][0]["phone_number_id"])
    assert (state["is_on_biz_app"], state["history_shared"], state["platform_type"]) == (
        True,
        False,
        "CLOUD_API",
    )


def test_register_and_deregister_are_refused_and_register_still_counts(sim: SimulatorControl) -> None:
    number, token = onboarded(sim)
    pid = number["phone_number_id"]
    register = graph(
        sim, "POST", f"{pid}/register", token, json={"messaging_product": "whatsapp", "pin": "123456"}
    )
    error = error_of(register)
    assert (error["code"], error["type"]) == (100, "GraphMethodException")
    assert "already registered" in error["message"]
    deregister = error_of(graph(sim, "POST", f"{pid}/deregister", token))
    assert deregister["code"] == 100 and "SMB businesses" in deregister["message"]
    state = sim.number(pid)
    assert (state["register_attempts_72h"], state["deregister_attempts_72h"]) == (1, 1)
    assert (state["platform_type"], state["status"], state["pin"]) == ("CLOUD_API", "CONNECTED", None)


def test_each_sync_type_is_accepted_once(sim: SimulatorControl) -> None:
    number, token = onboarded(sim)
    pid = number["phone_number_id"]
    contacts = sync(sim, number, token, "smb_app_state_sync")
    assert contacts.status_code == 200, contacts.text
    assert set(contacts.json()) == {"messaging_product", "request_id"}
    assert contacts.json()["messaging_product"] == "whatsapp"
    # Form-encoded, as a client without JSON bodies sends it.
    form = {"messaging_product": "whatsapp", "sync_type": "history"}
    history = graph(sim, "POST", f"{pid}/smb_app_data", token, data=form)
    assert history.status_code == 200, history.text
    assert history.json()["request_id"] != contacts.json()["request_id"]
    again = error_of(sync(sim, number, token, "smb_app_state_sync"))
    assert again["code"] == 100 and "already requested" in again["error_data"]["details"]
    assert error_of(sync(sim, number, token, "history"))["code"] == 100
    assert [call["status"] for call in sim.calls(path="smb_app_data$")] == [200, 200, 400, 400]
    assert sim.number(pid)["smb_syncs"] == {
        "smb_app_state_sync": contacts.json()["request_id"],
        "history": history.json()["request_id"],
    }


def test_the_24_hours_run_from_the_partners_code_exchange(sim: SimulatorControl) -> None:
    number = sim.add_number(is_on_biz_app=True)
    sim.advance(10 * 3600)  # signed up, onboarded by the partner ten hours later
    token = exchange(sim, number["code"])
    sim.advance(DAY - 60)
    assert sync(sim, number, token, "smb_app_state_sync").status_code == 200
    sim.advance(60)
    late = error_of(sync(sim, number, token, "history"))
    assert late["code"] == 100 and "24 hours" in late["error_data"]["details"]
    # A reauthorization code does not restart the window; onboarding the number again does.
    exchange(sim, sim.new_code(number["waba_id"]))
    assert error_of(sync(sim, number, token, "history"))["code"] == 100
    sim.update_number(number["phone_number_id"], is_on_biz_app=True)
    assert sim.number(number["phone_number_id"])["smb_syncs"] == {}
    assert sync(sim, number, token, "history").status_code == 200


def test_other_numbers_and_bad_requests_are_refused(sim: SimulatorControl) -> None:
    plain = sim.add_number(name_status="APPROVED")
    plain_token = exchange(sim, plain["code"])
    not_on_app = error_of(sync(sim, plain, plain_token, "history"))
    assert (
        not_on_app["code"] == 100
        and "not connected to the WhatsApp Business app" in not_on_app["error_data"]["details"]
    )
    number, token = onboarded(sim)
    bad_type = error_of(sync(sim, number, token, "contacts"))
    assert bad_type["code"] == 100 and 'got "contacts"' in bad_type["message"]
    path = f"{number['phone_number_id']}/smb_app_data"
    bad_product = error_of(graph(sim, "POST", path, token, json={"sync_type": "history"}))
    assert bad_product["code"] == 100 and "messaging_product" in bad_product["message"]
    others = error_of(sync(sim, number, plain_token, "history"))
    assert (others["code"], others["error_subcode"]) == (100, 33)
    unknown = graph(
        sim, "POST", path, "EAAnot-a-token", json={"messaging_product": "whatsapp", "sync_type": "history"}
    )
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == 190
    assert sim.number(number["phone_number_id"])["smb_syncs"] == {}


def signed(receiver: Receiver, app_secret: str) -> bool:
    return all(
        header == "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
        for body, header in receiver.bodies
    )


def test_syncs_send_signed_contacts_and_history_webhooks(sim: SimulatorControl, receiver: Receiver) -> None:
    number, token = onboarded(sim, display_phone_number="+1 555-078-3881")
    metadata = {"display_phone_number": "15550783881", "phone_number_id": number["phone_number_id"]}
    assert sync(sim, number, token, "smb_app_state_sync").status_code == 200
    [(field, contacts)] = receiver.changes(1)
    assert field == "smb_app_state_sync"
    assert contacts["messaging_product"] == "whatsapp" and contacts["metadata"] == metadata
    assert len(contacts["state_sync"]) == 2
    for item in contacts["state_sync"]:
        assert (item["type"], item["action"]) == ("contact", "add")
        assert set(item["contact"]) == {"full_name", "first_name", "phone_number"}
        assert item["metadata"]["timestamp"].isdigit()
    assert sync(sim, number, token, "history").status_code == 200
    chunks = [value for field, value in receiver.changes(3)[1:] if field == "history"]
    assert len(chunks) == 2 and all(chunk["metadata"] == metadata for chunk in chunks)
    parts = sorted((c["history"][0] for c in chunks), key=lambda part: part["metadata"]["chunk_order"])
    assert [p["metadata"]["progress"] for p in parts] == [50, 100]
    message = parts[0]["threads"][0]["messages"][0]
    assert {"from", "id", "timestamp", "type", "text", "history_context"} <= set(message)
    assert signed(receiver, sim.app_secret)
    logged = [entry["field"] for entry in sim.webhooks()]
    assert logged == ["smb_app_state_sync", "history", "history"]


def test_declined_history_sends_error_2593109(sim: SimulatorControl, receiver: Receiver) -> None:
    number, token = onboarded(sim, history_shared=False)
    assert sync(sim, number, token, "history").status_code == 200
    [(field, value)] = receiver.changes(1)
    assert field == "history"
    [error] = value["history"][0]["errors"]
    assert error["code"] == 2593109
    assert error["error_data"] == {"details": "History sharing is turned off by the business"}
    assert "threads" not in value["history"][0]


def test_disconnecting_in_the_app_unshares_the_waba(sim: SimulatorControl, receiver: Receiver) -> None:
    number, token = onboarded(sim)
    pid = number["phone_number_id"]
    entry = sim.app_disconnect(pid, reason="PRIMARY_INACTIVITY", initiated_by="SYSTEM")
    assert entry["field"] == "account_update"
    [(field, value)] = receiver.changes(1)
    assert field == "account_update" and value["event"] == "PARTNER_REMOVED"
    assert value["disconnection_info"] == {"reason": "PRIMARY_INACTIVITY", "initiated_by": "SYSTEM"}
    assert value["waba_info"] == {"waba_id": number["waba_id"], "owner_business_id": number["business_id"]}
    assert signed(receiver, sim.app_secret)
    node = error_of(graph(sim, "GET", pid, token, params={"fields": "status"}))
    assert (node["code"], node["error_subcode"]) == (100, 33)
    assert error_of(sync(sim, number, token, "history"))["error_subcode"] == 33
    assert error_of(graph(sim, "GET", f"{number['waba_id']}/phone_numbers", token))["error_subcode"] == 33
    with pytest.raises(AssertionError, match="409"):
        sim.app_disconnect(pid)
    with pytest.raises(AssertionError, match="409"):
        sim.app_disconnect(sim.add_number()["phone_number_id"])
    with pytest.raises(AssertionError, match="422"):
        sim.app_disconnect(pid, reason="BORED")


def test_device_change_offboards_and_reconnects(sim: SimulatorControl, receiver: Receiver) -> None:
    number, token = onboarded(sim)
    pid = number["phone_number_id"]
    sim.app_device_change(pid, "offboarded")
    assert receiver.changes(1)[0] == ("account_update", {"event": "ACCOUNT_OFFBOARDED"})
    status = graph(sim, "GET", pid, token, params={"fields": "status,is_on_biz_app"}).json()
    assert (status["status"], status["is_on_biz_app"]) == ("DISCONNECTED", True)
    assert error_of(sync(sim, number, token, "history"))["code"] == 100
    with pytest.raises(AssertionError, match="409"):
        sim.app_device_change(pid, "offboarded")
    sim.app_device_change(pid, "reconnected")
    assert receiver.changes(2)[1] == ("account_update", {"event": "ACCOUNT_RECONNECTED"})
    assert graph(sim, "GET", pid, token, params={"fields": "status"}).json()["status"] == "CONNECTED"
    with pytest.raises(AssertionError, match="422"):
        sim.app_device_change(pid, "lost")


def test_a_message_from_the_app_is_echoed(sim: SimulatorControl, receiver: Receiver) -> None:
    number, _ = onboarded(sim, display_phone_number="+1 555-078-3881")
    sim.echo(number["phone_number_id"], to="16505551234", text="See you at 5")
    [(field, value)] = receiver.changes(1)
    assert field == "smb_message_echoes"
    assert value["metadata"] == {
        "display_phone_number": "15550783881",
        "phone_number_id": number["phone_number_id"],
    }
    [echo] = value["message_echoes"]
    assert (echo["from"], echo["to"], echo["type"], echo["text"]) == (
        "15550783881",
        "16505551234",
        "text",
        {"body": "See you at 5"},
    )
    assert echo["id"].startswith("wamid.") and echo["timestamp"].isdigit()
    with pytest.raises(AssertionError, match="409"):
        sim.echo(sim.add_number()["phone_number_id"])


def test_state_file_keeps_business_app_numbers(tmp_path: Path) -> None:
    state_file = tmp_path / "simulator-state.pickle"
    with SimulatorProcess("--state-file", str(state_file)) as first:
        number = first.control.add_number(is_on_biz_app=True, history_shared=False)
        token = exchange(first.control, number["code"])
        assert sync(first.control, number, token, "smb_app_state_sync").status_code == 200
    with SimulatorProcess("--state-file", str(state_file)) as second:
        state = second.control.number(number["phone_number_id"])
        assert (state["is_on_biz_app"], state["history_shared"]) == (True, False)
        assert list(state["smb_syncs"]) == ["smb_app_state_sync"]
        assert error_of(sync(second.control, number, token, "smb_app_state_sync"))["code"] == 100
        assert sync(second.control, number, token, "history").status_code == 200


def test_a_state_file_from_before_business_app_numbers_still_loads(tmp_path: Path) -> None:
    """A demo state saved by an older simulator lacks the new attributes; they get defaults."""
    from include.graph_simulator.numbers import create_number
    from include.graph_simulator.state import SimState

    state = SimState(SimulatorConfig())
    number = create_number(state, {"name_status": "APPROVED"})
    for name in ("is_on_biz_app", "history_shared", "onboarded_at", "smb_syncs", "app_offboarded"):
        delattr(number, name)
    del state.wabas[number.waba_id].partner_removed
    del state.outbox
    old = tmp_path / "old.pickle"
    old.write_bytes(pickle.dumps(state))
    loaded = load_state(old, SimulatorConfig())
    again = loaded.numbers[number.phone_number_id]
    assert (again.is_on_biz_app, again.history_shared, again.smb_syncs, again.app_offboarded) == (
        False,
        True,
        {},
        False,
    )
    assert again.onboarding_time() == again.created_at
    assert loaded.wabas[number.waba_id].partner_removed is False and loaded.outbox == []
