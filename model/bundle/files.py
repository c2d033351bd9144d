"""Where a bundle's files are: ``bundle.json`` names its parts, ``builtin`` is the committed model.

Every bundle (the built-in model's and a 4M-format FM bundle) is a folder with ``bundle.json``;
the source ``builtin`` names the one committed under ``model/builtin/weights``.
"""

from __future__ import annotations

from pathlib import Path

BUILTIN_DIR = Path(__file__).parents[1] / "builtin" / "weights"
BUNDLE_FILE = "bundle.json"


def resolve_bundle_source(source: str | Path) -> Path:
    """``builtin`` -> the committed default bundle; otherwise the given folder."""
    return BUILTIN_DIR if str(source) == "builtin" else Path(source).expanduser()
