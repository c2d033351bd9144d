"""Filtered search on user metadata: latency and recall@10 against exact filtered search.

A collection of ``--n`` synthetic items (clustered Gaussian vectors, ``--dim``-d, cosine) with the
metadata ``{"bucket": i % 100, "tag": "t<i % 10>"}`` is written to each store; queries (noisy
copies of stored vectors) are asked with filters matching 1 % (``bucket = 0``), 10 %
(``bucket <= 9``) and 50 % (``bucket <= 49``) of the items, plus no filter. Recall@10 is measured
against exact (numpy) search among the matching items. The FAISS store at 100k items uses HNSW
(exact below ``exact_threshold``); its filters are pre-filters by id set below
``faiss_post_filter_share`` and over-fetching post-filters above. Qdrant runs in local mode (the
embedded engine scans and filters in Python; a Qdrant server uses its payload indexes), so its
row is built at ``--qdrant-n`` items (20k: under a minute to write on 2 cores); ``--qdrant-url``
adds a ``qdrant-server`` row at the full ``--n`` against a running server.

PYTHONPATH=. .venv/bin/python bench/filters.py --n 100000 --out bench/results/filters.md
PYTHONPATH=. .venv/bin/python bench/filters.py --stores qdrant-server --qdrant-url http://HOST:6333
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from anyseek.search.fields import FilterSpec, resolve_filter  # noqa: E402
from anyseek.search.stores import SpaceSpec, backend_class  # noqa: E402
from anyseek.settings import StoreSettings  # noqa: E402

REGISTRY = {"bucket": "number", "tag": "string"}
FILTERS = {
    "none": FilterSpec(),
    "1 %": FilterSpec(equals={"bucket": 0}),
    "10 %": FilterSpec(ranges={"bucket": (None, 9)}),
    "50 %": FilterSpec(ranges={"bucket": (None, 49)}),
}
SHARES = {"none": 1.0, "1 %": 0.01, "10 %": 0.1, "50 %": 0.5}


def gallery(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors (64 clusters), as embeddings of a photo collection spread."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, dim))
    vectors = centres[rng.integers(0, 64, n)] + 0.8 * rng.normal(size=(n, dim))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def queries_for(vectors: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    """Noisy unit copies of ``count`` stored vectors: queries whose neighbours are in the store."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(vectors), count)
    noise = 0.3 * rng.normal(size=(count, vectors.shape[1])).astype(np.float32)
    queries = vectors[picks] + noise
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def build(kind: str, folder: Path, vectors: np.ndarray, ef_construct: int, qdrant_url: str | None):
    """A store of ``kind`` holding the gallery, and the seconds it took to write."""
    backend = "faiss" if kind == "faiss" else "qdrant"
    url = qdrant_url if kind == "qdrant-server" else None
    if kind == "qdrant-server" and not url:
        raise SystemExit("--stores qdrant-server needs --qdrant-url http://HOST:6333")
    settings = StoreSettings(
        backend=backend,
        path=str(folder / backend),
        hnsw_ef_construct=ef_construct,
        qdrant_url=url,
    )
    store = backend_class(backend)(settings)
    store.ensure_collection("c", [SpaceSpec("v", vectors.shape[1])])
    started = time.perf_counter()
    n = len(vectors)
    for start in range(0, n, 10_000):
        ids = np.arange(start, min(n, start + 10_000))
        payloads = [{"metadata": {"bucket": int(i % 100), "tag": f"t{i % 10}"}} for i in ids]
        store.upsert("c", ids, {"v": vectors[ids]}, payloads)
    store.index_fields("c", {"metadata.bucket": "number", "metadata.tag": "string"})
    store.flush()
    return store, time.perf_counter() - started


def exact(vectors: np.ndarray, query: np.ndarray, share: float) -> list[int]:
    """The exact top 10 among items with ``bucket < share * 100``."""
    keep = np.flatnonzero(np.arange(len(vectors)) % 100 < round(share * 100))
    scores = vectors[keep] @ query
    return keep[np.argsort(-scores, kind="stable")[:10]].tolist()


def measure(
    store, vectors: np.ndarray, queries: np.ndarray
) -> dict[str, tuple[float, float, float]]:
    """Per filter: p50 and p95 latency (ms) and mean recall@10."""
    out = {}
    for name, spec in FILTERS.items():
        filter = resolve_filter(spec, REGISTRY) if spec else None
        store.search("c", "v", queries[0], k=10, filter=filter)  # warm: sample, caches
        times, recalls = [], []
        for query in queries:
            started = time.perf_counter()
            [result] = store.search("c", "v", query, k=10, filter=filter)
            times.append((time.perf_counter() - started) * 1000)
            want = exact(vectors, query, SHARES[name])
            recalls.append(len(set(result.ids) & set(want)) / len(want))
        out[name] = (
            float(np.percentile(times, 50)),
            float(np.percentile(times, 95)),
            float(np.mean(recalls)),
        )
    return out


def main() -> None:
    """Build each store, measure, print and write the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--qdrant-queries", type=int, default=20)
    parser.add_argument("--ef-construct", type=int, default=64)
    parser.add_argument(
        "--qdrant-n",
        type=int,
        default=20_000,
        help="items in the qdrant-local store (local mode is a brute-force Python store)",
    )
    parser.add_argument("--qdrant-url", help="a Qdrant server for --stores qdrant-server")
    parser.add_argument("--stores", default="faiss,qdrant-local", help="faiss, qdrant-local, "
                        "qdrant-server (comma-separated)")  # fmt: skip
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    full = gallery(args.n, args.dim)
    rows = []
    for kind in args.stores.split(","):
        # the same gallery, cut to --qdrant-n for local mode (its first items)
        vectors = full[: args.qdrant_n] if kind == "qdrant-local" else full
        count = args.queries if kind == "faiss" else args.qdrant_queries
        queries = queries_for(vectors, count)
        with tempfile.TemporaryDirectory() as folder:
            store, seconds = build(kind, Path(folder), vectors, args.ef_construct, args.qdrant_url)
            results = measure(store, vectors, queries)
            store.close()
        print(f"{kind} (n = {len(vectors):,}): written in {seconds:.1f} s", flush=True)
        for name, (p50, p95, recall) in results.items():
            print(f"  {name:>5}: p50 {p50:.2f} ms  p95 {p95:.2f} ms  recall@10 {recall:.3f}")
            rows.append(
                f"| {kind} | {len(vectors):,} | {name} | {p50:.2f} | {p95:.2f} | {recall:.3f} "
                f"| {count} |"
            )
    if args.out:
        header = (
            f"dim {args.dim}, k = 10, HNSW ef_construct {args.ef_construct} (FAISS)\n\n"
            "| store | items | filter (share of items) | p50 ms | p95 ms | recall@10 | queries |\n"
            "|---|---|---|---|---|---|---|\n"
        )
        args.out.write_text(header + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
