"""Real workers through the faults of issue 40 on one host: the FAISS writer's disk full (a tmpfs
of the test's own) and then freed, and PostgreSQL (a cluster of the test's own) restarted under
a chunk that is writing. Each job stalls or retries, loses nothing, and ends with every image
indexed exactly once, with no step by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from index_checks import (
    CHUNK,
    IMAGES,
    SPACES,
    Probe,
    check_exactly_once,
    fault_settings,
    make_images,
    waiting_on_lock,
)
from PIL import Image
from small_disk import fill, free
from sqlalchemy import create_engine, func, select, text
from worker_processes import purged_app, wait_for, workers

from anyseek.db import migrate
from anyseek.db.models import PendingVectors
from anyseek.db.session import database_from_url
from anyseek.errors import ServiceUnavailableError
from anyseek.scenes import generate_scene
from anyseek.search.stores import open_store
from anyseek.workers.app import WRITER_QUEUE
from anyseek.workers.submit import submit_job

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]
FIRST = 4  # images of a first job, indexed before the disk is full
STALLED_TRIES = 2  # applies that find the disk full before it is freed


def _quietly(condition):
    """``condition`` polled while the database may be away: an outage reads as "not yet"."""

    def check() -> bool:
        try:
            return condition()
        except ServiceUnavailableError:
            return False

    return check


def _outbox(probe: Probe) -> int:
    """Staged rows not yet applied."""
    with probe.database.session() as session:
        return session.scalar(select(func.count()).select_from(PendingVectors))


def _other_images(folder: Path, count: int) -> None:
    """``count`` scenes none of :func:`make_images` draws."""
    folder.mkdir(parents=True)
    for n in range(count):
        Image.fromarray(generate_scene(992_000 + n, 64).rgb).save(folder / f"other{n}.png")


def test_the_writers_disk_full_stalls_the_job_then_it_finishes_once_freed(
    tmp_path: Path, worker_database_url: str, own_redis, small_disk: Path
) -> None:
    store_path = small_disk / "faiss"
    settings = fault_settings(tmp_path, worker_database_url, own_redis.url, path=str(store_path))
    _other_images(tmp_path / "first", FIRST)
    make_images(tmp_path / "images")
    purged_app(settings)
    probe = Probe(settings.effective_database_url)
    log = tmp_path / "worker0.log"
    with workers(settings, tmp_path, "index,writer"):
        first = submit_job(settings, "full", tmp_path / "first")
        wait_for(lambda: probe.status(first) == "succeeded", 120, "the first job", [log])
        current = (store_path / "full" / "CURRENT").read_text()

        filler = fill(small_disk)
        job_id = submit_job(settings, "full", tmp_path / "images")
        stalled = re.compile(
            rf"retrying the staged vectors of 'full' .*: the disk is full: cannot write the "
            rf"FAISS store in {re.escape(str(store_path / 'full'))} \(No space left on device\)"
        )
        wait_for(
            lambda: (
                probe.chunks_done(job_id) == IMAGES // CHUNK
                and len(stalled.findall(log.read_text())) >= STALLED_TRIES
            ),
            120,
            "every chunk staged and applies that find the disk full",
            [log],
        )
        assert probe.status(job_id) == "running"  # stalled, not failed
        assert _outbox(probe) == IMAGES  # every staged row kept
        assert (store_path / "full" / "CURRENT").read_text() == current  # nothing half-written
        with open_store(settings) as reader:  # and the committed store still answers
            assert reader.count("full") == FIRST

        free(filler)
        wait_for(lambda: probe.status(job_id) == "succeeded", 180, "the job to finish", [log])
    job, items, ids = probe.exact_counts(job_id)
    total = FIRST + IMAGES
    assert job == ("succeeded", IMAGES, 0, 0)
    assert items == (total, total, total, total * SPACES, 0)
    with open_store(settings) as store:
        assert store.count("full") == total
        assert {item.id for item in store.retrieve("full", sorted(ids), False)} == ids
    assert "Traceback" not in log.read_text()
    probe.database.dispose()


def test_a_postgresql_restart_under_a_writing_chunk_is_retried_and_loses_nothing(
    tmp_path: Path, pg_cluster, own_redis
) -> None:
    database = database_from_url(pg_cluster.url)
    migrate.upgrade(database)
    database.dispose()
    settings = fault_settings(tmp_path, pg_cluster.url, own_redis.url)
    probe = Probe(pg_cluster.url)
    make_images(tmp_path / "images")
    purged_app(settings)
    job_id = submit_job(settings, "kill", tmp_path / "images")
    log = tmp_path / "worker0.log"
    # the first chunk's staging waits on the outbox table, locked by the test: the restart
    # then ends the worker's connection mid-statement ("terminating connection")
    watcher = create_engine(pg_cluster.url, isolation_level="AUTOCOMMIT")
    locker = create_engine(pg_cluster.url).connect()
    locker.execute(text("LOCK TABLE pending_vectors IN ACCESS EXCLUSIVE MODE"))
    with workers(settings, tmp_path, "index,writer"):
        wait_for(lambda: waiting_on_lock(watcher), 120, "a chunk waiting to stage", [log])
        pg_cluster.restart()
        locker.invalidate()
        watcher.dispose()
        wait_for(
            _quietly(lambda: probe.status(job_id) == "succeeded"), 180, "the job to finish", [log]
        )
    text_log = log.read_text()
    assert re.search(rf"retrying job {job_id} chunk \d+ .*terminating connection", text_log)
    check_exactly_once(settings, probe, job_id)
    probe.database.dispose()


def test_a_writer_that_starts_applies_what_waits_in_the_outbox(
    tmp_path: Path, worker_database_url: str, own_redis
) -> None:
    # the applies the chunks sent are lost (a writer that gave up after its retries, a broker
    # that lost them): a writer worker started later finds the staged rows by itself
    settings = fault_settings(tmp_path, worker_database_url, own_redis.url)
    make_images(tmp_path / "images")
    app = purged_app(settings)
    probe = Probe(settings.effective_database_url)
    job_id = submit_job(settings, "kill", tmp_path / "images")
    with workers(settings, tmp_path, "index") as started:
        logs = [worker.log for worker in started]
        wait_for(lambda: probe.chunks_done(job_id) == IMAGES // CHUNK, 120, "every chunk", logs)
    assert _outbox(probe) == IMAGES and probe.status(job_id) == "running"
    with app.connection_for_write() as connection:
        assert connection.default_channel.queue_purge(WRITER_QUEUE) > 0  # the applies, lost
    with workers(settings, tmp_path, "writer") as started:
        logs = [worker.log for worker in started]
        wait_for(lambda: probe.status(job_id) == "succeeded", 120, "the job to finish", logs)
    assert "applying staged vectors of kill" in logs[0].read_text()
    check_exactly_once(settings, probe, job_id)
    probe.database.dispose()
