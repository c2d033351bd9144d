"""Vector store benchmark: build time, memory, QPS and recall@10 of the stores against raw FAISS.

Data: clustered synthetic vectors (Gaussian blobs around random centres), not uniform noise, so
neighbourhoods look like real embeddings. Ground truth is exact inner-product search on the
normalised vectors. Each stage appends one JSON line to ``--out`` as soon as it finishes, so a run
cut short keeps what it measured; ``--render`` turns those lines into the markdown table.

    python bench/stores.py --size 100000 --ivf-nlist 1024 \
        --stages raw_flat,store_exact,raw_ivf_sq8,store_ivf_sq8,raw_hnsw,store_hnsw,qdrant_local
    python bench/stores.py --size 1000000 --queries 200 --single 20 --ivf-nlist 512 \
        --stages raw_flat,store_exact,raw_ivf_sq8,store_ivf_sq8
    python bench/stores.py --render
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from anyseek.search.stores.base import SpaceSpec, VectorStore
from anyseek.search.stores.faiss_index import IndexParams, new_index
from anyseek.search.stores.faiss_store import FaissStore
from anyseek.search.stores.qdrant_store import QdrantStore
from anyseek.settings import StoreSettings

RESULTS = Path(__file__).parent / "results"
K = 10
BATCH = 10_000
"""Vectors per upsert call, as an indexer writing in batches would."""


@dataclass
class Row:
    """One measured configuration."""

    size: int
    system: str
    index: str
    build_s: float
    bytes_per_vector: float
    single_qps: float
    batch_qps: float
    recall_at_10: float
    note: str = ""


def clustered(n: int, dim: int, seed: int, centres: int = 1000) -> np.ndarray:
    """Gaussian blobs around random centres, generated in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    middle = np.random.default_rng(12345).normal(size=(centres, dim)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        pick = rng.integers(0, centres, stop - start)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32)
        out[start:stop] = middle[pick] + 0.8 * noise
    return out


