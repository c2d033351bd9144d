"""The page's numbers that the service measures: one value in two languages stays one value."""

from __future__ import annotations

import re
from pathlib import Path

from anyseek.search.steering import DEFAULT_NEGATIVE_WEIGHT

APP = Path(__file__).resolve().parents[2] / "api" / "static" / "js" / "app.js"


def test_not_like_this_weight_is_the_measured_default() -> None:
    found = re.search(r"NOT_LIKE_WEIGHT = (-?[0-9.]+);", APP.read_text())
    assert found and float(found.group(1)) == DEFAULT_NEGATIVE_WEIGHT
