"""A WhatsApp Business app number on a running Airflow (tests/e2e/shared.py), webhooks included.

Through the signup intake with ``event: FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING`` and no phone
number id: the onboarding finds the number, sends no register call and requests the contacts and
the chat history once each; the simulator's sync webhooks reach the plugin's receiver, signed, and
the channel's syncs read "done" through the health API. Then the customer disconnects the number
in the app: Meta's signed ``account_update`` ``PARTNER_REMOVED`` (with ``disconnection_info``)
offboards the channel with the reason and who initiated it, and no Graph call is made.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.shared import TASKS_TIMEOUT, SharedStack, store_of
from tests.e2e.stack import wait_for
from whatsapp.domain.business_app import BUSINESS_APP_LABEL, AppLink, SyncState

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ONBOARDING = "whatsapp_onboarding"
RECEIVER = "/whatsapp/webhooks/meta"


@pytest.fixture
def delivering(e2e: SharedStack) -> Iterator[SharedStack]:
    """The simulator delivers its webhooks to the plugin's receiver, as Meta does."""
    e2e.sim.configure(webhook_url=f"{e2e.stack.api_url}{RECEIVER}")
    yield e2e


def test_a_business_app_number_is_synced_then_offboarded_by_metas_webhook(delivering: SharedStack) -> None:
    api, sim = delivering.api, delivering.sim
    api.unpause(ONBOARDING)
    store = store_of(delivering.stack)
    try:
        number = sim.add_number(is_on_biz_app=True)
        phone = number["phone_number_id"]
        signup = {
            "account_id": 1,
            "code": number["code"],
            "business_id": number["business_id"],
            "waba_id": number["waba_id"],
            "event": "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING",
            "name_poke_interval": 1,
        }
        run = api.post_signup(signup)["dag_run_id"]
        assert api.wait_for_runs(ONBOARDING, [run], TASKS_TIMEOUT)[run] == "success"
        assert sim.calls("/register$") == []
        assert [call["body"]["sync_type"] for call in sim.calls("/smb_app_data$")] == [
            "smb_app_state_sync",
            "history",
        ]

        def synced() -> bool:
            channel = store.channels.by_phone_number(phone)
            return channel is not None and (channel.contacts_sync, channel.history_sync) == (
                SyncState.FINISHED,
                SyncState.FINISHED,
            )

        wait_for("the sync webhooks to reach the plugin", synced, timeout=30, interval=0.5)
        channel = store.channels.by_phone_number(phone)
        assert channel is not None
        health = api.ok(
            "GET", f"/whatsapp/api/v1/accounts/{channel.account_id}/inboxes/{channel.inbox_id}/health"
        )
        app = health["business_app"]
        assert (app["label"], app["link"]) == (BUSINESS_APP_LABEL, "connected")
        assert {sync["state"] for sync in app["syncs"].values()} == {"finished"}
        assert all(d["status"] == 200 for w in sim.webhooks() for d in w["deliveries"])

        sim.clear_calls()
        sim.app_disconnect(phone, reason="ACCOUNT_DISCONNECTED", initiated_by="USER")

        def offboarded() -> bool:
            gone = store.channels.by_id(channel.id)
            return gone is not None and not gone.active

        wait_for("the PARTNER_REMOVED webhook to offboard the channel", offboarded, timeout=30, interval=0.5)
        gone = store.channels.by_id(channel.id)
        assert gone.business_app is AppLink.DISCONNECTED and gone.offboarded_at is not None
        assert (gone.offboard_reason, gone.offboarded_by) == ("ACCOUNT_DISCONNECTED", "USER")
        assert sim.calls() == []  # offboarded on Meta's word: no Graph call
        removed = [w for w in sim.webhooks() if w["field"] == "account_update"]
        assert [d["status"] for w in removed for d in w["deliveries"]] == [200]
        health = api.ok(
            "GET", f"/whatsapp/api/v1/accounts/{channel.account_id}/inboxes/{channel.inbox_id}/health"
        )
        assert health["situation"]["kind"] == "app_disconnected"
        assert "ACCOUNT_DISCONNECTED" in health["situation"]["detail"]
    finally:
        store.dispose()
