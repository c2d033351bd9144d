"""``anyseek serve`` as a real process queried over HTTP: it indexes uploads, is killed with
SIGKILL, and once restarted still finds everything it had indexed."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from api_helpers import (
    COLLECTION,
    HTTP,
    free_port,
    migrated_data_dir,
    png_bytes,
    start_serve,
)

from anyseek.scenes import SceneSample

pytestmark = pytest.mark.slow
KEYS = {"ANYSEEK_API__API_KEYS": '["k1"]'}


def _top(base: str, scene: SceneSample) -> int:
    files = {"image": ("q.png", png_bytes(scene.rgb), "image/png")}
    response = HTTP.post(f"{base}/v1/collections/{COLLECTION}/search/upload", files=files)
    assert response.status_code == 200, response.text
    return response.json()["hits"][0]["id"]


def test_served_process_survives_kill_and_restart(
    tmp_path: Path, scenes: list[SceneSample]
) -> None:
    data_dir = migrated_data_dir(tmp_path)

    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    server = start_serve(data_dir, port, log, KEYS)
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

    server = start_serve(data_dir, port, log, KEYS)
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
