"""Re-indexing on real workers: ``anyseek reindex --workers`` (Redis) and ``POST /reindex`` with a
broker (RabbitMQ) run task ``anyseek.reindex`` on the writer worker, which fills version 2 with a
modified copy of the built-in model, reports progress and switches; its vectors and answers are
those of the same re-index run in-process, and a cancelled one leaves the current version alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from derived_model import derived_bundle, reindex_in_process
from fastapi.testclient import TestClient
from sqlalchemy import select
from worker_processes import purged_app, settings_env, wait_for, workers

from anyseek.db import versions
from anyseek.db.migrate import open_database
from anyseek.db.models import Collection, IndexJob, Item
from anyseek.settings import Settings, load_settings
from cli import main
from indexer import run_index
from indexer.jobs import cancel_job, report
from indexer.reindex import start_reindex
from model.data import generate_scene
from search.model_registry import ModelRegistry
from search.query import QueryPart, SearchQuery
from search.searcher import Searcher
from search.stores import open_store
from search.versions import VersionedSearcher

MOVED, TWIN = "scenes", "twin"  # re-indexed on a worker / in this process, from the same images
CAPTIONS = ("a red cube", "a blue sphere and a green cone")
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def other_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A modified copy of the built-in model (same spaces, other weights), as a source."""
    return str(derived_bundle(tmp_path_factory.mktemp("models")))


def reindex_settings(tmp_path: Path, database_url: str, broker_url: str) -> Settings:
    """Settings shared by the test and its workers: re-index 2 items per step (progress per
    step), Redis redelivering an unacknowledged task after 3 s (a re-index takes longer)."""
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url=broker_url,
        model={"device": "cpu"},
        indexer={
            "chunk_size": 4,
            "decode_workers": 1,
            "visibility_timeout_s": 3,
            "reindex_batch": 2,
            "flush_interval_s": 0,
        },
    )


def index_scenes(settings: Settings, folder: Path, count: int, model, *names: str) -> None:
    """``count`` generated 64 px scenes indexed with the built-in model into each collection."""
    from PIL import Image

    folder.mkdir(parents=True)
    for seed in range(count):
        Image.fromarray(generate_scene(seed, 64).rgb).save(folder / f"scene{seed:03d}.png")
    for name in names:
        run_index(settings, name, folder, model=model)


class Probe:
    """The test's view while workers run: job progress, versions, answers (a store reader)."""

    def __init__(self, settings: Settings, model) -> None:
        self.database = open_database(settings)
        self.store = open_store(settings)
        self.registry = ModelRegistry(settings.model, default=model)
        searcher = Searcher(model, self.store, settings.search)
        self.searcher = VersionedSearcher(searcher, self.database, self.registry)
        self.progress: list[tuple[int, int]] = []

    def job(self, job_id: int):
        """The job's report, its (done, total) recorded when it changed."""
        with self.database.session() as session:
            found = report(session, job_id)
        if not self.progress or self.progress[-1] != (found.done, found.total):
            self.progress.append((found.done, found.total))
        return found

    def versions(self, collection: str) -> list[tuple[int, bool, str]]:
        """(number, current, model) of each version."""
        with self.database.session() as session:
            return [(v.number, v.current, v.model) for v in versions.describe(session, collection)]

    def uris(self, collection: str) -> dict[int, str]:
        """Item id -> the file it was indexed from."""
        with self.database.session() as session:
            rows = session.execute(
                select(Item.id, Item.source_uri)
                .join(Collection, Collection.id == Item.collection_id)
                .where(Collection.name == collection)
            ).all()
        return dict(rows)

    def vectors(self, collection: str, store_name: str) -> dict[str, dict[str, np.ndarray]]:
        """Each item's vectors in one store collection, by the file it came from."""
        uris = self.uris(collection)
        held = self.store.retrieve(store_name, sorted(uris), with_vectors=True)
        return {uris[s.id]: s.vectors for s in held}

    def answers(self, collection: str) -> dict[str, tuple[str, list[tuple[str, float]]]]:
        """Per caption: the model that answered and the (file, score) hits."""
        uris = self.uris(collection)
        found = {}
        for caption in CAPTIONS:
            result = self.searcher.search(
                SearchQuery(collection, (QueryPart("caption", caption),), k=5)
            )
            hits = [(uris[h.id], round(h.score, 4)) for h in result.hits]
            found[caption] = (f"{result.model['name']}@{result.model['version']}", hits)
        return found

    def close(self) -> None:
        """Release the store and the database."""
        self.store.close()
        self.database.dispose()


def check_like_in_process(probe: Probe, job_id: int, model, other) -> None:
    """The worker's re-index switched and holds what the in-process one holds."""
    builtin, moved = f"{model.name}@{model.version}", f"{other.name}@{other.version}"
    found = probe.job(job_id)
    assert (found.status, found.done, found.total, found.failed) == ("succeeded", 8, 8, 0)
    done = [d for d, _ in probe.progress]
    assert done == sorted(done) and probe.progress[-1] == (8, 8)
    assert probe.versions(MOVED) == [(1, False, builtin), (2, True, moved)]
    assert probe.store.alias_target(versions.alias_name(MOVED)) == f"{MOVED}@v2"
    worker_made, here = probe.vectors(MOVED, f"{MOVED}@v2"), probe.vectors(TWIN, f"{TWIN}@v2")
    assert sorted(worker_made) == sorted(here) and len(here) == 8
    for uri, spaces in here.items():
        for space, vector in spaces.items():
            np.testing.assert_allclose(worker_made[uri][space], vector, atol=1e-5)
    answers = probe.answers(MOVED)
    assert answers == probe.answers(TWIN)
    assert {model_name for model_name, _ in answers.values()} == {moved}


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


def newest_job(probe: Probe) -> int:
    """The id of the newest index job."""
    with probe.database.session() as session:
        return session.scalar(select(IndexJob.id).order_by(IndexJob.id.desc()).limit(1)) or 0


def test_api_reindex_with_workers_on_rabbitmq_switches_like_in_process(
    tmp_path, worker_database_url, amqp_url, search_model, other_source
) -> None:
    from api.app import create_app

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
    from workers.submit import enqueue_reindex

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
