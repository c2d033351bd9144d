"""Real workers on real brokers: kill -9 mid-job loses nothing; FAISS gets one writer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from index_checks import (
    CHUNK,
    IMAGES,
    Probe,
    check_exactly_once,
    make_images,
    make_records,
    worker_settings,
)
from worker_processes import purged_app, wait_for, workers

from anyseek.indexer.jobs import cancel_job
from anyseek.indexer.records import SourceForm
from anyseek.workers.submit import submit_job

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]


def submit_images(settings, tmp_path: Path, records: bool = False) -> tuple[Probe, int]:
    """Write the images (or records of several modalities), purge the queues and submit the
    job; a probe and the job's id."""
    purged_app(settings)
    probe = Probe(settings.effective_database_url)
    if records:
        manifest = make_records(tmp_path / "images")
        return probe, submit_job(settings, "kill", manifest, form=SourceForm(manifest=True))
    make_images(tmp_path / "images")
    return probe, submit_job(settings, "kill", tmp_path / "images")


def kill_mid_job(settings, tmp_path: Path, records: bool = False) -> None:
    """Submit a job, kill -9 its worker after a chunk or two, finish it with a new worker."""
    probe, job_id = submit_images(settings, tmp_path, records)
    logs = [tmp_path / "worker0.log"]
    chunks = IMAGES // CHUNK
    with workers(settings, tmp_path, "index,writer") as (first,):
        wait_for(lambda: probe.chunks_done(job_id) >= 1, 120, "a first chunk", logs)
        first.kill9()
    killed_at = probe.chunks_done(job_id)
    assert 1 <= killed_at < chunks, "the worker must die mid-job"
    time.sleep(settings.indexer.visibility_timeout_s)  # Redis: the unacked chunk is due again
    with workers(settings, tmp_path, "index,writer") as started:
        logs = [tmp_path / "worker0.log"]
        wait_for(lambda: probe.status(job_id) == "succeeded", 180, "the job to finish", logs)
        assert started[0].process.poll() is None
    check_exactly_once(settings, probe, job_id)
    probe.database.dispose()


def test_kill_9_worker_mid_job_on_redis(tmp_path, worker_database_url, redis_url) -> None:
    kill_mid_job(worker_settings(tmp_path, worker_database_url, redis_url), tmp_path)


def test_kill_9_worker_mid_job_on_rabbitmq(tmp_path, worker_database_url, amqp_url) -> None:
    """Records of a photo, a depth map and a caption each: exactly once as images are."""
    kill_mid_job(worker_settings(tmp_path, worker_database_url, amqp_url), tmp_path, records=True)


@pytest.mark.parametrize("broker", ["redis_url", "amqp_url"])
def test_two_workers_on_faiss_lose_and_duplicate_nothing(
    tmp_path, worker_database_url, broker, request
) -> None:
    # on RabbitMQ two workers of one machine once shared the node name celery@HOST and the second
    # died on its exclusive control queue: each process now names itself anyseek-PID@HOST
    settings = worker_settings(tmp_path, worker_database_url, request.getfixturevalue(broker))
    purged_app(settings)  # an earlier test's applies waiting for the writer would delay it
    with workers(settings, tmp_path, "index,writer", "index") as started:
        logs = [worker.log for worker in started]
        # both consuming before the job exists: a chunk takes ~25 ms, so a worker ready half a
        # second before the other could take all twenty
        wait_for(lambda: all("ready." in log.read_text() for log in logs), 120, "both ready", logs)
        probe, job_id = submit_images(settings, tmp_path)
        wait_for(lambda: probe.status(job_id) == "succeeded", 180, "the job to finish", logs)
    check_exactly_once(settings, probe, job_id)
    both = [(tmp_path / f"worker{n}.log").read_text().count("index_chunk[") for n in (0, 1)]
    assert all(both), f"both workers should have taken chunks: {both}"
    probe.database.dispose()


def test_cancelling_a_running_job_stops_it_within_one_chunk(
    tmp_path, worker_database_url, redis_url
) -> None:
    settings = worker_settings(tmp_path, worker_database_url, redis_url)
    probe, job_id = submit_images(settings, tmp_path)
    with workers(settings, tmp_path, "index,writer"):
        logs = [tmp_path / "worker0.log"]
        wait_for(lambda: probe.chunks_done(job_id) >= 1, 120, "a first chunk", logs)
        with probe.database.session() as session:
            cancel_job(session, job_id)
        at_cancel = probe.chunks_done(job_id)
        time.sleep(3)
        after = probe.chunks_done(job_id)
    assert probe.status(job_id) == "cancelled"
    assert at_cancel <= after <= at_cancel + 1 < IMAGES // CHUNK
    probe.database.dispose()
