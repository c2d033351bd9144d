"""``anyseek serve`` refuses to start on a database that is not initialised, in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli import main


def test_serve_on_an_uninitialised_database_says_run_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in [k for k in os.environ if k.startswith("ANYSEEK_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(tmp_path / "data"))
    assert main(["serve", "--port", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "anyseek db upgrade" in err
    assert len(err.splitlines()) == 1
