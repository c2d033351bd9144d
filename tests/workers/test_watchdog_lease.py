"""The watchdog runs in every worker, one at a time (the lease of workers/lease.py), so a
deployment without a writer worker (a Qdrant server) still has one, and a killed holder is
replaced; and an apply that gave up is sent again once its staged vectors waited the stall
window, instead of waiting for a writer to restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from index_checks import CHUNK, IMAGES, Probe, check_exactly_once, make_images, worker_settings
from sqlalchemy import text
from worker_processes import purged_app, wait_for, workers

from anyseek.db.models import utc_now
from anyseek.db.session import database_from_url
from anyseek.workers.app import WRITER_QUEUE
from anyseek.workers.lease import KEY_SQL
from anyseek.workers.submit import submit_job
from anyseek.workers.watchdog import resend_staged, stall_window_s

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]


def holders(database) -> list[int]:
    """The pids of the workers holding this database's watchdog lock (by its connection's name)."""
    with database.session() as session:
        key = session.execute(text(f"SELECT ({KEY_SQL})::bigint")).scalar_one() & (2**64 - 1)
        rows = session.execute(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid::bigint = :high AND l.objid::bigint = :low"
            ),
            {"high": key >> 32, "low": key & 0xFFFFFFFF},
        ).scalars()
        return sorted(int(name.rsplit(" ", 1)[1]) for name in rows)


def test_one_worker_at_a_time_runs_the_watchdog_and_another_takes_over(
    tmp_path: Path, worker_database_url: str, redis_url: str
) -> None:
    settings = worker_settings(tmp_path, worker_database_url, redis_url)
    purged_app(settings)
    database = database_from_url(worker_database_url)
    try:
        with workers(settings, tmp_path, "index", "index") as started:  # no writer worker
            logs = [worker.log for worker in started]
            pids = {worker.process.pid: worker for worker in started}
            wait_for(lambda: len(holders(database)) == 1, 120, "a watchdog holder", logs)
            [first] = holders(database)
            assert first in pids
            pids[first].kill9()
            wait_for(lambda: holders(database) not in ([], [first]), 60, "a new holder", logs)
            assert holders(database) == [next(pid for pid in pids if pid != first)]
    finally:
        database.dispose()


def test_an_apply_that_gave_up_is_sent_again_once_the_vectors_waited_the_stall_window(
    tmp_path: Path, worker_database_url: str, own_redis
) -> None:
    settings = worker_settings(tmp_path, worker_database_url, own_redis.url)
    make_images(tmp_path / "images")
    app = purged_app(settings)
    database = database_from_url(worker_database_url)
    probe = Probe(worker_database_url)
    try:
        with workers(settings, tmp_path, "index") as started:  # staged; applies wait for a writer
            job_id = submit_job(settings, "kill", tmp_path / "images")
            logs = [worker.log for worker in started]
            wait_for(lambda: probe.chunks_done(job_id) == IMAGES // CHUNK, 120, "staging", logs)
        with app.connection_for_write() as connection:  # the applies gave up (or were lost)
            assert connection.default_channel.queue_purge(WRITER_QUEUE) >= 1

        later = utc_now() + timedelta(seconds=stall_window_s(settings) + 1)
        sent: dict = {}
        assert resend_staged(settings, database, sent=sent) == []  # not waited long enough
        assert resend_staged(settings, database, later, sent) == ["kill"]
        assert resend_staged(settings, database, later, sent) == []  # once a window
        with app.connection_for_write() as connection:
            queued = connection.default_channel.queue_declare(WRITER_QUEUE, passive=True)
        assert queued.message_count == 1

        with workers(settings, tmp_path, "writer") as started:
            logs = [worker.log for worker in started]
            wait_for(lambda: probe.status(job_id) == "succeeded", 120, "the job to end", logs)
        check_exactly_once(settings, probe, job_id)
    finally:
        probe.database.dispose()
        database.dispose()
