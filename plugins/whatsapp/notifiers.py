"""Notifications through Airflow's notifier interface (``airflow.sdk.bases.notifier.BaseNotifier``).

After each fleet run, the channels that *newly* need a person are announced once (the store
remembers what was announced, ``store.operations``). Where to is configuration, as Airflow
connections, so every deployment picks its channels without touching the DAG:

* ``whatsapp_notify_webhook``: a Slack-style incoming webhook (any connection type; ``host``
  is the full URL), posted ``{"text": ...}`` by :class:`WhatsAppWebhookNotifier`;
* ``whatsapp_notify_email``: an ``smtp`` connection (Airflow's SMTP provider) whose extra
  ``to`` lists the recipients (comma-separated) and ``from_email`` the sender; sent by
  Airflow's own ``SmtpNotifier``.

Both notifiers also work as ordinary DAG or task callbacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from airflow.sdk.bases.notifier import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

    from whatsapp.store.operations import FlaggedChannel

WEBHOOK_CONN_ID = "whatsapp_notify_webhook"
EMAIL_CONN_ID = "whatsapp_notify_email"
SUBJECT = "WhatsApp channels need a person"
#: Seconds a webhook may take; a failure fails the notify task, which Airflow retries.
WEBHOOK_TIMEOUT_S = 10.0


class WhatsAppWebhookNotifier(BaseNotifier):
    """POST ``{"text": text}`` to a Slack-style incoming webhook named by an Airflow connection.

    The URL (which holds the webhook's secret) is never logged; errors name the connection.
    ``text`` is sent as given (not rendered as a template).
    """

    template_fields = ()

    def __init__(self, *, text: str, webhook_conn_id: str = WEBHOOK_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = text
        self.webhook_conn_id = webhook_conn_id

    def notify(self, context: Context) -> None:
        from airflow.sdk import BaseHook

        url = BaseHook.get_connection(self.webhook_conn_id).host
        try:
            response = httpx.post(url, json={"text": self.text}, timeout=WEBHOOK_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise RuntimeError(
                f"webhook {self.webhook_conn_id!r} unreachable: {type(exc).__name__}"
            ) from None
        if response.is_error:
            raise RuntimeError(f"webhook {self.webhook_conn_id!r} answered HTTP {response.status_code}")


def email_notifier(text: str, *, smtp_conn_id: str = EMAIL_CONN_ID) -> BaseNotifier:
    """Airflow's ``SmtpNotifier`` sending ``text``; recipients and sender from the connection's extra."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk import BaseHook

    extra = BaseHook.get_connection(smtp_conn_id).extra_dejson
    recipients = [address.strip() for address in str(extra.get("to", "")).split(",") if address.strip()]
    if not recipients:
        raise ValueError(f"smtp connection {smtp_conn_id!r} needs an extra 'to' (comma-separated addresses)")
    return SmtpNotifier(
        to=recipients,
        from_email=extra.get("from_email"),
        subject=SUBJECT,
        html_content=f"<pre>{_escape_html(text)}</pre>",
        smtp_conn_id=smtp_conn_id,
    )


def _escape_html(text: str) -> str:
    import html

    # Also keep Jinja out: the notifier renders its fields as templates.
    return html.escape(text).replace("{", "&#123;").replace("}", "&#125;")


def flags_message(flagged: list[FlaggedChannel]) -> str:
    """One line per channel: number, account/inbox and why a person is needed."""
    lines = [f"{len(flagged)} WhatsApp channel(s) newly need a person:"]
    for channel in flagged:
        why = channel.state + (f" ({channel.reason})" if channel.reason else "")
        number = channel.display_phone_number or channel.phone_number_id
        lines.append(f"- {number} (account {channel.account_id}, inbox {channel.inbox_id}): {why}")
    return "\n".join(lines)


def configured_notifiers(text: str) -> list[BaseNotifier]:
    """A notifier for each notification connection that is defined, carrying ``text``."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    notifiers: list[BaseNotifier] = []
    for conn_id, build in (
        (WEBHOOK_CONN_ID, lambda: WhatsAppWebhookNotifier(text=text)),
        (EMAIL_CONN_ID, lambda: email_notifier(text)),
    ):
        try:
            BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            continue
        notifiers.append(build())
    return notifiers
