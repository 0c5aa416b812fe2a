"""The first task of the DAGs that act on one existing channel: its params, and the channel they name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Param

from whatsapp.domain.signup import ACCOUNT_ID, INBOX_ID
from whatsapp.operators.base import MANAGER_LINK, WhatsAppBaseOperator, positive_int

if TYPE_CHECKING:
    from airflow.sdk import Context


def one_channel_params() -> dict[str, Param]:
    """The params of a DAG that acts on one existing channel, read by its ``resolve_channel`` task.

    New Param objects on each call: Airflow keeps a param's value on the object, so DAGs must
    not share them.
    """
    return {
        "account_id": Param(**ACCOUNT_ID.schema(), description=ACCOUNT_ID.description),
        "inbox_id": Param(**INBOX_ID.schema(), description="The channel's inbox"),
    }


class WhatsAppResolveChannelOperator(WhatsAppBaseOperator):
    """Turn ``account_id``/``inbox_id`` into a channel ref, failing clearly when there is none.

    The first task of the DAGs that act on one channel (their params: :func:`one_channel_params`,
    which the defaults read), so it also refuses a run whose conf holds keys its DAG does not
    declare as params (Airflow accepts them silently): a misspelt key must not act on a channel
    with the other keys' defaults. Its refusals fail the task without retry; only a store that
    cannot answer is retried.
    """

    operator_extra_links = MANAGER_LINK

    template_fields = ("account_id", "inbox_id")

    def __init__(
        self,
        *,
        task_id: str = "resolve_channel",
        account_id: int | str = "{{ params.account_id }}",
        inbox_id: int | str = "{{ params.inbox_id }}",
        **kwargs: Any,
    ) -> None:
        super().__init__(task_id=task_id, **kwargs)
        self.account_id = account_id
        self.inbox_id = inbox_id

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.operators.base import channel_ref

        declared = set(context["dag"].params)
        unknown = sorted(set(context["dag_run"].conf or {}) - declared)
        if unknown:
            self.fail(
                "unknown conf keys",
                f"{', '.join(map(repr, unknown))} not accepted (accepted: {', '.join(sorted(declared))})",
            )
        account_id = positive_int(self, "account_id", self.account_id, minimum=1)
        inbox_id = positive_int(self, "inbox_id", self.inbox_id, minimum=1)
        with self.open_store() as store:
            channel = store.channels.get(account_id, inbox_id)
        if channel is None:
            self.fail("unknown channel", f"no channel for account {account_id} inbox {inbox_id}")
        self.publish_link(context, channel.business_id, channel.waba_id)
        return {**channel_ref(channel), "display_phone_number": channel.display_phone_number}
