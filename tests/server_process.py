"""A real ``anyseek serve`` process for tests: started on a free port with the given settings
(environment), ready once ``/readyz`` answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ANYSEEK = Path(sys.executable).with_name("anyseek")
HTTP = httpx.Client(trust_env=False, timeout=30)  # loopback: no proxy from the environment


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings_env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``anyseek serve`` with only ``settings_env`` of the ANYSEEK_* variables, once ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {"OMP_NUM_THREADS": "1", **settings_env}
    process = subprocess.Popen(
        [str(ANYSEEK), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"anyseek serve exited with {process.returncode}: {log.read_text()}")
        try:
            if HTTP.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"anyseek serve was not ready in 120 s: {log.read_text()}")
