"""``anyseek serve --workers 2`` as a real process: a writer and a reader on one port. Every write
is done once, by the writer, whichever process the connection reached (the reader forwards it);
searches find the same items from either process; a killed reader is started again, and the
reader goes when the writer does."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from api_helpers import (
    COLLECTION,
    free_port,
    migrated_data_dir,
    png_bytes,
    start_serve,
)

from anyseek.api.forward import FORWARDED_HEADER
from anyseek.scenes import SceneSample

pytestmark = pytest.mark.slow
KEY = {"X-API-Key": "k1"}
ENV = {"ANYSEEK_API__API_KEYS": '["k1"]', "ANYSEEK_API__WORKERS": "2"}


def _new_connection() -> httpx.Client:
    """A client whose next request opens a new connection (the kernel picks its process)."""
    return httpx.Client(trust_env=False, timeout=120)


def _readers(writer: int) -> list[int]:
    """The reader processes the writer started (not multiprocessing's own helpers)."""
    found = []
    for task in Path(f"/proc/{writer}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in command:
                found.append(int(child))
    return found


def _until(check: Callable[[], bool], timeout: float = 90) -> None:
    """Wait for ``check`` to hold (the test fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def test_writes_reach_the_writer_and_searches_agree_across_processes(
    tmp_path: Path, scenes: list[SceneSample]
) -> None:
    data_dir = migrated_data_dir(tmp_path)
    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    server = start_serve(data_dir, port, log, ENV)
    try:
        _until(lambda: len(_readers(server.pid)) == 1)
        (reader,) = _readers(server.pid)
        # new connections until one reached the reader (the processes listen together, once
        # each has loaded its model): every write is answered as asked, and done once
        created, via_reader = 0, None
        while via_reader is None:
            assert created < 200, "no connection reached the reader"
            client = _new_connection()
            answer = client.post(
                f"{base}/v1/collections", json={"name": f"c{created}"}, headers=KEY
            )
            assert answer.status_code == 201, answer.text
            created += 1
            if answer.headers.get(FORWARDED_HEADER) == "writer":
                via_reader = client  # kept open: its connection stays with the reader
            else:
                client.close()
        try:
            listed = via_reader.get(f"{base}/v1/collections")
            assert FORWARDED_HEADER not in listed.headers  # a read: the reader's own answer
            names = sorted(c["name"] for c in listed.json()["collections"])
            assert names == sorted(f"c{i}" for i in range(created))  # each made once
            again = via_reader.post(f"{base}/v1/collections", json={"name": "c0"}, headers=KEY)
            assert again.status_code == 409, again.text  # the writer's refusal, passed back

            files = [
                ("files", (f"{s.seed}.png", png_bytes(s.rgb), "image/png")) for s in scenes[:8]
            ]
            upload = via_reader.post(  # a multipart body streamed on to the writer
                f"{base}/v1/collections/{COLLECTION}/items",
                files=files,
                params={"wait": True},
                headers=KEY,
            )
            assert upload.status_code == 202, upload.text
            assert upload.headers[FORWARDED_HEADER] == "writer"
            assert upload.json()["done"] == 8
            items = via_reader.get(f"{base}/v1/collections/{COLLECTION}/items").json()["items"]
        finally:
            via_reader.close()
        wanted = {item["payload"]["path"]: item["id"] for item in items}[f"{scenes[3].seed}.png"]
        query = {"image": ("q.png", png_bytes(scenes[3].rgb), "image/png")}
        tops = set()
        for _ in range(16):  # new connections: both processes answer some
            with _new_connection() as client:
                url = f"{base}/v1/collections/{COLLECTION}/search/upload"
                found = client.post(url, files=query)
            assert found.status_code == 200, found.text
            assert FORWARDED_HEADER not in found.headers  # a search is never forwarded
            tops.add(found.json()["hits"][0]["id"])
        assert tops == {wanted}
    finally:
        server.terminate()
        server.wait(timeout=60)
    _until(lambda: _gone(reader), timeout=30)  # the writer stopped its reader


def test_a_killed_reader_is_restarted_and_readers_go_with_the_writer(tmp_path: Path) -> None:
    data_dir = migrated_data_dir(tmp_path)
    port, log = free_port(), tmp_path / "serve.log"
    server = start_serve(data_dir, port, log, ENV)
    try:
        _until(lambda: len(_readers(server.pid)) == 1)
        (first,) = _readers(server.pid)
        os.kill(first, signal.SIGKILL)
        _until(lambda: _readers(server.pid) not in ([], [first]))
        (second,) = _readers(server.pid)
        assert second != first
    finally:
        server.kill()  # no goodbye: the reader must notice the writer is gone by itself
        server.wait(timeout=30)
    _until(lambda: _gone(second), timeout=30)


def _gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped counts)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
