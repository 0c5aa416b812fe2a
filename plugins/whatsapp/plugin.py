"""The Airflow plugin: registers the provider's operator links (and later its UI/API)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from whatsapp.links import WhatsAppManagerLink


class WhatsAppPlugin(AirflowPlugin):
    name = "whatsapp"
    operator_extra_links = [WhatsAppManagerLink()]
