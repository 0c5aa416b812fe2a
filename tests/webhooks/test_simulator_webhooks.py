"""The simulator sends signed, Meta-shaped webhooks; delivery can be delayed, duplicated or dropped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from include.graph_simulator.process import SimulatorControl
from tests.support.webhook_receiver import Receiver
from whatsapp.domain.webhooks import parse_notification, signature_matches


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()


def test_review_quality_and_account_events_are_signed_and_shaped_like_meta(
    sim: SimulatorControl, receiver: Receiver
) -> None:
    sim.configure(webhook_url=receiver.url)
    number = sim.add_number(name_status="PENDING_REVIEW", review_seconds=60, quality_rating="GREEN")
    sim.clock()  # any request starts the watcher; let it see the number once
    time.sleep(0.3)
    sim.advance(61)
    [name] = receiver.wait(1)
    change = name["entry"][0]["changes"][0]
    assert name["object"] == "whatsapp_business_account" and name["entry"][0]["id"] == number["waba_id"]
    assert change["field"] == "phone_number_name_update"
    assert change["value"]["decision"] == "APPROVED"
    assert change["value"]["display_phone_number"] == "".join(
        c for c in number["display_phone_number"] if c.isdigit()
    )
    sim.update_number(number["phone_number_id"], quality_rating="RED", messaging_limit_tier="TIER_1K")
    sim.account_update(number["waba_id"], "ACCOUNT_VIOLATION", violation_type="SCAM")
    bodies = receiver.wait(4)
    fields = sorted(b["entry"][0]["changes"][0]["field"] for b in bodies[1:])
    assert fields == ["account_update", "phone_number_quality_update", "phone_number_quality_update"]
    for body, header in receiver.bodies:
        assert signature_matches(body, header, sim.app_secret)
        assert parse_notification(body, datetime.now(UTC))[0].parsed


def test_delivery_can_be_dropped_or_duplicated(sim: SimulatorControl, receiver: Receiver) -> None:
    sim.configure(webhook_url=receiver.url, webhook_drop=1.0)
    number = sim.add_number()
    sim.account_update(number["waba_id"], "ACCOUNT_DELETED")
    time.sleep(0.3)
    assert receiver.bodies == []
    assert sim.webhooks()[0]["dropped"] is True
    sim.configure(webhook_drop=0.0, webhook_copies=2, webhook_delay_ms=200)
    started = time.monotonic()
    sim.account_update(number["waba_id"], "ACCOUNT_DELETED")
    assert len(receiver.wait(2)) == 2
    assert time.monotonic() - started >= 0.2
    assert receiver.bodies[0] == receiver.bodies[1]
    # The simulator logs a delivery once the receiver has answered it: give the second one a moment.
    deadline = time.monotonic() + 5
    while len(sim.webhooks()[1]["deliveries"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [d["status"] for d in sim.webhooks()[1]["deliveries"]] == [200, 200]
