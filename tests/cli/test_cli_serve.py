"""``anyseek serve`` refuses, in one line, to start on a server database that is not initialised
(an embedded SQLite one is created on first use instead: tests/api/test_serve_first_run.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from anyseek.cli import main


@pytest.mark.integration
def test_serve_on_an_uninitialised_postgresql_database_says_run_upgrade(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_schema_url: str,
) -> None:
    for key in [k for k in os.environ if k.startswith("ANYSEEK_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANYSEEK_DATABASE_URL", postgres_schema_url)  # an empty schema
    assert main(["serve", "--port", "1"]) == 1  # refused before it binds a port
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "anyseek db upgrade" in err
    assert len(err.splitlines()) == 1


@pytest.mark.timeout(180)
def test_serve_on_every_address_prints_a_url_a_browser_can_open(tmp_path: Path) -> None:
    import subprocess

    from server_process import ANYSEEK, free_port, process_env, stop

    port = free_port()
    env = process_env(tmp_path / "data", ANYSEEK_API__API_KEYS='["a-key"]')
    server = subprocess.Popen(
        [str(ANYSEEK), "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = server.stdout.readline()  # said before the model loads
    finally:
        stop(server)
    assert line.startswith(f"anyseek on http://127.0.0.1:{port} "), line
    assert "http://0.0.0.0" not in line and "every address (0.0.0.0)" in line, line
