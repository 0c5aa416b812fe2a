"""Links into Meta's tools, built from ids (business portfolio and WABA kept distinct)."""

from __future__ import annotations

from urllib.parse import urlencode

WHATSAPP_MANAGER_URL = "https://business.facebook.com/latest/whatsapp_manager/phone_numbers/"


def whatsapp_manager_url(business_id: str, waba_id: str) -> str:
    """The phone-numbers page of WhatsApp Manager for one WABA of one business portfolio."""
    return f"{WHATSAPP_MANAGER_URL}?{urlencode({'business_id': business_id, 'asset_id': waba_id})}"
