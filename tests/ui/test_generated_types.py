"""The page's API types are generated from what the API declares, and are not stale.

``ui/openapi.json`` must be what the plugin app produces now (no Node needed: the app is Python),
and ``ui/openapi-gen/api.ts`` what openapi-typescript makes of it. The second check runs the
pinned generator when it is installed (``ui/codegen/node_modules``, after ``npm run generate``);
without it (a clean clone, CI) it checks the digests ``generate`` recorded: the schema, the
generator's lock file and ``api.ts`` must be the files it was generated from and wrote, so a
changed schema or generator, or a hand edit of ``api.ts``, fails either way.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "regenerate: cd ui && npm run generate, and commit ui/openapi.json and ui/openapi-gen/"


def _openapi() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ui_openapi", ROOT / "ui" / "openapi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ui_openapi", module)
    spec.loader.exec_module(module)
    return module


def test_committed_schema_is_what_the_app_produces() -> None:
    openapi = _openapi()
    assert openapi.SCHEMA.read_text() == openapi.schema_text(), f"ui/openapi.json is stale: {REGENERATE}"


def test_generated_types_are_recorded_as_made_from_the_committed_schema() -> None:
    reason = _openapi().stamp_stale_reason()
    assert reason is None, f"{reason}: {REGENERATE}"


def test_generated_types_are_what_the_generator_makes_of_the_schema(tmp_path: Path) -> None:
    openapi = _openapi()
    if not openapi.generator_available():  # make test installs it; a bare pytest may not have it
        message = "no openapi-typescript here (npm ci --prefix ui/codegen): the digests are checked"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    out = tmp_path / "api.ts"
    openapi.generate_types(openapi.SCHEMA, out)
    assert out.read_text() == openapi.TYPES.read_text(), f"ui/openapi-gen/api.ts is stale: {REGENERATE}"


def test_a_changed_schema_or_generator_or_hand_edit_is_stale(tmp_path: Path) -> None:
    """The digest check fails for each input it guards (on copies, never the committed files)."""
    openapi = _openapi()
    for name in (*openapi.STAMPED, openapi.STAMP):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(openapi.UI_DIR / name, tmp_path / name)
    assert openapi.stamp_stale_reason(tmp_path) is None
    for name in openapi.STAMPED:
        path = tmp_path / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        reason = openapi.stamp_stale_reason(tmp_path)
        assert reason == f"{name} changed since openapi-gen/api.ts was generated", reason
        path.write_bytes(original)
    (tmp_path / openapi.STAMPED[0]).unlink()
    assert openapi.stamp_stale_reason(tmp_path) == f"{openapi.STAMPED[0]} is missing"
