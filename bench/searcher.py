"""In-process latency of ``search.Searcher`` per query modality, and what micro-batching buys.

Indexes N generated scenes with the built-in model into an exact FAISS store in a temporary
folder, then times ``Searcher.search`` per query kind (p50/p95 over R repeats of different
scenes) and 16 caption queries answered one by one vs in one ``search_many`` call. No HTTP: the
service's own cost, which the API adds its overhead to (``bench/search.py`` measures that).

OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python bench/searcher.py --n 2000 --repeats 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.search import pct  # the same percentile as the API's latency table


def main() -> None:
    """Print a markdown table of latencies in milliseconds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    import torch
    from PIL import Image

    from anyseek.model.families.registry import load_search_model
    from anyseek.scenes.sample import generate_batch
    from anyseek.search.query import QueryPart, SearchQuery
    from anyseek.search.searcher import Searcher
    from anyseek.search.stores.faiss_store import FaissStore
    from anyseek.settings import StoreSettings

    sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "search"))
    from scene_gallery import index_scenes

    model = load_search_model("builtin")
    scenes = []
    for start in range(0, args.n, 256):
        scenes += generate_batch(range(995_000 + start, 995_000 + min(args.n, start + 256)), 64)
    store = FaissStore(StoreSettings(path=tempfile.mkdtemp(), exact_threshold=10**6))
    t0 = time.perf_counter()
    index_scenes(model, store, "bench", scenes)
    index_s = time.perf_counter() - t0
    searcher = Searcher(model, store)
    kinds = {
        "caption": lambda s: [QueryPart("caption", s.captions[0])],
        "sketch": lambda s: [QueryPart("sketch", Image.fromarray(s.sketch))],
        "depth": lambda s: [QueryPart("depth", s.depth)],
        "semseg": lambda s: [QueryPart("semseg", Image.fromarray(s.semseg))],
        "image": lambda s: [QueryPart("image", Image.fromarray(s.rgb))],
        "caption+sketch": lambda s: [
            QueryPart("caption", s.captions[0]),
            QueryPart("sketch", Image.fromarray(s.sketch)),
        ],
        "caption+sketch 0.5 (fusion)": lambda s: [
            QueryPart("caption", s.captions[0]),
            QueryPart("sketch", Image.fromarray(s.sketch), 0.5),
        ],
    }
    rows = []
    for name, parts in kinds.items():
        searcher.search(SearchQuery("bench", tuple(parts(scenes[0]))))  # warm-up (lazy imports)
        times, store_ms = [], []
        for i in range(args.repeats):
            query = SearchQuery("bench", tuple(parts(scenes[i % len(scenes)])), k=10)
            t0 = time.perf_counter()
            searcher.search(query)
            times.append((time.perf_counter() - t0) * 1000)
        for i in range(10):  # stage times from explain (which costs extra passes: timed apart)
            query = SearchQuery("bench", tuple(parts(scenes[i])), k=10, explain=True)
            stages = searcher.search(query).explanation.timings_ms
            store_ms.append(stages["store"] + stages["fuse"])
        rows.append((name, statistics.median(times), pct(times, 0.95), statistics.median(store_ms)))
    batch = [SearchQuery("bench", (QueryPart("caption", s.captions[0]),)) for s in scenes[:16]]
    t0 = time.perf_counter()
    for query in batch:
        searcher.search(query)
    one_by_one = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    searcher.search_many(batch)
    batched = (time.perf_counter() - t0) * 1000
    print(
        f"{args.n} items, exact FAISS, built-in model on CPU, {torch.get_num_threads()} threads; "
        f"indexing took {index_s:.1f} s ({args.n / index_s:.0f} images/s).\n"
    )
    print("| query | p50 ms | p95 ms | store + fusion p50 ms |\n|---|---|---|---|")
    for name, p50, p95, store_fuse in rows:
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {store_fuse:.2f} |")
    print(
        f"\n16 caption queries: {one_by_one:.0f} ms one by one, {batched:.0f} ms in one "
        f"search_many call ({one_by_one / batched:.1f}x)."
    )
    store.close()


if __name__ == "__main__":
    main()
