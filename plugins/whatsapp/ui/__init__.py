"""The *WhatsApp Health* page: static HTML, CSS and plain JavaScript, no build step.

The plugin's FastAPI app serves these files under ``/whatsapp/ui/``; the page calls the health
API with the browser's Airflow session cookie, so it needs no login of its own.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX_HTML = STATIC_DIR / "index.html"