def exact_neighbours(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The true top-``K`` ids of each query by cosine similarity (exhaustive), [Q, K]."""
    exact = faiss.IndexFlatIP(base.shape[1])
    normed = base.copy()
    faiss.normalize_L2(normed)
    exact.add(normed)
    q = queries.copy()
    faiss.normalize_L2(q)
    return exact.search(q, K)[1]


def rss() -> int:
    """Resident memory of this process in bytes."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    """Mean share of the true top-k found."""
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def timed_qps(search: Callable[[np.ndarray], list[list[int]]], queries: np.ndarray, single: int):
    """Single-query QPS over the first ``single`` queries, batched QPS over all, and the answers."""
    search(queries[:2])  # warm-up
    start = time.perf_counter()
    for row in queries[:single]:
        search(row[None, :])
    single_qps = single / (time.perf_counter() - start)
    start = time.perf_counter()
    answers = search(queries)
    batch_qps = len(queries) / (time.perf_counter() - start)
    return single_qps, batch_qps, answers


# --- systems -------------------------------------------------------------------------------


def raw_faiss(kind: str, params: IndexParams, base: np.ndarray) -> tuple[faiss.Index, float]:
    """A plain FAISS index of ``kind`` with the store's parameters, built as FAISS users would."""
    start = time.perf_counter()
    normed = base.copy()
    faiss.normalize_L2(normed)
    index = new_index(kind, base.shape[1], params, len(base))
    if kind.startswith("ivf"):
        limit = 256 * index.nlist
        sample = normed
        if len(normed) > limit:
            sample = normed[np.random.default_rng(0).choice(len(normed), limit, False)]
        index.train(sample)
    index.add(normed)
    del normed
    return index, time.perf_counter() - start


def raw_search(index: faiss.Index, kind: str, params: IndexParams):
    """Search function for a raw index: normalise, search, ids."""
    if kind == "hnsw":
        index.hnsw.efSearch = params.hnsw_ef_search
    elif kind.startswith("ivf"):
        index.nprobe = params.ivf_nprobe

    def search(queries: np.ndarray) -> list[list[int]]:
        q = np.ascontiguousarray(queries, dtype=np.float32).copy()
        faiss.normalize_L2(q)
        return index.search(q, K)[1].tolist()

    return search


def fill_store(store: VectorStore, base: np.ndarray, batch: int = BATCH) -> float:
    """Upsert everything in batches (then flush); seconds taken."""
    store.ensure_collection("bench", [SpaceSpec("v", base.shape[1])])
    start = time.perf_counter()
    for first in range(0, len(base), batch):
        chunk = base[first : first + batch]
        store.upsert("bench", np.arange(first, first + len(chunk)), {"v": chunk})
    store.flush()
    return time.perf_counter() - start


def store_search(store: VectorStore):
    def search(queries: np.ndarray) -> list[list[int]]:
        return [r.ids for r in store.search("bench", "v", queries, k=K)]

    return search


# --- stages --------------------------------------------------------------------------------


def run_stage(name: str, size: int, base: np.ndarray, queries: np.ndarray, truth, args) -> Row:
    """Build one system, measure it, free it."""
    params = IndexParams(
        exact_threshold=args.exact_threshold,
        approximate="ivf_sq8" if "ivf_sq8" in name else "hnsw",
        ivf_nlist=args.ivf_nlist,
        ivf_nprobe=args.ivf_nprobe,
    )
    single = args.single
    gc.collect()
    before = rss()
    note = ""
    if name.startswith("raw_"):
        kind = name.removeprefix("raw_")
        index, build = raw_faiss(kind, params, base)
        search = raw_search(index, kind, params)
        system, label = "raw FAISS", kind
    elif name.startswith("store_"):
        kind = name.removeprefix("store_")
        threshold = 2**62 if kind == "exact" else args.exact_threshold
        settings = StoreSettings(
            exact_threshold=threshold,
            approximate=params.approximate,
            ivf_nlist=args.ivf_nlist,
            ivf_nprobe=args.ivf_nprobe,
        )
        folder = tempfile.mkdtemp(prefix="anyseek-bench-")
        store = FaissStore(settings.model_copy(update={"path": folder}))
        build = fill_store(store, base)
        index = store
        search = store_search(store)
        system, label = "FaissStore", "flat" if kind == "exact" else kind
        on_disk = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / size
        kind_built = store._loaded["bench"].indexes["v"].kind
        note = f"{kind_built} index; build includes flush; {on_disk:,.0f} B/vector on disk"
    elif name == "qdrant_local":
        store = QdrantStore(StoreSettings(path=":memory:"))
        build = fill_store(store, base, batch=1024)
        index = store
        search = store_search(store)
        system, label = "Qdrant local mode", "exact scan (numpy)"
    else:
        raise SystemExit(f"unknown stage {name}")
    gc.collect()
    memory = (rss() - before) / size
    single_qps, batch_qps, answers = timed_qps(search, queries, single)
    row = Row(
        size, system, label, build, memory, single_qps, batch_qps, recall(answers, truth), note
    )
    del index, search
    gc.collect()
    if name.startswith("store_"):
        shutil.rmtree(folder, ignore_errors=True)
    return row


def overhead(
    base: np.ndarray, queries: np.ndarray, kinds: list[str], rounds: int = 5
) -> list[dict]:
    """Store vs raw FAISS on the *same* index object, interleaved to cancel machine noise.

    The raw side searches the store's own FAISS index directly (same graph, same parameters), so
    the difference is exactly the store's per-call work: validation, normalisation, id mapping and
    building typed results.
    """
    out = []
    for kind in kinds:
        settings = StoreSettings(
            exact_threshold=2**62 if kind == "flat" else 0,
            approximate="hnsw" if kind == "flat" else kind,
        )
        store = FaissStore(
            settings.model_copy(update={"path": tempfile.mkdtemp(prefix="anyseek-overhead-")})
        )
        fill_store(store, base)
        space = store._loaded["bench"].indexes["v"]
        raw = raw_search(space.index, space.kind, store.params)
        wrapped = store_search(store)
        timings: dict[str, list[float]] = {"raw": [], "store": []}
        for _ in range(rounds):
            for name, search in (("raw", raw), ("store", wrapped)):
                start = time.perf_counter()
                for row in queries:
                    search(row[None, :])
                timings[name].append((time.perf_counter() - start) / len(queries))
        raw_s, store_s = float(np.median(timings["raw"])), float(np.median(timings["store"]))
        out.append(
            {
                "size": len(base),
                "index": space.kind,
                "raw_us": raw_s * 1e6,
                "store_us": store_s * 1e6,
                "store_qps_vs_raw": raw_s / store_s,
            }
        )
        shutil.rmtree(store.root, ignore_errors=True)
        del store, space, raw, wrapped
        gc.collect()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single", type=int, default=200, help="queries timed one by one")
    parser.add_argument("--stages", default="raw_flat,store_exact,raw_hnsw,store_hnsw")
    parser.add_argument("--exact-threshold", type=int, default=50_000)
    parser.add_argument("--ivf-nlist", type=int, default=0)
    parser.add_argument("--ivf-nprobe", type=int, default=32)
    parser.add_argument("--out", type=Path, default=RESULTS / "stores.jsonl")
    parser.add_argument("--render", action="store_true", help="print the markdown table and exit")
    parser.add_argument(
        "--overhead", default="", help="kinds (flat,hnsw,ivf_sq8): store vs raw on one index"
    )
    args = parser.parse_args()
    if args.render:
        print(render(args.out))
        return
    base = clustered(args.size, args.dim, seed=1)
    queries = clustered(args.queries, args.dim, seed=2)
    if args.overhead:
        for row in overhead(base, queries, args.overhead.split(",")):
            print(json.dumps(row), flush=True)
        return
    truth = exact_neighbours(base, queries)
    gc.collect()
    print(f"data ready: {args.size} x {args.dim}, {args.queries} queries", flush=True)
    for stage in args.stages.split(","):
        row = run_stage(stage, args.size, base, queries, truth, args)
        print(json.dumps(asdict(row)), flush=True)
        with open(args.out, "a") as handle:
            handle.write(json.dumps(asdict(row)) + "\n")


def render(path: Path) -> str:
    """The JSON lines as a markdown table, with the store's QPS relative to raw FAISS."""
    rows = [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    raw = {(r.size, r.index): r for r in rows if r.system == "raw FAISS"}
    lines = [
        "| vectors | system | index | build s | bytes/vector | 1-query QPS | batch QPS "
        "| recall@10 | QPS vs raw (1 / batch) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ref = raw.get((r.size, r.index))
        ratio = (
            f"{r.single_qps / ref.single_qps:.0%} / {r.batch_qps / ref.batch_qps:.0%}"
            if ref is not None and r.system == "FaissStore"
            else ""
        )
        lines.append(
            f"| {r.size:,} | {r.system} | {r.index} | {r.build_s:.1f} | {r.bytes_per_vector:,.0f} "
            f"| {_qps(r.single_qps)} | {_qps(r.batch_qps)} | {r.recall_at_10:.3f} | {ratio} |"
        )
    return "\n".join(lines)


def _qps(value: float) -> str:
    return f"{value:,.2f}" if value < 10 else f"{value:,.0f}"


if __name__ == "__main__":
    main()
