"""``anyseek serve`` as a real process queried over HTTP: it indexes uploads, is killed with
SIGKILL, and once restarted still finds everything it had indexed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_helpers import COLLECTION, api_settings, png_bytes

from anyseek.db import migrate
from anyseek.db.session import database_for
from model.data import SceneSample

pytestmark = pytest.mark.slow
ANYSEEK = Path(sys.executable).with_name("anyseek")
HTTP = httpx.Client(trust_env=False, timeout=30)  # loopback: no proxy from the environment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {
        "ANYSEEK_DATA_DIR": str(data_dir),
        "ANYSEEK_STORE__PATH": str(data_dir / "faiss"),
        "ANYSEEK_API__API_KEYS": '["k1"]',
        "OMP_NUM_THREADS": "1",
    }
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


def _top(base: str, scene: SceneSample) -> int:
    files = {"image": ("q.png", png_bytes(scene.rgb), "image/png")}
    response = HTTP.post(f"{base}/v1/collections/{COLLECTION}/search/upload", files=files)
    assert response.status_code == 200, response.text
    return response.json()["hits"][0]["id"]


def test_served_process_survives_kill_and_restart(
    tmp_path: Path, scenes: list[SceneSample]
) -> None:
    data_dir = tmp_path / "data"
    database = database_for(api_settings(data_dir), create_dirs=True)
    migrate.upgrade(database)
    database.dispose()

    port, log = _free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    server = _start(data_dir, port, log)
    try:
        files = [("files", (f"{s.seed}.png", png_bytes(s.rgb), "image/png")) for s in scenes[:12]]
        upload = HTTP.post(
            f"{base}/v1/collections/{COLLECTION}/items",
            files=files,
            params={"wait": True},
            headers={"X-API-Key": "k1"},
        )
        assert upload.status_code == 202, upload.text
        assert upload.json()["done"] == 12
        items = HTTP.get(f"{base}/v1/collections/{COLLECTION}/items").json()["items"]
        by_name = {item["payload"]["path"]: item["id"] for item in items}
        ids = [by_name[f"{s.seed}.png"] for s in scenes[:12]]
        assert _top(base, scenes[4]) == ids[4]
        assert HTTP.post(f"{base}/v1/collections", json={"name": "other"}).status_code == 401
        created = HTTP.post(
            f"{base}/v1/collections", json={"name": "other"}, headers={"X-API-Key": "k1"}
        )
        assert created.status_code == 201
        deleted = HTTP.delete(
            f"{base}/v1/collections/{COLLECTION}/items/{ids[0]}", headers={"X-API-Key": "k1"}
        )
        assert deleted.status_code == 204
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)

    server = _start(data_dir, port, log)
    try:
        listed = HTTP.get(f"{base}/v1/collections").json()["collections"]
        assert {c["name"]: c["items"] for c in listed} == {"other": 0, COLLECTION: len(ids) - 1}
        for i in range(1, 12):  # every item it had indexed is still found first by its image
            assert _top(base, scenes[i]) == ids[i]
        assert ids[0] not in [h["id"] for h in _search_all(base, scenes[0])]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode in (0, -signal.SIGTERM)


def _search_all(base: str, scene: SceneSample) -> list[dict]:
    files = {"image": ("q.png", png_bytes(scene.rgb), "image/png")}
    response = HTTP.post(
        f"{base}/v1/collections/{COLLECTION}/search/upload",
        files=files,
        data={"params": '{"k": 20}'},
    )
    return response.json()["hits"]
