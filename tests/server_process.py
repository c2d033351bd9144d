"""``anyseek serve`` and ``python -m anyseek.cli`` as real processes, for tests of what a user runs:
settings come from the environment alone (the developer's ANYSEEK_* variables set aside)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ANYSEEK = Path(sys.executable).with_name("anyseek")
ROOT = Path(__file__).resolve().parents[1]
#: a test's server is one process unless the test asks for more: a plain ``anyseek serve`` runs
#: one per core, and two model loads per server would slow every server test on a 2-core CI
#: (tests/api/test_processes.py tests the default count, test_serve_workers_process.py two)
ONE_PROCESS = {"ANYSEEK_API__WORKERS": "1"}
HTTP = httpx.Client(trust_env=False, timeout=120)  # loopback: no proxy from the environment


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings_env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``anyseek serve`` with only ``settings_env`` of the ANYSEEK_* variables, once ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {"OMP_NUM_THREADS": "1", **ONE_PROCESS, **settings_env}
    process = subprocess.Popen(
        [str(ANYSEEK), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    if wait_ready(f"http://127.0.0.1:{port}", process, 120):
        return process
    if process.poll() is not None:
        pytest.fail(f"anyseek serve exited with {process.returncode}: {log.read_text()}")
    process.kill()
    pytest.fail(f"anyseek serve was not ready in 120 s: {log.read_text()}")


def wait_ready(base_url: str, process: subprocess.Popen, timeout: float) -> bool:
    """Poll ``/readyz`` until it answers 200 (True); False once ``process`` exits or ``timeout``
    seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if HTTP.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def process_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a process using ``data_dir``, plus ``ANYSEEK_*`` ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    return env | {
        "ANYSEEK_DATA_DIR": str(data_dir),
        "ANYSEEK_STORE__PATH": str(data_dir / "faiss"),
        "OMP_NUM_THREADS": "1",
        **ONE_PROCESS,
        **settings,
    }


@contextmanager
def served(env: dict[str, str], log: Path) -> Iterator[str]:
    """A running ``anyseek serve`` with ``env``: its base URL; stopped on exit."""
    port = free_port()
    process = start_server(env, port, log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Ask a server process to stop; kill it when it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m anyseek.cli ARGS`` with ``env``, run to its end: its exit code and output, for
    a test that checks what it printed where."""
    return subprocess.run(
        [sys.executable, "-m", "anyseek.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def cli(env: dict[str, str], *args: str, code: int = 0) -> str:
    """``python -m anyseek.cli ARGS`` with ``env``: its output (the test fails with it unless it
    exits ``code``: 2 is ``anyseek index``'s job that ended ``partial``)."""
    done = run_cli(env, *args)
    assert done.returncode == code, f"anyseek {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout
