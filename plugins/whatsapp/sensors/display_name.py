"""Wait for Meta's display-name review without holding a worker slot.

Registering while the name is ``PENDING_REVIEW`` fails with 100/2388001 and spends one of
Meta's register calls (``REGISTER_ALLOWANCE``). The sensor waits instead: deferred in the
triggerer by default, and when the review outlasts ``name_wait_timeout`` it hands the channel to
the fleet DAG (registration ``scheduled``) rather than failing the signup.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from whatsapp.defaults import DEFAULT_GRAPH_CONN_ID, DEFAULT_STORE_CONN_ID
from whatsapp.domain.health import NAME_IN_REVIEW
from whatsapp.domain.manager_url import whatsapp_manager_url
from whatsapp.domain.registration_machine import GraphFailed, NameReviewWaiting, NameWaitEnded
from whatsapp.domain.signup import DEFAULT_NAME_POKE_INTERVAL, DEFAULT_NAME_WAIT_TIMEOUT
from whatsapp.errors import ErrorKind, GraphApiError
from whatsapp.extra_links import WHATSAPP_MANAGER_XCOM_KEY, WhatsAppManagerLink
from whatsapp.hooks.graph import WhatsAppGraphHook
from whatsapp.triggers.display_name import DisplayNameTrigger, review_over

if TYPE_CHECKING:
    from airflow.sdk import Context


class WhatsAppDisplayNameSensor(BaseSensorOperator):
    """Succeeds once the number's ``name_status`` is no longer ``PENDING_REVIEW``.

    :param channel: channel ref (ids) from the phone-info step.
    :param name_poke_interval: seconds between checks (templated; e.g. ``{{ params.name_poke_interval }}``).
    :param name_wait_timeout: seconds before handing over to the fleet DAG (templated).
    :param deferrable: wait in the triggerer (default) instead of a worker.
    """

    template_fields = ("channel", "name_poke_interval", "name_wait_timeout")
    operator_extra_links = (WhatsAppManagerLink(),)
    ui_color = "#fff3b0"

    def __init__(
        self,
        *,
        channel: Any,
        name_poke_interval: int | str = DEFAULT_NAME_POKE_INTERVAL,
        name_wait_timeout: int | str = DEFAULT_NAME_WAIT_TIMEOUT,
        deferrable: bool = True,
        whatsapp_graph_conn_id: str = DEFAULT_GRAPH_CONN_ID,
        whatsapp_store_conn_id: str = DEFAULT_STORE_CONN_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("mode", "poke")
        super().__init__(**kwargs)
        self.channel = channel
        self.name_poke_interval = name_poke_interval
        self.name_wait_timeout = name_wait_timeout
        self.deferrable = deferrable
        self.whatsapp_graph_conn_id = whatsapp_graph_conn_id
        self.whatsapp_store_conn_id = whatsapp_store_conn_id
        self._last_status: str | None = None

    @cached_property
    def hook(self) -> WhatsAppGraphHook:
        return WhatsAppGraphHook(self.whatsapp_graph_conn_id)

    def _seconds(self, name: str) -> int:
        value = getattr(self, name)
        try:
            seconds = int(value)
        except (TypeError, ValueError):
            raise AirflowFailException(
                f"{name} must be an integer number of seconds, got {value!r}"
            ) from None
        if seconds < 1:
            raise AirflowFailException(f"{name} must be >= 1, got {seconds}")
        return seconds

    def _store(self) -> Any:
        from whatsapp.store import ChannelStore

        return ChannelStore.from_conn_id(self.whatsapp_store_conn_id)

    def execute(self, context: Context) -> Any:
        poke_interval = self._seconds("name_poke_interval")
        wait_timeout = self._seconds("name_wait_timeout")
        if self.poke(context):
            return {"name_status": self._last_status, "waited": False}
        channel_id = int(self.channel["channel_id"])
        waiting_since = pendulum.now("UTC")
        with self._store() as store:
            store.channels.apply(channel_id, NameReviewWaiting(waiting_since))
        if self.deferrable:
            deadline = pendulum.now("UTC") + timedelta(seconds=wait_timeout)
            self.log.info(
                "Display name in review: deferring (check every %ss, hand over at %s)",
                poke_interval,
                deadline,
            )
            self.defer(
                trigger=DisplayNameTrigger(
                    channel_id=channel_id,
                    phone_number_id=str(self.channel["phone_number_id"]),
                    deadline=deadline.isoformat(),
                    poke_interval=float(poke_interval),
                    whatsapp_graph_conn_id=self.whatsapp_graph_conn_id,
                    whatsapp_store_conn_id=self.whatsapp_store_conn_id,
                    waiting_since=waiting_since.isoformat(),
                ),
                method_name="execute_complete",
            )
        self.poke_interval = float(poke_interval)
        self.timeout = float(wait_timeout)
        try:
            super().execute(context)
        except AirflowSensorTimeout:
            return self._hand_over(channel_id)
        return review_over(str(self._last_status), "graph")

    def poke(self, context: Context) -> bool:
        """One check of ``name_status``; transient Graph errors count as "not yet"."""
        from whatsapp.store import ChannelStore

        context["ti"].xcom_push(
            key=WHATSAPP_MANAGER_XCOM_KEY,
            value=whatsapp_manager_url(str(self.channel["business_id"]), str(self.channel["waba_id"])),
        )
        store: ChannelStore = self._store()
        try:
            token = store.channels.credentials(int(self.channel["channel_id"])).access_token
        finally:
            store.dispose()
        try:
            health = self.hook.get_phone_health(str(self.channel["phone_number_id"]), token)
        except GraphApiError as error:
            if error.retryable:
                self.log.warning("Display-name check failed, will check again: %s", error)
                return False
            self._record_failure(int(self.channel["channel_id"]), error.kind)
            raise AirflowFailException(f"display-name check: {error}") from None
        self._last_status = health.name_status
        self.log.info("Display name of %s: %s", health.phone_number_id, health.name_status)
        return health.name_status != NAME_IN_REVIEW

    def execute_complete(self, context: Context, event: dict[str, Any] | str) -> dict[str, Any] | None:
        """Resume after the trigger fired: timed out (hand over) or a permanent error.

        A review that is over never resumes here: the trigger ends the task itself and pushes its
        result. Only a runner that resumes such a task anyway (``dag.test()``, which runs triggers
        inline) arrives with that end state (a string) instead of an event; the trigger has
        logged the decision, and its result XCom is not pushed there.
        """
        if isinstance(event, str):
            self.log.info("The trigger ended this task: %s", event)
            return None
        status = event.get("status")
        if status == "timeout":
            return self._hand_over(int(self.channel["channel_id"]))
        error = event.get("error") or {}
        self._record_failure(
            int(self.channel["channel_id"]), ErrorKind(error.get("type", ErrorKind.UNKNOWN.value))
        )
        raise AirflowFailException(
            f"display-name check failed: {error.get('message')} (type {error.get('type')}, "
            f"code {error.get('code')}/{error.get('subcode')})"
        )

    def _record_failure(self, channel_id: int, kind: ErrorKind) -> None:
        with self._store() as store:
            store.channels.apply(channel_id, GraphFailed(kind, pendulum.now("UTC")))

    def _hand_over(self, channel_id: int) -> dict[str, Any]:
        """The review outlasted the wait: the fleet DAG takes over; the signup does not fail."""
        with self._store() as store:
            store.channels.apply(channel_id, NameWaitEnded(pendulum.now("UTC")))
        self.log.warning(
            "Display name still %s after the wait: registration handed to the fleet DAG", NAME_IN_REVIEW
        )
        return {"name_status": NAME_IN_REVIEW, "waited": True, "handed_over": True}
