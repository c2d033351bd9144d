"""Recovery that comes: a job whose process was killed is known dead by its heartbeat, failed
when listed, resumed by the server's start; Redis redelivers a killed worker's chunk in minutes."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from indexing_checks import collection_state, killed_run, sound
from PIL import Image

from anyseek.api.indexing import JobRunner
from anyseek.db.models import JobStatus
from anyseek.db.session import database_for
from anyseek.indexer.heartbeat import fail_dead_jobs, stale_jobs
from anyseek.indexer.jobs import get_job
from anyseek.scenes import generate_scene
from anyseek.search.searcher import Searcher
from anyseek.search.stores import open_store
from anyseek.settings import IndexerSettings, load_settings

IMAGES = 6


def _killed_job(settings, tmp_path: Path) -> Path:
    """Index into collection "r" in a child SIGKILLed mid-way; the image folder."""
    folder = tmp_path / "images"
    folder.mkdir()
    for n in range(IMAGES):
        Image.fromarray(generate_scene(997_000 + n, 64).rgb).save(folder / f"s{n}.png")
    env = {
        "ANYSEEK_DATA_DIR": str(settings.data_dir),
        "ANYSEEK_INDEXER__CHUNK_SIZE": "2",
        "ANYSEEK_INDEXER__FLUSH_INTERVAL_S": "0",
    }
    assert killed_run(env, folder, "r", "after", 14) == -signal.SIGKILL
    return folder


def test_a_killed_jobs_heartbeat_stops_and_it_is_failed_then_resumed(
    ready_settings, search_model, tmp_path: Path
) -> None:
    folder = _killed_job(ready_settings, tmp_path)
    database = database_for(ready_settings)
    try:
        with database.session() as session:
            assert get_job(session, 1).status == JobStatus.RUNNING  # what issue 24 saw forever
            assert stale_jobs(session, 3600) == []  # a live-looking beat is not judged dead
        time.sleep(1.2)
        with database.session() as session:
            assert stale_jobs(session, 1.0) == [1]

        settings = ready_settings.model_copy(
            update={
                "indexer": ready_settings.indexer.model_copy(
                    update={"heartbeat_stale_s": 1.0, "chunk_size": 2, "flush_interval_s": 0}
                )
            }
        )
        with open_store(settings) as store:
            runner = JobRunner(settings, database, Searcher(search_model, store))
            assert runner.resume_unfinished() == [1]  # the server's start resumes it
            runner.wait(1, timeout=300)
            runner.shutdown()
        with database.session() as session:
            assert get_job(session, 1).status == JobStatus.SUCCEEDED
        assert sound(collection_state(settings, "r"), IMAGES)
        assert folder.is_dir()
    finally:
        database.dispose()


def test_listing_jobs_fails_a_dead_job_with_how_to_finish_it(ready_settings, tmp_path) -> None:
    _killed_job(ready_settings, tmp_path)
    time.sleep(1.2)
    database = database_for(ready_settings)
    try:
        with database.session() as session:
            assert fail_dead_jobs(session, 1.0) == [1]
        with database.session() as session:
            job = get_job(session, 1)
            assert job.status == JobStatus.FAILED
            assert "anyseek index" in job.error
    finally:
        database.dispose()


def test_the_redis_visibility_timeout_is_minutes_and_follows_the_chunk_size() -> None:
    assert 300 <= IndexerSettings().visibility_timeout <= 600
    assert IndexerSettings(chunk_size=2000).visibility_timeout == 2000
    assert IndexerSettings(visibility_timeout_s=30).visibility_timeout == 30
    settings = load_settings(broker_url="redis://127.0.0.1:1/0", indexer={"chunk_size": 64})
    from anyseek.workers.app import configure

    celery = configure(settings)
    assert celery.conf.broker_transport_options["visibility_timeout"] == 300
