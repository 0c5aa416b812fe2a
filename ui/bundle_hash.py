"""Is the committed UI bundle built from the current sources? (No Node needed to answer.)

``make`` must rebuild the bundle exactly when ``ui/`` sources changed, and a git checkout gives
every file an arbitrary mtime, so freshness is decided by content: the SHA-256 of the sources
(``src/**``, the generated API types in ``openapi-gen/``, the package manifest and lock file,
the Vite and TypeScript configs) is stored in ``plugins/whatsapp/ui/dist/SOURCE_HASH`` next to
the bundle's own SHA-256, and compared.

    python3 ui/bundle_hash.py check   # exit 0 when the bundle is fresh, 1 (and why) when stale
    python3 ui/bundle_hash.py write   # after `vite build` (npm run build does it)
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

UI_DIR = Path(__file__).resolve().parent
DIST_DIR = UI_DIR.parent / "plugins" / "whatsapp" / "ui" / "dist"
STAMP = DIST_DIR / "SOURCE_HASH"
BUNDLE = DIST_DIR / "whatsapp-health.js"
CONFIG_FILES = ("package.json", "package-lock.json", "vite.config.ts", "tsconfig.json")


def source_files(ui_dir: Path = UI_DIR) -> list[Path]:
    """Every input of the build, in a stable order."""
    sources = [*(ui_dir / "src").rglob("*"), *(ui_dir / "openapi-gen").rglob("*")]
    return sorted([*sources, *(ui_dir / name for name in CONFIG_FILES)])


def sources_digest(ui_dir: Path = UI_DIR) -> str:
    digest = hashlib.sha256()
    for path in source_files(ui_dir):
        if path.is_file():
            digest.update(path.relative_to(ui_dir).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def bundle_digest() -> str | None:
    return hashlib.sha256(BUNDLE.read_bytes()).hexdigest() if BUNDLE.is_file() else None


def expected_stamp() -> str:
    """What SOURCE_HASH holds for a bundle built from the current sources."""
    return f"sources {sources_digest()}\nbundle {bundle_digest()}\n"


def stale_reason() -> str | None:
    """Why the committed bundle does not match the sources, or ``None`` when it does."""
    if not BUNDLE.is_file():
        return f"{BUNDLE} is missing"
    recorded = STAMP.read_text() if STAMP.is_file() else ""
    lines = dict(line.split(" ", 1) for line in recorded.splitlines() if " " in line)
    if lines.get("sources") != sources_digest():
        return "ui/ sources changed since the bundle was built"
    if lines.get("bundle") != bundle_digest():
        return f"{BUNDLE.name} is not the file that build produced"
    return None


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "write":
        STAMP.write_text(expected_stamp())
        return 0
    if command == "check":
        reason = stale_reason()
        if reason:
            print(
                f"UI bundle is stale: {reason} (rebuild: cd ui && npm ci && npm run build)", file=sys.stderr
            )
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
