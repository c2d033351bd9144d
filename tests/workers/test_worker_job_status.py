"""Celery workers end a job by the same rule as ``anyseek index`` (indexer.jobs.finished_status):
a job whose every item failed is ``failed``, one with failures beside indexed items ``partial``."""

from __future__ import annotations

from pathlib import Path

import pytest
from index_checks import Probe, make_images, worker_settings
from worker_processes import purged_app, wait_for, workers

from anyseek.indexer.jobs import report
from anyseek.indexer.records import SourceForm
from anyseek.workers.submit import submit_job

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]


def test_workers_end_jobs_failed_or_partial_by_the_one_rule(
    tmp_path: Path, worker_database_url: str, amqp_url: str
) -> None:
    settings = worker_settings(tmp_path, worker_database_url, amqp_url)
    make_images(tmp_path / "photos", 6)
    (tmp_path / "photos" / "broken.png").write_bytes(b"not a png at all")
    purged_app(settings)
    as_depth = submit_job(settings, "maps", tmp_path / "photos", form=SourceForm("depth"))
    mixed = submit_job(settings, "photos", tmp_path / "photos")
    probe = Probe(settings.effective_database_url)
    ended = ("succeeded", "partial", "failed")
    with workers(settings, tmp_path, "index,writer") as started:
        logs = [worker.log for worker in started]
        for job_id in (as_depth, mixed):
            wait_for(lambda j=job_id: probe.status(j) in ended, 180, f"job {job_id}", logs)
    with probe.database.session() as session:
        depth, photos = report(session, as_depth), report(session, mixed)
    probe.database.dispose()
    assert (depth.status, depth.done, depth.failed) == ("failed", 0, 7), depth
    assert (photos.status, photos.done, photos.failed) == ("partial", 6, 1), photos
