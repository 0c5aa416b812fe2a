"""The "WhatsApp Manager" extra link shown on every task that knows its channel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey

#: XCom key under which operators publish the link (a URL of ids, no secret).
WHATSAPP_MANAGER_XCOM_KEY = "whatsapp_manager_url"


class WhatsAppManagerLink(BaseOperatorLink):
    """Opens the channel's WABA in WhatsApp Manager; the task pushes the URL as it runs."""

    name = "WhatsApp Manager"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        url = XCom.get_value(ti_key=ti_key, key=WHATSAPP_MANAGER_XCOM_KEY)
        return str(url) if url else ""
