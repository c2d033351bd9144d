"""A real ``python -m cli serve`` process on a free loopback port, for tests that must see what a
client sees over HTTP (status, content type, body), not what a TestClient reports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from api_helpers import prepare

from model.data import SceneSample
from model.families.interface import SearchModel

HTTP = httpx.Client(trust_env=False, timeout=60)  # loopback: no proxy from the environment
START_TIMEOUT_S = 120


@dataclass
class Live:
    """A served data directory: the server's URL, its folders and the scenes' item ids."""

    url: str
    data_dir: Path
    allowed: Path  # the one allowed root of server-side indexing
    ids: list[int]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a server on ``data_dir``: this one's without ANYSEEK_* variables, the
    data directory, its FAISS folder, and ``settings`` (ANYSEEK_ names without the prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {
        "ANYSEEK_DATA_DIR": str(data_dir),
        "ANYSEEK_STORE__PATH": str(data_dir / "faiss"),
        "OMP_NUM_THREADS": "1",
    }
    return env | {f"ANYSEEK_{key}": value for key, value in settings.items()}


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``python -m cli serve`` with ``env`` on ``port``, once /readyz answers 200."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
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
    pytest.fail(f"anyseek serve was not ready in {START_TIMEOUT_S} s: {log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """Ask the server to stop; kill it when it does not within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def serve_scenes(
    folder: Path, model: SearchModel, scenes: list[SceneSample], **settings: str
) -> Iterator[Live]:
    """The scenes collection written as ``api_helpers.prepare`` writes it, then served by a
    ``python -m cli serve`` process with the same settings until the fixture ends."""
    data_dir = folder / "data"
    _, database, store, ids = prepare(data_dir, model, scenes)
    store.close()  # the server process is the store's one writer
    database.dispose()
    allowed = data_dir / "allowed"
    allowed.mkdir(parents=True, exist_ok=True)
    env = server_env(
        data_dir,
        STORE__EXACT_THRESHOLD="100000",
        API__BATCH_WAIT_MS="1",
        INDEXER__ALLOWED_ROOTS=json.dumps([str(allowed)]),
        INDEXER__FLUSH_INTERVAL_S="0",
        **settings,
    )
    port = free_port()
    process = start(env, port, folder / "serve.log")
    try:
        yield Live(f"http://127.0.0.1:{port}", data_dir, allowed, ids)
    finally:
        stop(process)
