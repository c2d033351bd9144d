"""A worker's re-index that meets a transient error (here the store's disk full, a tmpfs of the
test's own) is retried and resumes, as after a kill -9, keeping its job and its version; it used
to fail the job and drop the version on the first outage."""

from __future__ import annotations

from pathlib import Path

import pytest
from derived_model import derived_bundle
from reindex_checks import MOVED, Probe, index_scenes, reindex_settings
from small_disk import fill, free
from worker_processes import purged_app, wait_for, workers

from anyseek.indexer.reindex import start_reindex
from anyseek.workers.submit import enqueue_reindex

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]


def test_a_worker_reindex_waits_out_a_full_disk_and_switches_once_freed(
    tmp_path: Path, worker_database_url: str, own_redis, small_disk: Path, search_model
) -> None:
    base = reindex_settings(tmp_path, worker_database_url, own_redis.url)
    store = base.store.model_copy(update={"path": str(small_disk / "faiss")})
    settings = base.model_copy(update={"store": store})
    index_scenes(settings, tmp_path / "images", 8, search_model, MOVED)
    source = str(derived_bundle(tmp_path / "models"))
    purged_app(settings)
    probe = Probe(settings, search_model)
    other = probe.registry.get(source)
    builtin, moved = f"{search_model.name}@{search_model.version}", f"{other.name}@{other.version}"
    try:
        filler = fill(small_disk)
        with workers(settings, tmp_path, "writer") as (writer,):
            with probe.database.session() as session:
                job_id, _ = start_reindex(session, MOVED, other, source)
            enqueue_reindex(settings, job_id)
            retried = f"retrying the re-index of job {job_id} (try 2 of"
            wait_for(lambda: retried in writer.log.read_text(), 120, "a second try", [writer.log])
            assert probe.job(job_id).status == "running"  # kept, as a kill -9 leaves it
            assert probe.versions(MOVED) == [(1, True, builtin), (2, False, moved)]

            free(filler)
            done = lambda: probe.job(job_id).status == "succeeded"  # noqa: E731
            wait_for(done, 240, "the re-index to finish", [writer.log])
        assert probe.versions(MOVED) == [(1, False, builtin), (2, True, moved)]
        assert probe.job(job_id).done == 8
        assert "Traceback" not in writer.log.read_text()
    finally:
        probe.close()
