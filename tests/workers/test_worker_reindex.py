"""Re-indexing on real workers: ``anyseek reindex --workers`` (Redis) and ``POST /reindex`` with a
broker (RabbitMQ) run task ``anyseek.reindex`` on the writer worker, which fills version 2 with a
modified copy of the built-in model, reports progress and switches; its vectors and answers are
those of the same re-index run in-process, and a cancelled one leaves the current version alone.
"""

from __future__ import annotations

import time

import pytest
from derived_model import derived_bundle, reindex_in_process
from fastapi.testclient import TestClient
from reindex_checks import (
    CAPTIONS,
    MOVED,
    TWIN,
    Probe,
    check_like_in_process,
    index_scenes,
    newest_job,
    reindex_settings,
)
from worker_processes import purged_app, settings_env, wait_for, workers

from anyseek.cli import main
from anyseek.db.migrate import open_database
from anyseek.indexer.jobs import cancel_job
from anyseek.indexer.reindex import start_reindex
from anyseek.search.searcher import Searcher
from anyseek.search.stores import open_store

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def other_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A modified copy of the built-in model (same spaces, other weights), as a source."""
    return str(derived_bundle(tmp_path_factory.mktemp("models")))


def test_cli_reindex_with_workers_on_redis_switches_like_in_process(
    tmp_path, worker_database_url, redis_url, search_model, other_source, monkeypatch
) -> None:
    settings = reindex_settings(tmp_path, worker_database_url, redis_url)
    index_scenes(settings, tmp_path / "images", 8, search_model, MOVED, TWIN)
    reindex_in_process(settings, search_model, TWIN, other_source)
    purged_app(settings)
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    probe = Probe(settings, search_model)
    before = probe.answers(MOVED)
    try:
        # a writer and an index-only worker: the latter restores unacknowledged Redis messages
        with workers(settings, tmp_path, "writer", "index"):
            assert main(["reindex", MOVED, "--model", other_source, "--workers"]) == 0
            job_id = newest_job(probe)
            logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
            wait_for(lambda: probe.job(job_id).status == "succeeded", 240, "the re-index", logs)
            # a redelivered copy of the task (Redis visibility timeout) must change nothing
            time.sleep(settings.indexer.visibility_timeout_s + 2)
        other = probe.registry.get(other_source)
        check_like_in_process(probe, job_id, search_model, other)
        assert before != probe.answers(MOVED)
    finally:
        probe.close()


def test_api_reindex_with_workers_on_rabbitmq_switches_like_in_process(
    tmp_path, worker_database_url, amqp_url, search_model, other_source
) -> None:
    from anyseek.api.app import create_app

    settings = reindex_settings(tmp_path, worker_database_url, amqp_url)
    index_scenes(settings, tmp_path / "images", 8, search_model, MOVED, TWIN)
    reindex_in_process(settings, search_model, TWIN, other_source)
    purged_app(settings)
    probe = Probe(settings, search_model)
    database, store = open_database(settings), open_store(settings)
    app = create_app(
        settings, searcher=Searcher(search_model, store, settings.search), database=database
    )
    caption = {"parts": [{"modality": "caption", "text": CAPTIONS[0]}], "k": 3}
    try:
        with workers(settings, tmp_path, "index,writer"), TestClient(app) as client:
            started = client.post(f"/v1/collections/{MOVED}/reindex", json={"model": other_source})
            assert started.status_code == 202, started.text
            job_id = started.json()["id"]

            def finished() -> bool:
                job = client.get(f"/v1/jobs/{job_id}").json()
                probe.job(job_id)
                return job["status"] == "succeeded"

            wait_for(finished, 240, "the re-index", [tmp_path / "worker0.log"])
            found = client.post(f"/v1/collections/{MOVED}/search", json=caption)
            listed = client.get(f"/v1/collections/{MOVED}/versions").json()["versions"]
        other = probe.registry.get(other_source)
        assert found.status_code == 200 and found.json()["model"]["version"] == other.version
        assert [(v["number"], v["current"]) for v in listed] == [(1, False), (2, True)]
        check_like_in_process(probe, job_id, search_model, other)
    finally:
        store.close()
        database.dispose()
        probe.close()


def test_cancelling_a_worker_reindex_drops_its_version_and_keeps_the_answers(
    tmp_path, worker_database_url, redis_url, search_model, other_source
) -> None:
    from anyseek.workers.submit import enqueue_reindex

    settings = reindex_settings(tmp_path, worker_database_url, redis_url)
    index_scenes(settings, tmp_path / "images", 24, search_model, MOVED)
    purged_app(settings)
    probe = Probe(settings, search_model)
    before = probe.answers(MOVED)
    other = probe.registry.get(other_source)
    try:
        with workers(settings, tmp_path, "index,writer"):
            with probe.database.session() as session:
                job_id, number = start_reindex(session, MOVED, other, other_source)
            enqueue_reindex(settings, job_id)
            logs = [tmp_path / "worker0.log"]
            wait_for(lambda: probe.job(job_id).done >= 2, 240, "a first step", logs)
            with probe.database.session() as session:
                cancel_job(session, job_id)
            wait_for(lambda: len(probe.versions(MOVED)) == 1, 60, "the version dropped", logs)
        found = probe.job(job_id)
        assert found.status == "cancelled" and 2 <= found.done < found.total == 24
        assert [n for n, _, _ in probe.versions(MOVED)] == [1]
        assert f"{MOVED}@v{number}" not in probe.store.collections()
        assert probe.answers(MOVED) == before
    finally:
        probe.close()
