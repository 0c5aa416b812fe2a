"""What every WhatsApp operator shares: connections, the store, the link, and error mapping."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

import pendulum
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from whatsapp.defaults import DEFAULT_GRAPH_CONN_ID, DEFAULT_STORE_CONN_ID
from whatsapp.domain.manager_url import whatsapp_manager_url
from whatsapp.domain.registration_machine import GraphFailed
from whatsapp.errors import GraphApiError
from whatsapp.extra_links import WHATSAPP_MANAGER_XCOM_KEY, WhatsAppManagerLink
from whatsapp.hooks.graph import WhatsAppGraphHook

if TYPE_CHECKING:
    from airflow.sdk import Context

    from whatsapp.store import Channel, ChannelStore

#: The ids one task hands the next (XCom); never a token, PIN or code.
CHANNEL_REF_KEYS = ("channel_id", "account_id", "inbox_id", "phone_number_id", "waba_id", "business_id")


def channel_ref(channel: Channel) -> dict[str, Any]:
    return {key: getattr(channel, "id" if key == "channel_id" else key) for key in CHANNEL_REF_KEYS}


#: For operators that know their channel's WABA: they publish the link as they run.
MANAGER_LINK = (WhatsAppManagerLink(),)


class WhatsAppBaseOperator(BaseOperator):
    """Base for the provider's operators: a Graph hook, the channel store, error mapping."""

    ui_color = "#dcf8c6"

    def __init__(
        self,
        *,
        whatsapp_graph_conn_id: str = DEFAULT_GRAPH_CONN_ID,
        whatsapp_store_conn_id: str = DEFAULT_STORE_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.whatsapp_graph_conn_id = whatsapp_graph_conn_id
        self.whatsapp_store_conn_id = whatsapp_store_conn_id

    @cached_property
    def hook(self) -> WhatsAppGraphHook:
        return WhatsAppGraphHook(self.whatsapp_graph_conn_id)

    @contextmanager
    def open_store(self) -> Iterator[ChannelStore]:
        """The store, after both connections proved usable.

        Configuration errors (a malformed Graph connection, no Fernet key, an unmigrated store)
        fail without retry; an unreachable database is left to Airflow's retries.
        """
        from whatsapp.store import ChannelStore, EncryptionUnavailableError, StoreNotMigratedError

        try:
            _ = self.hook.settings
            store = ChannelStore.from_conn_id(self.whatsapp_store_conn_id)
            store.check_migrated()
            _ = store.secrets  # every operator reads or writes a secret
        except (ValueError, EncryptionUnavailableError, StoreNotMigratedError) as error:
            self.fail("configuration", error)
        try:
            yield store
        finally:
            store.dispose()
            self.hook.close()

    def publish_link(self, context: Context, business_id: str, waba_id: str) -> None:
        context["ti"].xcom_push(
            key=WHATSAPP_MANAGER_XCOM_KEY, value=whatsapp_manager_url(business_id, waba_id)
        )

    def fail(self, what: str, error: GraphApiError | Exception | str) -> NoReturn:
        """Fail without retry: the log names Graph's code, subcode and user message, never a secret."""
        self.log.error("%s: %s", what, error)
        raise AirflowFailException(f"{what}: {error}")

    def graph_failure(
        self,
        what: str,
        error: GraphApiError,
        *,
        store: ChannelStore | None = None,
        channel_id: int | None = None,
    ) -> NoReturn:
        """Transient Graph errors go to Airflow's retries; permanent ones fail the task at once.

        With a channel, a dead token or revoked permission also flags it for reauthorization.
        """
        if store is not None and channel_id is not None:
            store.channels.apply(channel_id, GraphFailed(error.kind, pendulum.now("UTC")))
        if error.retryable:
            self.log.warning("%s failed transiently, the task will retry: %s", what, error)
            raise error
        self.fail(what, error)


class WhatsAppChannelOperator(WhatsAppBaseOperator):
    """An operator working on one saved channel, identified by the ids of a channel ref."""

    template_fields = ("channel",)
    operator_extra_links = MANAGER_LINK

    def __init__(self, *, channel: Mapping[str, Any] | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channel = channel

    def load_channel(self, store: ChannelStore, context: Context) -> Channel:
        if not isinstance(self.channel, Mapping) or "channel_id" not in self.channel:
            self.fail("bad channel reference", f"expected a mapping with 'channel_id', got {self.channel!r}")
        channel = store.channels.by_id(int(self.channel["channel_id"]))
        if channel is None:
            self.fail("unknown channel", f"no channel with id {self.channel['channel_id']}")
        self.publish_link(context, channel.business_id, channel.waba_id)
        return channel


def positive_int(operator: WhatsAppBaseOperator, name: str, value: Any, minimum: int = 0) -> int:
    """An operator argument (often a rendered template, so a string) as an integer >= ``minimum``;
    anything else fails the task without retry."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        operator.fail(f"bad {name}", f"{name} must be an integer, got {value!r}")
    if number < minimum:
        operator.fail(f"bad {name}", f"{name} must be >= {minimum}, got {number}")
    return number
