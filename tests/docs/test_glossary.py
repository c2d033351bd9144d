"""docs/glossary.md names real code: every ``anyseek.…`` name it gives is a module, or an
attribute of one, so a rename that leaves the glossary behind fails here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "docs" / "glossary.md"


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or a module's attribute (a class, a function)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_code_name_in_the_glossary_exists() -> None:
    names = set(re.findall(r"`(anyseek(?:\.\w+)+)", GLOSSARY.read_text()))
    assert len(names) > 15  # the table was read
    assert sorted(n for n in names if not _resolves(n)) == []


def test_a_stale_name_is_caught() -> None:
    assert not _resolves("anyseek.indexer.versions.switch_version")  # renamed: version_switch
    assert _resolves("anyseek.indexer.version_switch")
