"""The page's API types, generated from the plugin's OpenAPI schema (as Airflow's UI generates its client).

One declaration from the store to the browser: the pydantic models of ``whatsapp.api`` give the
plugin app's OpenAPI schema, committed as ``ui/openapi.json``; openapi-typescript turns it into
``ui/openapi-gen/api.ts`` (committed), whose ``components["schemas"]`` are the page's only types
of what the API sends. The app's paths are relative to where Airflow mounts it (``/whatsapp``).

    ../.venv/bin/python openapi.py generate   # npm run generate: schema, types, stamp
    python3 openapi.py check                  # exit 1 (and why) when api.ts is not from openapi.json

openapi-typescript needs TypeScript 5's compiler API, which the page's TypeScript 7 no longer has,
so it is installed in ``codegen/`` (its own pinned package and lock), not among the build's
packages: ``make ui`` does not need it. ``generate`` records in :data:`STAMP` the digests of the
schema, of the generator's lock file and of the ``api.ts`` it wrote, so a check without Node
(``check``, the tests) can tell that ``api.ts`` is the generator's output for the committed schema.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

UI_DIR = Path(__file__).resolve().parent
SCHEMA = UI_DIR / "openapi.json"
TYPES = UI_DIR / "openapi-gen" / "api.ts"
GENERATOR = UI_DIR / "codegen" / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
#: What ``api.ts`` was generated from and what it was, relative to ``ui/`` (the stamp sits next
#: to ``api.ts``, so the bundle's source hash covers it too).
STAMP = "openapi-gen/SOURCE_HASH"
STAMPED = ("openapi.json", "codegen/package-lock.json", "openapi-gen/api.ts")


def schema_text() -> str:
    """The plugin app's OpenAPI schema as committed: what ``/whatsapp/openapi.json`` describes."""
    from whatsapp.api.app import create_app  # the project's venv; ``check`` needs none of it

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def generator_available() -> bool:
    """Node and the generator's install (``npm ci --prefix codegen``) are here."""
    return shutil.which("node") is not None and GENERATOR.is_file()


def generate_types(schema: Path, out: Path) -> None:
    """Run the pinned openapi-typescript on ``schema``, writing ``out``."""
    if not generator_available():
        raise FileNotFoundError(f"node or {GENERATOR} is missing: run `npm ci --prefix codegen` in ui/")
    node = shutil.which("node") or "node"
    subprocess.run([node, str(GENERATOR), str(schema), "--output", str(out)], check=True, capture_output=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stamp_text(ui_dir: Path = UI_DIR) -> str:
    """What :data:`STAMP` holds for the files as they are now."""
    return "".join(f"{name} {_digest(ui_dir / name)}\n" for name in STAMPED)


def stamp_stale_reason(ui_dir: Path = UI_DIR) -> str | None:
    """Why ``api.ts`` is not recorded as what the generator wrote from this schema, or ``None``."""
    stamp = ui_dir / STAMP
    recorded = stamp.read_text() if stamp.is_file() else ""
    lines = dict(line.split(" ", 1) for line in recorded.splitlines() if " " in line)
    for name in STAMPED:
        if not (ui_dir / name).is_file():
            return f"{name} is missing"
        if lines.get(name) != _digest(ui_dir / name):
            return f"{name} changed since openapi-gen/api.ts was generated"
    return None


def generate() -> None:
    SCHEMA.write_text(schema_text())
    TYPES.parent.mkdir(parents=True, exist_ok=True)
    generate_types(SCHEMA, TYPES)
    (UI_DIR / STAMP).write_text(stamp_text())


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "generate":
        generate()
        return 0
    if command == "check":
        reason = stamp_stale_reason()
        if reason:
            print(f"API types are stale: {reason} (regenerate: cd ui && npm run generate)", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
