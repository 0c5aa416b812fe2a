"""``whatsapp-fleet`` prints the API's channel shape (``channel_api_dict``): a WhatsApp Business app
number's label, link, syncs and deadline in ``show``, its link in ``status``'s table."""

from __future__ import annotations

import pytest

from tests.api.situation_seed import seed_situations
from whatsapp import cli
from whatsapp.domain.business_app import BUSINESS_APP_LABEL, SYNC_STATE_WORDS, SyncState, SyncType
from whatsapp.domain.situations import SituationKind
from whatsapp.store import ChannelStore, business_app

K = SituationKind


def test_show_prints_a_business_app_numbers_link_syncs_and_deadline(
    pg_store_env: ChannelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = seed_situations(pg_store_env)[K.HISTORY_SYNC_DUE]
    with pg_store_env.engine.begin() as conn:
        business_app.history_seen(conn, channel.id, progress=40, declined=False)
        business_app.count_echoes(conn, channel.id, 2)
    pg_store_env.business_app.begin_sync(channel.id, SyncType.CONTACTS)  # answer lost

    assert cli.main(["show", str(channel.account_id), str(channel.inbox_id)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    block = lines[lines.index(BUSINESS_APP_LABEL) :][:6]
    assert block[1:] == [
        "  link: connected",
        f"  Contacts sync: {SYNC_STATE_WORDS[SyncState.REQUESTED]}",
        f"  Chat history sync: {SYNC_STATE_WORDS[SyncState.IN_PROGRESS]} (40 %)",
        f"  sync deadline (onboarding + 24 hours): {channel.sync_deadline:%Y-%m-%d %H:%M:%S}Z",
        "  messages sent from the app: 2",
    ], block
    assert "business_app." not in out  # the block, not the object's dotted keys


def test_status_shows_the_link_of_business_app_numbers_only(
    pg_store_env: ChannelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_situations(pg_store_env)
    assert cli.main(["status"]) == 0
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()
    column = table[0].index("APP")
    links = {int(row.split()[1]): row[column:].split()[0] for row in table[1:]}  # by inbox
    shown = {inbox: link for inbox, link in links.items() if link != "-"}
    expected = {
        seeded[K.HISTORY_SYNC_DUE].inbox_id: "connected",
        seeded[K.HISTORY_NOT_SHARED].inbox_id: "connected",
        seeded[K.APP_RECONNECTING].inbox_id: "reconnecting",
        seeded[K.APP_DISCONNECTED].inbox_id: "disconnected",  # offboarded, still listed
    }
    assert shown == expected

    healthy = seeded[K.HEALTHY]
    assert cli.main(["show", str(healthy.account_id), str(healthy.inbox_id)]) == 0
    assert BUSINESS_APP_LABEL not in capsys.readouterr().out
