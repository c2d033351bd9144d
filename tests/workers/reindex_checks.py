"""What the worker re-index tests share: their settings and images, a probe of jobs, versions,
vectors and answers, and the check that a worker's re-index matches the one run in-process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import select

from anyseek.db import versions
from anyseek.db.migrate import open_database
from anyseek.db.models import Collection, IndexJob, Item
from anyseek.indexer import run_index
from anyseek.indexer.jobs import report
from anyseek.scenes import generate_scene
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.query import QueryPart, SearchQuery
from anyseek.search.searcher import Searcher
from anyseek.search.stores import open_store
from anyseek.settings import Settings, load_settings

MOVED, TWIN = "scenes", "twin"  # re-indexed on a worker / in this process, from the same images
CAPTIONS = ("a red cube", "a blue sphere and a green cone")


def reindex_settings(tmp_path: Path, database_url: str, broker_url: str) -> Settings:
    """Settings shared by the test and its workers: re-index 2 items per step (progress per
    step), Redis redelivering an unacknowledged task after 3 s (a re-index takes longer), and
    float32 vectors: "auto" precision times a matmul once per process, so on a bf16-capable CPU
    under load the worker and this process could choose differently, and the vectors compared
    must come from one precision."""
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url=broker_url,
        model={"device": "cpu", "precision": "float32"},
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
        self.searcher = Searcher(
            model, self.store, settings.search, database=self.database, registry=self.registry
        )
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


def newest_job(probe: Probe) -> int:
    """The id of the newest index job."""
    with probe.database.session() as session:
        return session.scalar(select(IndexJob.id).order_by(IndexJob.id.desc()).limit(1)) or 0
