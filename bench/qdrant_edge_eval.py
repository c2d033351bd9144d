"""Embedded Qdrant, two ways: qdrant-client's local mode against qdrant-edge-py (the Rust engine).

Same clustered data, same HNSW parameters: upsert (and index build) time, single-query and batched
QPS, recall@10 against exact search. qdrant-edge-py is not a project dependency; install it into a
separate folder and point ``--edge-path`` at it (``pip install --target DIR qdrant-edge-py``).

    python bench/qdrant_edge_eval.py --size 20000 --edge-path /path/to/edge
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.search.stores.base import SpaceSpec
from anyseek.search.stores.qdrant_store import QdrantStore
from anyseek.settings import StoreSettings
from bench.stores import K, clustered, exact_neighbours, recall, timed_qps


def measured(
    system: str,
    upsert_s: float,
    built_s: float,
    search: Callable[[np.ndarray], list[list[int]]],
    queries: np.ndarray,
    truth: np.ndarray,
) -> dict[str, object]:
    """One system's result row: build times, single and batched queries/s, recall@10."""
    single, batched, answers = timed_qps(search, queries, 200)
    return {
        "system": system,
        "upsert_s": upsert_s,
        "upsert_and_index_s": built_s,
        "single_qps": single,
        "batch_qps": batched,
        "recall_at_10": recall(answers, truth),
    }


def edge(base: np.ndarray, queries: np.ndarray, truth: np.ndarray, m: int, ef: int, ef_search: int):
    """qdrant-edge: create a shard, upsert, build HNSW (optimize), query."""
    import qdrant_edge as qe

    folder = tempfile.mkdtemp(prefix="edge-")
    config = qe.EdgeConfig(
        vectors={"v": qe.EdgeVectorParams(size=base.shape[1], distance=qe.Distance.Cosine)},
        hnsw_config=qe.HnswIndexConfig(m=m, ef_construct=ef, full_scan_threshold=10_000),
    )
    shard = qe.EdgeShard.create(folder, config)
    start = time.perf_counter()
    for first in range(0, len(base), 1024):
        chunk = base[first : first + 1024].tolist()
        points = [qe.Point(first + n, {"v": row}, {}) for n, row in enumerate(chunk)]
        shard.update(qe.UpdateOperation.upsert_points(points))
    upserted = time.perf_counter() - start
    shard.optimize()
    shard.flush()
    built = time.perf_counter() - start
    params = qe.SearchParams(hnsw_ef=ef_search)

    def search(batch: np.ndarray) -> list[list[int]]:
        requests = [
            qe.QueryRequest(limit=K, query=qe.Query.Nearest(row.tolist(), using="v"), params=params)
            for row in batch
        ]
        if len(requests) == 1:
            return [[int(p.id) for p in shard.query(requests[0])]]
        return [[int(p.id) for p in r] for r in shard.query_batch(qe.QueryBatchRequest(requests))]

    return measured("qdrant-edge-py (HNSW)", upserted, built, search, queries, truth)


def client_local(base: np.ndarray, queries: np.ndarray, truth: np.ndarray):
    """qdrant-client local mode through QdrantStore (exact numpy scan, no index)."""
    store = QdrantStore(StoreSettings(path=":memory:"))
    store.ensure_collection("bench", [SpaceSpec("v", base.shape[1])])
    start = time.perf_counter()
    for first in range(0, len(base), 1024):
        chunk = base[first : first + 1024]
        store.upsert("bench", np.arange(first, first + len(chunk)), {"v": chunk})
    built = time.perf_counter() - start

    def search(batch: np.ndarray) -> list[list[int]]:
        return [r.ids for r in store.search("bench", "v", batch, k=K)]

    return measured("qdrant-client local mode (exact scan)", built, built, search, queries, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--edge-path", type=str, default=None)
    parser.add_argument("--m", type=int, default=32)
    parser.add_argument("--ef-construct", type=int, default=200)
    parser.add_argument("--ef-search", type=int, default=128)
    args = parser.parse_args()
    if args.edge_path:
        sys.path.insert(0, args.edge_path)
    base = clustered(args.size, args.dim, seed=1)
    queries = clustered(args.queries, args.dim, seed=2)
    truth = exact_neighbours(base, queries)
    for run in (
        lambda: client_local(base, queries, truth),
        lambda: edge(base, queries, truth, args.m, args.ef_construct, args.ef_search),
    ):
        print(json.dumps({"size": args.size, **run()}), flush=True)


if __name__ == "__main__":
    main()
