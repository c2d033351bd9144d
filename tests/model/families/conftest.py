"""Fixtures the model families' tests share. Kept light (no torch, no open_clip): ``make
test-clip``'s venv loads it too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory (its models/ is the model cache), no ANYSEEK_* from outside."""
    for key in list(os.environ):
        if key.startswith("ANYSEEK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"
