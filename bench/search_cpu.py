"""CPU per search by stage, in-process: what ``bench/search.py``'s load table leaves unnamed.

The server's searches pass through three stages of their own (``Searcher.prepare``: the version
read and the query decoded into model inputs; ``Searcher.predict``: the model, in batches;
``Searcher.finish``: store, fusion, page). Run here one after another on one thread, over the
same gallery and queries as the load (the mixed caption and sketch bodies, in batches of the
size 16 clients give two processes), each stage's thread CPU per search is what the stage
costs; the server's CPU per search less their sum is the rest: HTTP, the framework, JSON and
the hand-offs between threads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

STAGES = ("prepare", "model", "finish")


@dataclass(frozen=True)
class StageCpu:
    """Thread CPU ms per search of each stage (``STAGES``)."""

    ms: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.ms.values())


def _queries(bodies: list[dict], collection: str, max_upload_mb: float) -> list:
    """The JSON bodies as the search route turns them into queries (``api.query_bodies``)."""
    from anyseek.api import query_bodies
    from anyseek.api.schemas import SearchRequest

    requests = [SearchRequest.model_validate(body) for body in bodies]
    return [
        query_bodies.build_query(collection, query_bodies.parts_from_json(r, max_upload_mb), r)
        for r in requests
    ]


def stage_cpu(
    data_dir: Path,
    source: str,
    bodies: list[dict],
    collection: str,
    searches: int = 960,
    batch: int = 8,
) -> StageCpu:
    """Each stage's thread CPU per search over ``searches`` searches (after a warm-up), the
    model with one thread as each process of ``--workers 2`` on 2 cores has."""
    from anyseek.db.migrate import open_database
    from anyseek.model.service import use_threads
    from anyseek.search.model_registry import ModelRegistry
    from anyseek.search.searcher import open_searcher
    from anyseek.settings import load_settings

    settings = load_settings(
        data_dir=data_dir, store={"path": str(data_dir / "faiss")}, model={"source": source}
    )
    use_threads(1)
    database = open_database(settings)
    searcher = open_searcher(settings)
    try:
        searcher.store.use_for_single_queries()
        searcher.warm_up()
        versioned = searcher.with_versions(
            database, ModelRegistry(settings.model, default=searcher.model)
        )
        queries = _queries(bodies, collection, settings.api.max_upload_mb)

        def run(n: int) -> dict[str, float]:
            spent = dict.fromkeys(STAGES, 0.0)
            for lo in range(0, n, batch):
                group = [queries[(lo + j) % len(queries)] for j in range(batch)]
                start = time.thread_time()
                plans = [versioned.prepare(q) for q in group]
                prepared = time.thread_time()
                predicted = versioned.predict(plans)
                modelled = time.thread_time()
                for plan in predicted:
                    versioned.finish(plan)
                finished = time.thread_time()
                spent["prepare"] += prepared - start
                spent["model"] += modelled - prepared
                spent["finish"] += finished - modelled
            return {stage: s * 1000 / n for stage, s in spent.items()}

        run(min(searches, 240))  # warm-up
        return StageCpu(run(searches))
    finally:
        searcher.close()
        database.dispose()
