"""The fleet audit end to end: the real simulator subprocess, the real store on both dialects."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bench.naive_audit import naive_audit
from include.graph_simulator.process import RunningSimulator, SimulatorControl
from tests.fleet.fleet_mix import PENDING_KINDS, SPECS, Kind, seed
from tests.support.simulator_fixtures import GRAPH_CONN_ENV, graph_connection
from whatsapp.domain.registration import ReauthorizationReason, RegistrationState
from whatsapp.errors import ErrorKind, GraphApiError
from whatsapp.fleet_audit import AuditReport, run_audit
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.store import ChannelStore

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
#: Aims a fault at batch sub-requests (``/<phone id>``), never at the batch envelope (``/``).
SUB_REQUESTS = r"^/\d+$"
ENVELOPE = r"^/$"


@pytest.fixture
def graph(
    monkeypatch: pytest.MonkeyPatch, simulator_process: RunningSimulator, sim: SimulatorControl
) -> SimulatorControl:
    """The simulator as ``whatsapp_graph_default``, with a short timeout so timeout faults stay cheap."""
    monkeypatch.setenv(GRAPH_CONN_ENV, graph_connection(simulator_process.base_url, sim, timeout=1.5))
    return sim


def audit(store: ChannelStore, now: datetime = NOW, **options: object) -> AuditReport:
    return run_audit(WhatsAppGraphHook(), store, now=now, **options)


def batch_calls(sim: SimulatorControl) -> list[dict[str, object]]:
    return [call for call in sim.calls() if call["path"].rstrip("/").endswith("v24.0")]


def test_mixed_fleet_ends_as_spec_says_in_batches_of_at_most_50(
    graph: SimulatorControl, store: ChannelStore, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = seed(graph, store, 200)
    graph.clear_calls()
    with caplog.at_level(logging.WARNING, logger="whatsapp.fleet_audit"):
        report = audit(store, max_concurrency=4)

    kinds = Counter(number.kind for number in fleet.values())
    assert report.channels == report.applied + report.failed == 200
    assert report.failed == kinds[Kind.EXPIRED_TOKEN] == report.errors_by_kind["token_invalid"]
    assert report.pending == sum(kinds[k] for k in PENDING_KINDS)
    assert report.provisioned == 200 - report.pending - report.failed
    for channel_id, number in fleet.items():
        channel = store.channels.by_id(channel_id)
        assert channel is not None
        if number.kind is Kind.EXPIRED_TOKEN:
            assert channel.checked_at is None and channel.last_check_error.kind == "token_invalid"
            assert channel.reauthorization_reason is ReauthorizationReason.TOKEN_INVALID
        elif number.kind in PENDING_KINDS:
            assert (channel.provisioning, channel.checked_at) == ("pending", NOW)
            assert channel.reauthorization_reason is ReauthorizationReason.REGISTRATION_INCOMPLETE
        else:
            assert (channel.provisioning, channel.checked_at) == ("provisioned", NOW)
            assert not channel.reauthorization_required
            assert channel.registration_state is RegistrationState.REGISTERED

    calls = batch_calls(graph)
    assert [len(call["batch"]) for call in calls] == [50, 50, 50, 50]
    assert len(graph.calls()) == report.http_requests == 4  # no per-channel GET besides the batches

    risky = [r.getMessage() for r in caplog.records if "Risky transition" in r.getMessage()]
    # One line per written page, one "channel <id> (<number>: <field> <old> -> <new>)" per transition;
    # YELLOW: quality; RED + FLAGGED: quality and status.
    events = [event for line in risky for event in line.split(": ", 1)[1].split("; ")]
    assert len(events) == report.risky_total == kinds[Kind.YELLOW] + 2 * kinds[Kind.RED_FLAGGED]
    assert all(re.fullmatch(r"channel \d+ \(\d+: (quality_rating|status) None -> \w+\)", e) for e in events)
    caplog.clear()
    second = audit(store, NOW + timedelta(hours=1), max_concurrency=4)
    assert second.risky_total == 0, "a risky transition is logged once, when it happens"
    json.dumps(second.to_dict())


def test_failed_sub_requests_fail_only_their_channel_and_the_next_run_audits_them(
    graph: SimulatorControl, store: ChannelStore
) -> None:
    fleet = seed(graph, store, 200)
    expired = sum(1 for number in fleet.values() if number.kind is Kind.EXPIRED_TOKEN)
    graph.add_fault(kind="http_500", path=SUB_REQUESTS, share=0.05, seed=1)
    graph.add_fault(kind="timeout", path=SUB_REQUESTS, share=0.05, seed=2)
    # Two whole batches fail too (a 500, then a timeout past the client's 1.5 s): both are retried.
    graph.add_fault(kind="http_500", path=ENVELOPE, count=1)
    graph.add_fault(kind="timeout", path=ENVELOPE, count=1, timeout_seconds=3)

    first = audit(store, max_concurrency=2)

    injected = sum(fault["applied"] for fault in graph.faults() if fault["path"] == SUB_REQUESTS)
    assert 10 <= injected <= 35
    assert first.batch_retries == 2
    assert first.errors_by_kind["transient"] == injected
    assert first.channels == first.audited + first.failed == 200
    assert first.applied == first.audited
    failed = {t.id for page in store.health.audit_pages(not_checked_since=NOW) for t in page}
    assert len(failed) == first.failed
    assert all(store.channels.by_id(i).last_check_error is not None for i in failed)

    graph.clear_faults()
    second = audit(store, NOW + timedelta(hours=1), stale_before=NOW, max_concurrency=2)
    assert second.channels == first.failed
    assert second.audited == first.failed - expired


def test_a_batch_that_keeps_failing_records_each_of_its_channels_as_failed(
    graph: SimulatorControl, store: ChannelStore
) -> None:
    seed(graph, store, 60)
    graph.add_fault(kind="http_500", path=ENVELOPE, count=3)
    report = audit(store, max_concurrency=1, batch_size=20)
    assert (report.http_requests, report.batch_retries) == (5, 2)
    assert report.errors_by_kind["transient"] == 20
    assert report.channels == 60
    first_batch = [t.id for page in store.health.audit_pages(page_size=20) for t in page][:20]
    errors = {store.channels.by_id(i).last_check_error.kind for i in first_batch}
    assert errors == {"transient"}


def test_a_throttled_waba_is_paused_and_not_hammered(graph: SimulatorControl, store: ChannelStore) -> None:
    fleet = seed(graph, store, 60)
    waba = "100000000009999"
    mine = [graph.add_number(waba_id=waba, **SPECS[Kind.PROVISIONED])["phone_number_id"] for _ in range(10)]
    token = graph.new_token(waba)
    for n, phone_number_id in enumerate(mine):
        store.channels.upsert(
            account_id=1000 + n,
            phone_number_id=phone_number_id,
            waba_id=waba,
            business_id="500000000009999",
            access_token=token,
        )
    graph.add_fault(kind="throttle", code=80007, path=rf"^/({'|'.join(mine)})$", regain_minutes=5)
    graph.clear_calls()

    # Channel ids put the WABA's ten numbers in the last batches: one batch meets the throttle.
    report = audit(store, max_concurrency=1, batch_size=7)

    sent = [s for call in batch_calls(graph) for s in call["batch"] if s["path"].lstrip("/") in mine]
    assert 1 <= len(sent) <= 7 and all(s["status"] == 429 for s in sent)
    assert report.errors_by_kind == {"throttled": len(sent), "token_invalid": 3}
    assert report.skipped_throttled == 10 - len(sent)
    assert report.paused.keys() == {waba} and 290 <= report.paused[waba] <= 300
    assert report.audited == len(fleet) - 3


def test_an_app_throttle_longer_than_the_audit_may_wait_skips_the_rest(
    graph: SimulatorControl, store: ChannelStore
) -> None:
    seed(graph, store, 30)
    graph.add_fault(kind="throttle", code=4, path=SUB_REQUESTS, count=1, regain_minutes=10)
    report = audit(store, max_concurrency=1, batch_size=10, max_app_pause_wait_s=30)
    assert report.http_requests == 1
    assert report.errors_by_kind["throttled"] == 1
    assert report.skipped_throttled == 20
    assert report.channels == 30


def test_an_older_snapshot_never_overwrites_a_newer_one(graph: SimulatorControl, store: ChannelStore) -> None:
    fleet = seed(graph, store, 40)
    audit(store)
    before = {i: store.channels.by_id(i).health for i in fleet}
    for number in fleet.values():
        graph.update_number(number.phone_number_id, status="BANNED")
    late = audit(store, NOW - timedelta(minutes=10))
    assert (late.audited, late.applied, late.stale) == (38, 0, 38)
    assert late.risky_total == 0  # BANNED was seen, but by a check older than the stored one
    for channel_id in fleet:
        channel = store.channels.by_id(channel_id)
        assert channel.health == before[channel_id]
        assert channel.checked_at == (None if channel.health is None else NOW)


def test_shards_share_the_fleet_and_the_naive_baseline_stores_the_same(
    graph: SimulatorControl, store: ChannelStore
) -> None:
    seed(graph, store, 40)
    shards = [audit(store, shard=(k, 3)) for k in range(3)]
    assert sum(r.channels for r in shards) == 40
    assert all(r.channels > 0 for r in shards)
    naive = naive_audit(WhatsAppGraphHook(), store, now=NOW + timedelta(hours=1), limit=25)
    assert (naive.channels, naive.http_requests) == (25, 25)
    assert naive.applied == naive.audited


def test_a_batch_refused_for_the_apps_credentials_aborts_without_blaming_any_channel(
    monkeypatch: pytest.MonkeyPatch,
    simulator_process: RunningSimulator,
    sim: SimulatorControl,
    store: ChannelStore,
) -> None:
    fleet = seed(sim, store, 10)
    wrong = json.loads(graph_connection(simulator_process.base_url, sim))
    wrong["password"] = "not-the-app-secret"
    monkeypatch.setenv(GRAPH_CONN_ENV, json.dumps(wrong))
    with pytest.raises(GraphApiError) as raised:
        audit(store)
    assert raised.value.kind is ErrorKind.TOKEN_INVALID
    assert all(not store.channels.by_id(i).reauthorization_required for i in fleet)


def test_a_store_write_that_fails_is_raised_as_itself(
    graph: SimulatorControl, store: ChannelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes run in their own task group (two pages at once on PostgreSQL): still no ExceptionGroup."""
    seed(graph, store, 120)

    def refuse(results: object, *, run_id: str | None = None) -> None:
        raise RuntimeError("store refused the page")

    monkeypatch.setattr(store.health, "record", refuse)
    with pytest.raises(RuntimeError, match="store refused the page"):
        audit(store, page_size=50)
