"""``whatsapp-fleet`` as users run it: the installed script, configured by environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.helpers import NOW, add_channel, health
from tests.support.store_fixtures import STORE_CONN_ENV, connection_env_value
from whatsapp import cli
from whatsapp.store import ChannelStore, HealthResult

SCRIPT = Path(sys.executable).with_name("whatsapp-fleet")


def run(conn_value: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, STORE_CONN_ENV: conn_value}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120)


def _assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_migrate_twice_is_a_no_op(store_target):
    conn = connection_env_value(store_target)
    first, second = run(conn, "migrate"), run(conn, "migrate")
    assert first.returncode == 0 and "migrated to revision(s) 0001, " in first.stdout
    assert second.returncode == 0 and "already up to date" in second.stdout


def test_unmigrated_store_exits_2(store_target):
    _assert_one_line_error(run(connection_env_value(store_target), "status"), "whatsapp-fleet migrate")


@pytest.mark.parametrize(
    ("conn_value", "fragment"),
    [
        ("postgres://postgres@127.0.0.1:1/test", "cannot reach"),
        ('{"conn_type": "mysql", "host": "db"}', "use postgres or sqlite"),
    ],
)
def test_bad_connection_exits_2_with_one_line(conn_value, fragment):
    _assert_one_line_error(run(conn_value, "status"), fragment)


def test_status_table_json_and_show(
    store: ChannelStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = add_channel(store, 1)
    store.health.record([HealthResult(channel.id, NOW, health=health(channel.phone_number_id))])
    conn = connection_env_value(store.target)

    table = run(conn, "status")  # the installed script, as users run it
    assert table.returncode == 0, table.stderr
    assert "REGISTRATION" in table.stdout and channel.display_phone_number in table.stdout
    assert "channels: 1" in table.stdout

    # The other views in this process (the same main(); a new interpreter costs seconds of CPU).
    monkeypatch.setenv(STORE_CONN_ENV, conn)
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")  # as main() sets it, undone after

    def in_process(*args: str) -> tuple[int, str, str]:
        status = cli.main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    status, out, _ = in_process("status", "--json")
    body = json.loads(out)
    assert status == 0 and body["summary"] == store.fleet.counts()
    [shown] = body["channels"]
    assert shown["waba_id"] != shown["business_id"] and shown["registration"]["state"] == "registered"

    status, detail, _ = in_process("show", "1", str(channel.inbox_id))
    assert status == 0 and "health history" in detail and "GREEN" in detail
    status, out, _ = in_process("show", "1", str(channel.inbox_id), "--json")
    as_json = json.loads(out)
    assert as_json["channel"]["phone_number_id"] == channel.phone_number_id
    assert len(as_json["history"]) == 1 and as_json["attempts"] == []
    assert "EAAG-token-1" not in table.stdout + detail + json.dumps(body) + json.dumps(as_json)

    status, _, err = in_process("show", "1", "99")
    assert status == 1 and "no channel" in err
