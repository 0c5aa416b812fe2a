"""The Airflow plugin: operator links, the health API at ``/whatsapp``, and the *WhatsApp Health* page.

Every Airflow component loads plugins (schedulers and workers too), so this module stays cheap:
the FastAPI app is built on its first request, in the API server, by :class:`LazyApiApp`.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin

from whatsapp.api.conf_guard import OnboardingConfGuard
from whatsapp.extra_links import WhatsAppManagerLink
from whatsapp.ui import BUNDLE_NAME, PAGE_ROUTE, RUN_TAB_ROUTE

if TYPE_CHECKING:
    from fastapi import FastAPI

URL_PREFIX = "/whatsapp"
BUNDLE_URL = f"{URL_PREFIX}/ui/{BUNDLE_NAME}"

# A speech bubble in WhatsApp green, inline so the icon needs no extra file or route.
_ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#25D366" '
    'd="M12 2a10 10 0 0 0-8.6 15.1L2 22l5-1.3A10 10 0 1 0 12 2z"/><path fill="#fff" '
    'd="M8.5 7.5c.3-.6.6-.6 1-.6h.6c.2 0 .4 0 .6.5l.8 1.9c.1.2.1.4 0 .6l-.5.7c-.1.2-.2.3 0 .6.9 1.5 '
    "2.1 2.5 3.6 3.2.3.1.4.1.6-.1l.7-.9c.2-.2.3-.2.6-.1l1.8.9c.3.1.4.2.4.4 0 .7-.3 1.5-1.1 1.9-.8.4-1.7.5-3.6"
    '-.3-2.2-.9-3.8-3-4.5-4.2-.6-1.2-.6-2.2-.1-3z"/></svg>'
)
ICON = "data:image/svg+xml;charset=utf-8," + quote(_ICON_SVG)


@functools.cache
def _build_app() -> FastAPI:
    from whatsapp.api.app import create_app

    return create_app()


class LazyApiApp:
    """An ASGI app that builds the real one on first use (once, even under concurrent requests)."""

    _lock = threading.Lock()

    @property
    def app(self) -> FastAPI:
        with self._lock:
            return _build_app()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class WhatsAppPlugin(AirflowPlugin):
    name = "whatsapp"
    operator_extra_links = [WhatsAppManagerLink()]
    fastapi_apps = [{"app": LazyApiApp(), "url_prefix": URL_PREFIX, "name": "WhatsApp fleet health API"}]
    # In front of Airflow's own trigger and backfill routes: a whatsapp_onboarding conf that the
    # run would refuse, or that carries a signup code, is a 400 before Airflow runs or logs it.
    fastapi_root_middlewares = [{"middleware": OnboardingConfGuard, "name": "whatsapp_onboarding conf guard"}]
    # React apps (AIP-68): Airflow's UI imports the bundle and renders the component it registers
    # under globalThis[name], in Airflow's own document, router and theme. The page and the run tab
    # share the name "WhatsApp" (their label; the component tells them apart by the run it gets).
    react_apps = [
        {
            "name": "WhatsApp",
            "bundle_url": BUNDLE_URL,
            "url_route": PAGE_ROUTE,
            "destination": "nav",
            "nav_top_level": True,
            "icon": ICON,
        },
        {"name": "WhatsApp fleet", "bundle_url": BUNDLE_URL, "destination": "dashboard"},
        {
            "name": "WhatsApp",
            "bundle_url": BUNDLE_URL,
            "url_route": RUN_TAB_ROUTE,
            "destination": "dag_run",
            "icon": ICON,
        },
    ]
