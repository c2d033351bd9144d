"""``anyseek serve`` while its PostgreSQL (a cluster of the test's own) is stopped, or restarted
under requests that are waiting on it: every search, item and job request is a 503 with
``Retry-After`` at once, never a 500 or a hang, and once the database is back the same process
answers as before, with no restart (issue 40)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from server_process import cli, process_env, served
from sqlalchemy import create_engine, text

from anyseek.scenes import generate_scene

pytestmark = [pytest.mark.slow, pytest.mark.integration]
RETRY_AFTER_S = 3
ANSWER_S = 10  # a 503 comes at once; this only tells a hang from an answer
SEARCH = {"parts": [{"modality": "caption", "text": "a red cube"}], "k": 5}
REQUESTS = (
    ("post", "/v1/collections/c/search", SEARCH),
    ("get", "/v1/collections/c/items/1", None),
    ("get", "/v1/collections/c/items", None),
    ("get", "/v1/jobs", None),
)


def _answers(base: str) -> list[httpx.Response]:
    """One answer to each of :data:`REQUESTS`, each within :data:`ANSWER_S`."""
    with httpx.Client(trust_env=False, timeout=ANSWER_S) as client:
        return [client.request(method, base + path, json=body) for method, path, body in REQUESTS]


def _comparable(responses: list[httpx.Response]) -> list:
    """The answers less what differs run to run (timings)."""
    bodies = [response.json() for response in responses]
    bodies[0].pop("timings_ms", None)
    return bodies


def _assert_unavailable(responses: list[httpx.Response]) -> None:
    for response in responses:
        assert response.status_code == 503, (response.request.url, response.text)
        assert response.headers["retry-after"] == str(RETRY_AFTER_S)
        assert "database" in response.json()["detail"]


def _waiting_requests(base: str) -> tuple[list[threading.Thread], list]:
    """:data:`REQUESTS` sent on threads (they wait on a lock the test holds); their answers."""
    answers: list = []

    def send(method: str, path: str, body: dict | None) -> None:
        try:
            answers.append(httpx.request(method, base + path, json=body, timeout=60))
        except httpx.HTTPError as error:  # a hang or a dropped connection: the test fails
            answers.append(error)

    threads = [threading.Thread(target=send, args=request) for request in REQUESTS]
    for thread in threads:
        thread.start()
    return threads, answers


def _until_waiting_settles(locker, quiet_s: float = 1.0, limit_s: float = 30.0) -> None:
    """Until the sessions waiting on the test's lock have not changed for ``quiet_s`` (the
    requests have reached the database; the server's pool may queue some behind others): a
    fixed one-second sleep let a request a loaded machine served late reach the database only
    after the restart, and answer 200."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> "
        "pg_backend_pid()"
    )
    deadline = time.monotonic() + limit_s
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        waiting = locker.execute(query).scalar_one()
        if waiting != seen:
            seen, since = waiting, time.monotonic()
        elif waiting and time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.05)


def test_serve_answers_503_while_postgresql_is_down_and_recovers(pg_cluster, tmp_path: Path):
    images = tmp_path / "images"
    images.mkdir()
    for seed in range(8):
        Image.fromarray(generate_scene(994_000 + seed, 64).rgb).save(images / f"s{seed}.png")
    env = process_env(
        tmp_path / "data",
        ANYSEEK_DATABASE_URL=pg_cluster.url,
        ANYSEEK_API__RETRY_AFTER_S=str(RETRY_AFTER_S),
    )
    cli(env, "db", "upgrade")
    cli(env, "index", str(images), "--collection", "c")
    log = tmp_path / "serve.log"
    with served(env, log) as base:
        before = _answers(base)
        assert [r.status_code for r in before] == [200] * len(REQUESTS)
        assert len(before[0].json()["hits"]) == 5

        pg_cluster.stop()
        started = time.monotonic()
        _assert_unavailable(_answers(base))
        assert time.monotonic() - started < ANSWER_S
        ready = httpx.get(f"{base}/readyz", timeout=ANSWER_S)
        assert ready.status_code == 503 and ready.headers["retry-after"] == str(RETRY_AFTER_S)
        pg_cluster.start()
        assert _comparable(_answers(base)) == _comparable(before)

        # requests waiting on the database (a lock the test holds) when it restarts: each is
        # cut mid-statement ("terminating connection due to administrator command")
        locker = create_engine(pg_cluster.url).connect()
        locker.execute(text("LOCK TABLE collections, items, index_jobs IN ACCESS EXCLUSIVE MODE"))
        threads, answers = _waiting_requests(base)
        _until_waiting_settles(locker)
        pg_cluster.restart()
        for thread in threads:
            thread.join(ANSWER_S)
        locker.invalidate()
        _assert_unavailable(answers)

        after = _answers(base)
        assert _comparable(after) == _comparable(before)
    assert "unexpected error" not in log.read_text()
