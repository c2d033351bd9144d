"""A worker whose Redis broker (a server of the test's own, with its append-only file, as
docs/deploy.md runs it) restarts mid-job reconnects by itself, and the job ends with every image
indexed exactly once (issue 40); a worker whose pub/sub link Redis closes goes on consuming."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from index_checks import Probe, check_exactly_once, fault_settings, make_images, waiting_on_lock
from redis import Redis
from redis_server import RedisServer
from sqlalchemy import create_engine, text
from worker_processes import purged_app, wait_for, workers

from anyseek.workers.submit import submit_job
from anyseek.workers.watchdog import stall_window_s

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(480)]
DOWN_S = 5
VISIBILITY_S = 10  # the chunk the worker held when the broker went away comes back after this


def test_a_redis_restart_mid_job_is_ridden_out(
    tmp_path: Path, worker_database_url: str, own_redis: RedisServer
) -> None:
    settings = fault_settings(tmp_path, worker_database_url, own_redis.url, VISIBILITY_S)
    make_images(tmp_path / "images")
    purged_app(settings)
    probe = Probe(worker_database_url)
    job_id = submit_job(settings, "kill", tmp_path / "images")
    log = tmp_path / "worker0.log"
    # the first chunk waits on the outbox (locked by the test) while the broker goes away
    watcher = create_engine(worker_database_url, isolation_level="AUTOCOMMIT")
    locker = create_engine(worker_database_url).connect()
    locker.execute(text("LOCK TABLE pending_vectors IN ACCESS EXCLUSIVE MODE"))
    with workers(settings, tmp_path, "index,writer") as (worker,):
        wait_for(lambda: waiting_on_lock(watcher), 120, "a chunk waiting to stage", [log])
        own_redis.stop()
        locker.close()  # the chunk stages, and cannot send its apply
        watcher.dispose()
        time.sleep(DOWN_S)
        own_redis.start()
        # its apply was lost with the broker: the watchdog sends it again after the stall window
        finish_s = stall_window_s(settings) + 120
        wait_for(lambda: probe.status(job_id) == "succeeded", finish_s, "the job to finish", [log])
        assert worker.process.poll() is None
    check_exactly_once(settings, probe, job_id)
    probe.database.dispose()


def test_a_worker_whose_pub_sub_link_is_closed_goes_on_consuming(
    tmp_path: Path, worker_database_url: str, own_redis: RedisServer
) -> None:
    """Redis (a restart, its client timeouts, a proxy) may close any one connection. Celery's
    remote control was a pub/sub connection the consumer read in its loop; redis-py reconnected
    it inside a blocking read with no timeout, and the worker froze, connected and deaf (seen
    here and on CI after Redis restarted mid-job). Workers keep no such connection now."""
    settings = fault_settings(tmp_path, worker_database_url, own_redis.url)
    make_images(tmp_path / "images", count=4)
    purged_app(settings)
    probe = Probe(worker_database_url)
    log = tmp_path / "worker0.log"
    redis = Redis.from_url(own_redis.url)

    def index(name: str) -> None:
        job = submit_job(settings, name, tmp_path / "images")
        wait_for(lambda: probe.status(job) == "succeeded", 60, f"the job {name}", [log])

    with workers(settings, tmp_path, "index,writer") as (worker,):
        index("before")
        redis.client_kill_filter(_type="pubsub")
        time.sleep(1)  # the worker has read the close before the next job is sent
        index("after")
        assert worker.process.poll() is None
    redis.close()
    probe.database.dispose()
