"""The committed UI bundle is built from the current ui/ sources, and registers what the plugin names."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from whatsapp.plugin import BUNDLE_URL, WhatsAppPlugin
from whatsapp.ui import BUNDLE

ROOT = Path(__file__).resolve().parents[2]


def _bundle_hash():
    spec = importlib.util.spec_from_file_location("bundle_hash", ROOT / "ui" / "bundle_hash.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bundle_hash", module)
    spec.loader.exec_module(module)
    return module


def test_committed_bundle_is_built_from_the_current_sources() -> None:
    reason = _bundle_hash().stale_reason()
    assert reason is None, f"{reason}: run `make ui` (cd ui && npm ci && npm run build) and commit dist/"


def test_any_source_change_changes_the_digest(tmp_path: Path) -> None:
    """Edited, added or renamed sources, or a new lock file, each need a rebuild."""
    bundle_hash = _bundle_hash()
    copy = tmp_path / "ui"
    for folder in ("src", "openapi-gen"):
        shutil.copytree(ROOT / "ui" / folder, copy / folder)
    for name in bundle_hash.CONFIG_FILES:
        shutil.copy2(ROOT / "ui" / name, copy / name)
    digests = [bundle_hash.sources_digest(copy)]
    assert digests[0] == bundle_hash.sources_digest()
    main = copy / "src" / "main.tsx"
    main.write_text(main.read_text() + "\n")
    digests.append(bundle_hash.sources_digest(copy))
    main.rename(copy / "src" / "entry.tsx")
    digests.append(bundle_hash.sources_digest(copy))
    (copy / "src" / "extra.ts").write_text("export {};\n")
    digests.append(bundle_hash.sources_digest(copy))
    types = copy / "openapi-gen" / "api.ts"
    types.write_text(types.read_text() + "\n")
    digests.append(bundle_hash.sources_digest(copy))
    lock = copy / "package-lock.json"
    lock.write_text(lock.read_text().replace('"lockfileVersion"', '"lockfileVersion" ', 1))
    digests.append(bundle_hash.sources_digest(copy))
    assert len(set(digests)) == len(digests)


def test_every_react_app_is_a_global_the_bundle_registers() -> None:
    code = BUNDLE.read_text()
    apps = WhatsAppPlugin.react_apps
    assert {app["destination"] for app in apps} == {"nav", "dashboard", "dag_run"}
    for app in apps:
        assert app["bundle_url"] == BUNDLE_URL == "/whatsapp/ui/whatsapp-health.js"
        assert f'"{app["name"]}"' in code or f"{app['name']}:" in code, app["name"]
    # The nav label must fit Airflow's navigation (the old "WhatsApp Health" was cut).
    [nav] = [app for app in apps if app["destination"] == "nav"]
    assert len(nav["name"]) <= 8


#: The committed bundle's size limit, in bytes. React, the router, Chakra and Emotion are Airflow's
#: own copies (externals in vite.config.ts), so the bundle holds the page's code, TanStack Query and
#: Chart.js (229 kB minified at the trend chart's introduction, Chart.js about 165 kB of it). A
#: bundle over the limit has taken in a copy of something Airflow provides, or a library nobody
#: weighed: raise the limit only with a reason in the commit.
BUNDLE_LIMIT = 300_000


def test_the_bundle_stays_within_its_size_limit() -> None:
    size = BUNDLE.stat().st_size
    assert size <= BUNDLE_LIMIT, f"whatsapp-health.js is {size:,} bytes, over its limit of {BUNDLE_LIMIT:,}"
