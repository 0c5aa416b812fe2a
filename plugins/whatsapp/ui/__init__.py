"""The *WhatsApp Health* UI: a built React bundle that Airflow's own UI loads (an AIP-68 React app).

The sources are in ``ui/`` at the repository root (Vite + React + TypeScript); the built bundle is
committed under ``dist/`` so that installing the provider needs no Node. ``dist/SOURCE_HASH`` is
the digest of the sources it was built from (``ui/bundle_hash.py``): ``make`` rebuilds the bundle
only when that digest changes, and a unit test fails when the committed bundle is stale.
"""

from __future__ import annotations

from pathlib import Path

DIST_DIR = Path(__file__).resolve().parent / "dist"
#: The one file Airflow's UI imports; it registers the page, the dashboard card and the run tab.
BUNDLE_NAME = "whatsapp-health.js"
BUNDLE = DIST_DIR / BUNDLE_NAME
#: The page's route in Airflow's UI: a "nav" React app lives at ``/plugin/<url_route>``.
PAGE_ROUTE = "whatsapp-health"
#: A second url_route, for the tab on DAG runs (Airflow wants one per React app it routes to).
RUN_TAB_ROUTE = "whatsapp-channel"
