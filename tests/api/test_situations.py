"""Situations through the API: on every channel, as fleet filters, counts and search, on
the dashboard summary; who may do what (``/me``); what a *Complete registration* run did; which
channel a run was about; the runs behind stored attempts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from include.graph_simulator.process import SimulatorControl
from tests.api.runs import RunView
from tests.api.situation_seed import ACCOUNT_ID, INACTIVE_KINDS, NOW, seed_situations
from tests.api.test_signups import signup_body
from whatsapp.domain.health import PhoneHealth
from whatsapp.domain.situations import NEEDS_ACTION_KINDS, SITUATIONS, SituationKind
from whatsapp.store import Channel, ChannelStore, HealthResult
from whatsapp.store.schema import registration_attempts

K = SituationKind
API = "/whatsapp/api/v1"
RunsFn = Callable[[], list[RunView]]


@pytest.fixture
def admin(bearer: dict[str, dict[str, str]]) -> dict[str, str]:
    return bearer["admin"]


@pytest.fixture
def situations(pg_store_env: ChannelStore) -> dict[SituationKind, Channel]:
    return seed_situations(pg_store_env)


def _path(channel: Channel) -> str:
    return f"{API}/accounts/{channel.account_id}/inboxes/{channel.inbox_id}"


def test_every_situation_through_the_health_api(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    for kind, channel in situations.items():
        response = api_client.get(f"{_path(channel)}/health", headers=admin)
        assert response.status_code == 200, response.text
        found = response.json()["situation"]
        info = SITUATIONS[kind]
        assert (found["kind"], found["severity"], found["needs_action"], found["title"]) == (
            kind.value,
            info.severity.value,
            info.needs_action,
            info.title,
        ), kind
        # Airflow creates the fleet DAG paused: what waits for it says so instead of "it retries".
        waits = info.action.label == "Wait: the fleet retries by itself"
        label = "Unpause whatsapp_fleet_health: the fleet retries nothing while it is paused"
        assert found["action"] == {
            "kind": info.action.kind.value,
            "label": label if waits else info.action.label,
        }
        assert found["detail"].endswith("."), kind


def test_situations_carry_metas_error_times_and_the_event(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    def situation_of(kind: SituationKind) -> dict:
        return api_client.get(f"{_path(situations[kind])}/health", headers=admin).json()["situation"]

    backoff = situation_of(K.REGISTER_BACKOFF)
    assert (backoff["error"]["code"], backoff["error"]["subcode"]) == (100, 2388001)
    assert backoff["next_try"].endswith("Z") and backoff["since"].endswith("Z")
    blocked = situation_of(K.BLOCKED)
    assert blocked["error"]["code"] == 133016 and blocked["next_try"] is not None
    due = situation_of(K.NAME_CHANGE_DUE)
    assert due["deadline"] is not None and due["action"]["kind"] == "complete_registration"
    event = situation_of(K.ACCOUNT_EVENT)
    assert "ACCOUNT_VIOLATION (SCAM)" in event["detail"] and event["since"] is not None
    token = situation_of(K.TOKEN_INVALID)
    assert token["error"]["type"] == "token_invalid" and token["action"]["kind"] == "customer_reauthorize"
    failed = situation_of(K.CHECK_FAILED)
    assert failed["error"]["type"] == "transient" and not failed["needs_action"]
    assert situation_of(K.HEALTHY)["error"] is None


def test_fleet_filters_by_situation_and_needs_action(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    def kinds(query: str) -> list[str]:
        response = api_client.get(f"{API}/fleet?limit=500&{query}", headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["channels"])
        return sorted(c["situation"]["kind"] for c in body["channels"])

    assert kinds("situation=pin_mismatch") == ["pin_mismatch"]
    assert kinds("situation=blocked&situation=register_backoff") == ["blocked", "register_backoff"]
    assert kinds("needs_action=true") == sorted(k.value for k in NEEDS_ACTION_KINDS)
    active = set(SituationKind) - INACTIVE_KINDS
    assert kinds("needs_action=false") == sorted(k.value for k in active - NEEDS_ACTION_KINDS)
    assert kinds("needs_action=true&situation=blocked") == []
    assert kinds("situation=offboarded") == []
    assert kinds("situation=offboarded&include_inactive=true") == ["offboarded"]
    assert kinds("situation=app_disconnected") == []
    assert kinds("situation=app_disconnected&include_inactive=true") == ["app_disconnected"]
    # combined with a column filter: counted by SQL, not taken from the counts
    assert kinds("situation=name_in_review&situation=healthy&registration_state=scheduled") == [
        "name_in_review"
    ]
    assert api_client.get(f"{API}/fleet?situation=nonsense", headers=admin).status_code == 422


def test_fleet_counts_by_situation(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    counts = api_client.get(f"{API}/fleet", headers=admin).json()["counts"]
    expected = {kind.value: int(kind not in INACTIVE_KINDS) for kind in SituationKind}
    assert counts["situation"] == expected
    assert counts["needs_action"] == len(NEEDS_ACTION_KINDS)
    assert counts["channels"] == len(SituationKind) - len(INACTIVE_KINDS)


def test_fleet_search(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    def found(q: str) -> list[str]:
        response = api_client.get(f"{API}/fleet", params={"q": q, "limit": 500}, headers=admin)
        assert response.status_code == 200, response.text
        return [c["situation"]["kind"] for c in response.json()["channels"]]

    assert found("situation pin_MISMATCH") == ["pin_mismatch"]  # verified name, any case
    assert found(situations[K.BLOCKED].display_phone_number or "") == ["blocked"]
    assert found(situations[K.BLOCKED].phone_number_id) == ["blocked"]
    assert len(found(str(ACCOUNT_ID))) == len(SituationKind) - len(INACTIVE_KINDS)
    assert found("100%_") == []  # LIKE wildcards are text
    assert api_client.get(f"{API}/fleet?q=%00", headers=admin).status_code == 422


def test_fleet_summary(
    api_client: TestClient, admin: dict[str, str], situations: dict[SituationKind, Channel]
) -> None:
    response = api_client.get(f"{API}/fleet/summary", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["needs_action"]) == (
        len(SituationKind) - len(INACTIVE_KINDS),
        len(NEEDS_ACTION_KINDS),
    )
    assert body["counts"] == api_client.get(f"{API}/fleet", headers=admin).json()["counts"]
    assert body["last_audit"] is None


def test_vocabulary_lists_every_situation(api_client: TestClient, admin: dict[str, str]) -> None:
    body = api_client.get(f"{API}/vocabulary", headers=admin).json()
    assert [s["kind"] for s in body["situations"]] == [k.value for k in SituationKind]
    assert body["filters"]["situation"] == [k.value for k in SituationKind]
    pin = next(s for s in body["situations"] if s["kind"] == "pin_mismatch")
    assert (pin["severity"], pin["needs_action"], pin["action"]) == ("error", True, "open_whatsapp_manager")


# ---- who may do what -------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "allowed"), [("admin", True), ("operator", True), ("viewer", False)])
def test_me(api_client: TestClient, bearer: dict[str, dict[str, str]], user: str, allowed: bool) -> None:
    response = api_client.get(f"{API}/me", headers=bearer[user])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == user
    permissions = body["permissions"]
    assert set(permissions) == {"register", "refresh", "onboard", "fleet_action"}
    for name, dag_id in (
        ("register", "whatsapp_register_channel"),
        ("refresh", "whatsapp_register_channel"),
        ("onboard", "whatsapp_onboarding"),
        ("fleet_action", "whatsapp_fleet_action"),
    ):
        assert permissions[name]["allowed"] is allowed
        reason = permissions[name]["reason"]
        if allowed:
            assert reason is None
        else:  # in a person's words: what the role can and cannot do, and whom to ask
            assert reason.startswith("your role can view but not") and "ask an Admin or Op" in reason
            assert dag_id not in reason


def test_me_matches_what_the_register_route_answers(
    api_client: TestClient, bearer: dict[str, dict[str, str]], situations: dict[SituationKind, Channel]
) -> None:
    """A viewer's disabled button is the same check as the route's 403."""
    path = f"{_path(situations[K.REGISTRATION_PENDING])}/register"
    assert api_client.post(path, headers=bearer["viewer"]).status_code == 403
    assert (
        api_client.get(f"{API}/me", headers=bearer["viewer"]).json()["permissions"]["register"]["allowed"]
        is False
    )


# ---- runs: the outcome after *Complete registration*, a run's channel, attempts' runs -----------


def _set_run_state(run_id: str, state: str) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        session.execute(update(DagRun).where(DagRun.run_id == run_id).values(state=state))


def _store_attempt(
    store: ChannelStore, channel: Channel, run_id: str, outcome: str, code: int | None = None
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(registration_attempts).values(
                channel_id=channel.id,
                attempted_at=NOW,
                outcome=outcome,
                resulting_state="registered" if outcome == "success" else "scheduled",
                code=code,
                subcode=2388001 if code == 100 else None,
                message=None if code is None else "display name not approved",
                run_id=run_id,
            )
        )


@pytest.fixture
def run_of(
    api_client: TestClient,
    admin: dict[str, str],
    situations: dict[SituationKind, Channel],
    register_runs: RunsFn,
) -> Iterator[Callable[[SituationKind], tuple[Channel, str]]]:
    """Queues a *Complete registration* run for the channel of a kind; the runs are deleted after."""

    def queue(kind: SituationKind) -> tuple[Channel, str]:
        channel = situations[kind]
        response = api_client.post(f"{_path(channel)}/register", headers=admin)
        assert response.status_code == 202, response.text
        return channel, response.json()["dag_run_id"]

    yield queue


def _outcome(api_client: TestClient, admin: dict[str, str], channel: Channel, run_id: str) -> dict:
    response = api_client.get(f"{_path(channel)}/register/{run_id}", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["run"]["dag_id"] == "whatsapp_register_channel" and body["run"]["dag_run_id"] == run_id
    assert body["run"]["url"] == f"/dags/whatsapp_register_channel/runs/{run_id}"
    return body


def test_register_outcome_follows_the_run_and_its_attempt(
    api_client: TestClient, admin: dict[str, str], pg_store_env: ChannelStore, run_of: Callable
) -> None:
    channel, run_id = run_of(K.REGISTRATION_PENDING)
    body = _outcome(api_client, admin, channel, run_id)
    assert (body["run"]["state"], body["outcome"]["kind"]) == ("queued", "running")

    _store_attempt(pg_store_env, channel, run_id, "display_name_not_ready", code=100)
    refused = _outcome(api_client, admin, channel, run_id)["outcome"]
    assert refused["kind"] == "refused" and "tries again by itself" in refused["text"]
    assert (refused["error"]["code"], refused["error"]["subcode"]) == (100, 2388001)

    _store_attempt(pg_store_env, channel, run_id, "success")
    _set_run_state(run_id, "success")
    assert _outcome(api_client, admin, channel, run_id)["outcome"]["kind"] == "registered"


@pytest.mark.parametrize(
    ("kind", "run_state", "outcome", "says"),
    [
        (K.NAME_IN_REVIEW, "success", "no_call", "Display name in review"),
        (K.HEALTHY, "success", "not_needed", "registered"),
        (K.REGISTRATION_PENDING, "failed", "failed", "see its log"),
    ],
)
def test_a_run_without_a_register_call_says_why(
    api_client: TestClient,
    admin: dict[str, str],
    pg_store_env: ChannelStore,
    run_of: Callable,
    situations: dict[SituationKind, Channel],
    kind: SituationKind,
    run_state: str,
    outcome: str,
    says: str,
) -> None:
    channel, run_id = run_of(K.REGISTRATION_PENDING)
    if kind is not K.REGISTRATION_PENDING:  # the run read health and found the number so
        channel = situations[kind]
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            session.execute(
                update(DagRun)
                .where(DagRun.run_id == run_id)
                .values(conf={"account_id": channel.account_id, "inbox_id": channel.inbox_id})
            )
    _set_run_state(run_id, run_state)
    found = _outcome(api_client, admin, channel, run_id)["outcome"]
    assert found["kind"] == outcome and says in found["text"], found


def test_register_outcome_is_404_for_another_channels_or_an_unknown_run(
    api_client: TestClient, admin: dict[str, str], run_of: Callable, situations: dict[SituationKind, Channel]
) -> None:
    _, run_id = run_of(K.REGISTRATION_PENDING)
    other = situations[K.HEALTHY]
    assert api_client.get(f"{_path(other)}/register/{run_id}", headers=admin).status_code == 404
    assert api_client.get(f"{_path(other)}/register/no-such-run", headers=admin).status_code == 404


def test_a_runs_channel(
    api_client: TestClient, admin: dict[str, str], run_of: Callable, situations: dict[SituationKind, Channel]
) -> None:
    channel, run_id = run_of(K.REGISTRATION_PENDING)
    response = api_client.get(f"{API}/runs/whatsapp_register_channel/{run_id}/channel", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"account_id": channel.account_id, "inbox_id": channel.inbox_id}
    for dag_id in ("whatsapp_fleet_health", "example_bash_operator", "whatsapp_onboarding"):
        response = api_client.get(f"{API}/runs/{dag_id}/{run_id}/channel", headers=admin)
        assert response.status_code == 404, (dag_id, response.text)


def test_attempts_link_their_runs(
    api_client: TestClient, admin: dict[str, str], pg_store_env: ChannelStore, run_of: Callable
) -> None:
    channel, run_id = run_of(K.REGISTRATION_PENDING)
    _store_attempt(pg_store_env, channel, run_id, "display_name_not_ready", code=100)
    _store_attempt(pg_store_env, channel, "run-airflow-forgot", "display_name_not_ready", code=100)
    attempts = api_client.get(f"{_path(channel)}/attempts", headers=admin).json()["attempts"]
    links = {a["run_id"]: (a["dag_id"], a["run_url"]) for a in attempts}
    assert links[run_id] == ("whatsapp_register_channel", f"/dags/whatsapp_register_channel/runs/{run_id}")
    assert links["run-airflow-forgot"] == (None, None)


def test_health_history_links_the_runs_that_read_it(
    api_client: TestClient, admin: dict[str, str], pg_store_env: ChannelStore, run_of: Callable
) -> None:
    channel, run_id = run_of(K.REGISTRATION_PENDING)
    now = datetime.now(UTC)
    read = PhoneHealth.from_graph({"id": channel.phone_number_id, "quality_rating": "GREEN"})
    pg_store_env.health.record([HealthResult(channel.id, now, health=read)], run_id=run_id)
    pg_store_env.health.record([HealthResult(channel.id, now - timedelta(seconds=1), health=read)])
    history = api_client.get(f"{_path(channel)}/history", headers=admin).json()["history"]
    linked = [h for h in history if h["run_id"] == run_id]
    assert [(h["dag_id"], h["run_url"]) for h in linked] == [
        ("whatsapp_register_channel", f"/dags/whatsapp_register_channel/runs/{run_id}")
    ]
    unlinked = [h for h in history if h["run_id"] is None]  # a refresh, a webhook, the seed's reads
    assert unlinked and all((h["dag_id"], h["run_url"]) == (None, None) for h in unlinked)


def test_an_onboarding_runs_channel_comes_from_its_signup(
    api_client: TestClient,
    admin: dict[str, str],
    sim: SimulatorControl,
    pg_store_env: ChannelStore,
    onboarding_runs: Callable[[], list[RunView]],
) -> None:
    """An intake run has only ``{"signup_id"}`` in its conf: the signup names the number, so the channel."""
    number = sim.add_number(name_status="APPROVED")
    response = api_client.post(f"{API}/signups", json=signup_body(number), headers=admin)
    assert response.status_code == 202, response.text
    run_id = response.json()["dag_run_id"]
    path = f"{API}/runs/whatsapp_onboarding/{run_id}/channel"
    assert api_client.get(path, headers=admin).status_code == 404  # not onboarded yet
    channel = pg_store_env.channels.upsert(
        account_id=1,
        phone_number_id=number["phone_number_id"],
        waba_id=number["waba_id"],
        business_id=number["business_id"],
        access_token="EAAG-onboarded",
    )
    response = api_client.get(path, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"account_id": 1, "inbox_id": channel.inbox_id}
