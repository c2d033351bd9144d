"""``anyseek serve`` bound beyond loopback with no API key, as real processes: refused with a
message saying how to set a key, unless ANYSEEK_API__ALLOW_OPEN opts in (logged); the server
then says it is open to the network (``GET /v1/model``'s ``access``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from server_process import ANYSEEK, HTTP, free_port, process_env, served

pytestmark = pytest.mark.slow


def test_an_open_bind_without_a_key_is_refused_saying_how_to_set_one(tmp_path: Path) -> None:
    env = process_env(tmp_path / "data", ANYSEEK_API__HOST="0.0.0.0")
    done = subprocess.run(
        [str(ANYSEEK), "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refusing to serve on 0.0.0.0 with no API key" in done.stderr, done.stderr
    assert "ANYSEEK_API__API_KEYS" in done.stderr and "ANYSEEK_API__ALLOW_OPEN=1" in done.stderr


def test_the_opt_in_is_logged_and_the_server_says_it_is_open(tmp_path: Path) -> None:
    env = process_env(tmp_path / "data", ANYSEEK_API__HOST="0.0.0.0", ANYSEEK_API__ALLOW_OPEN="1")
    log = tmp_path / "serve.log"
    with served(env, log) as url:
        assert HTTP.get(f"{url}/v1/model").json()["access"] == "open-network"
    assert "with no API key (ANYSEEK_API__ALLOW_OPEN)" in log.read_text()
