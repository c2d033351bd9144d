"""``anyseek search`` asks a server only when that server serves its data directory, as real
processes: a server of another data directory on the default port is not asked, the one serving
this data directory is, and one line on stderr says which answered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from server_process import ROOT, cli, free_port, process_env, start_server, stop

from anyseek.scenes import generate_scene

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def _search(env: dict[str, str], collection: str) -> subprocess.CompletedProcess[str]:
    """``anyseek search -c COLLECTION --caption ...`` with ``env``, its outputs and exit code."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "anyseek.cli",
            "search",
            "-c",
            collection,
            "--caption",
            "a red cube",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _indexed(tmp_path: Path, name: str, port: int) -> dict[str, str]:
    """A data directory whose collection ``name`` holds two photos; its environment, whose
    default server address is ``port``."""
    photos = tmp_path / f"{name}-photos"
    photos.mkdir()
    for seed in range(2):
        Image.fromarray(generate_scene(5_300 + seed, 64).rgb).save(photos / f"{seed}.png")
    env = process_env(tmp_path / name, ANYSEEK_API__PORT=str(port))
    cli(env, "index", str(photos), "-c", name)
    return env


def test_search_asks_the_server_of_its_own_data_directory_and_no_other(tmp_path: Path) -> None:
    port = free_port()
    mine = _indexed(tmp_path, "mine", port)
    theirs = _indexed(tmp_path, "theirs", port)
    server = start_server(theirs, port, tmp_path / "theirs.log")  # on mine's default address
    try:
        here = _search(mine, "mine")
        assert here.returncode == 0, here.stdout + here.stderr  # not "no collection 'mine'"
        assert f"searched here: no `anyseek serve` serves {tmp_path / 'mine'}" in here.stderr
        assert "0.png" in here.stdout and "1.png" in here.stdout
        there = _search(theirs, "theirs")
        assert there.returncode == 0, there.stdout + there.stderr
        expected = f"through the server at http://127.0.0.1:{port} (pid {server.pid})"
        assert expected in there.stderr, there.stderr
        assert "0.png" in there.stdout
    finally:
        stop(server)
    after = _search(theirs, "theirs")  # the server is gone: its note, if left, is stale
    assert after.returncode == 0 and "searched here" in after.stderr, after.stderr
