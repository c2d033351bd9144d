"""One machine, growing collections: index, search and memory at 10k, 100k and 1M items (issue 29).

For each size and store configuration a gallery is written into a store in a temporary data
directory (the built-in model's vectors of ``--real`` generated scenes, and perturbed copies of
them up to the size, as ``bench/search.py`` builds them, each with a realistic payload: path,
folder, extension, bytes, width, height, mtime, sha256), then

* ``anyseek serve`` is started on it and every query kind is asked over HTTP: p50/p95/p99 of one
  client, then queries/s of ``--clients`` concurrent clients for ``--seconds`` seconds;
* the server's resident memory (after the queries) and the store folder's size on disk are read;
* recall@10 of the store against exact search is measured in this process, per space, on the
  held-out query scenes' vectors (ground truth: a brute-force scan of the same gallery);
* ``--outbox`` items are staged in the metadata database and applied by the real write path
  (``anyseek.indexer.outbox.apply_pending``: thumbnails, near-duplicate check, upsert, flush,
  database commit) on top of the full collection: vectors/s of the store and database, model
  excluded.

Results: ``bench/results/scale.json`` keyed by size (the configuration the service uses at that
size, plus every configuration measured under ``"configs"``), a markdown table and a plot
(``--render``, needs matplotlib). Each configuration is saved as soon as it is measured.

OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python bench/scale.py --sizes 10000 \
    --configs exact,hnsw,ivf_sq8,qdrant_local
OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python bench/scale.py --sizes 100000 --configs hnsw,ivf_sq8
PYTHONPATH=. .venv/bin/python bench/scale.py --render
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import http_load  # noqa: E402
from bench.search import (  # noqa: E402  (after the path fix, as bench/search.py needs)
    COLLECTION,
    MODALITIES,
    pct,
    query_body,
    serve,
    stop,
)

RESULTS = ROOT / "bench" / "results"
K = 10
BATCH = 20_000
"""Items per upsert while building, as an indexer writing in large batches would."""

CONFIGS: dict[str, dict[str, object]] = {
    "exact": {"backend": "faiss", "exact_threshold": 10**9},
    "hnsw": {"backend": "faiss", "exact_threshold": 1, "approximate": "hnsw"},
    "hnsw_ef512": {
        "backend": "faiss",
        "exact_threshold": 1,
        "approximate": "hnsw",
        "hnsw_ef_search": 512,
    },
    "ivf_flat": {"backend": "faiss", "exact_threshold": 1, "approximate": "ivf_flat"},
    "ivf_sq8": {"backend": "faiss", "exact_threshold": 1, "approximate": "ivf_sq8"},
    "ivf_pq": {"backend": "faiss", "exact_threshold": 1, "approximate": "ivf_pq"},
    "qdrant_local": {"backend": "qdrant"},
}
"""Store settings of each configuration (``ANYSEEK_STORE__*``), the path added per run."""


@dataclass
class KindResult:
    """Latency of one query kind over HTTP (one client) and its throughput under many."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    qps_16_clients: float
    errors: int = 0


@dataclass
class ConfigResult:
    """Everything measured for one store configuration at one size."""

    size: int
    config: str
    index: str
    build_s: float
    ram_gb: float
    disk_gb: float
    index_file_gb: float
    recall_at_10: float
    outbox_vectors_per_s: float
    outbox_items: int
    queries: dict[str, KindResult] = field(default_factory=dict)
    outbox_stage_s: dict[str, float] = field(default_factory=dict)
    note: str = ""


@dataclass
class Gallery:
    """The real vectors perturbed copies are made of, and the held-out query scenes."""

    real: dict[str, np.ndarray]  # space -> [n_real, dim], normalised
    query_vectors: dict[str, np.ndarray]  # space -> [n_queries, dim], normalised
    bodies: dict[str, list[dict]]  # query kind -> HTTP search bodies
    thumbnail: bytes
    noise: float


def make_gallery(model, n_real: int, n_queries: int, noise: float) -> Gallery:
    """Embed ``n_real`` generated scenes and ``n_queries`` held-out ones with the search model."""
    import torch
    from PIL import Image

    from anyseek.indexer.thumbnails import make_thumbnail
    from anyseek.scenes.sample import generate_batch

    def embed(scenes) -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {}
        for lo in range(0, len(scenes), 256):
            x = torch.stack(
                [model.image_input(Image.fromarray(s.rgb)) for s in scenes[lo : lo + 256]]
            )
            for name, v in model.embed_images(x).items():
                parts.setdefault(name, []).append(np.asarray(v, np.float32))
        return {name: _normed(np.concatenate(v)) for name, v in parts.items()}

    real = []
    for lo in range(0, n_real, 256):
        real += generate_batch(range(995_000 + lo, 995_000 + min(n_real, lo + 256)), 64)
    queries = generate_batch(range(996_000, 996_000 + n_queries), 64)  # not in the gallery
    return Gallery(
        real=embed(real),
        query_vectors=embed(queries),
        bodies={m: [query_body(m, s) for s in queries] for m in MODALITIES},
        thumbnail=make_thumbnail(Image.fromarray(real[0].rgb), 64),
        noise=noise,
    )


def _normed(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def payload(item_id: int) -> dict[str, object]:
    """A payload shaped like the indexer's (``anyseek.indexer.outbox.Embedded.payload``)."""
    folder = f"/photos/{2000 + item_id % 25}/{item_id % 12 + 1:02d}"
    return {
        "path": f"{folder}/IMG_{item_id:07d}.jpg",
        "folder": folder,
        "ext": "jpg",
        "bytes": 1_500_000 + item_id % 900_000,
        "width": 4032,
        "height": 3024,
        "mtime": 1_600_000_000 + item_id * 37,
        "sha256": hashlib.sha256(str(item_id).encode()).hexdigest(),
    }


def batches(
    gallery: Gallery, first_id: int, count: int
) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
    """Items ``first_id``.. in upsert batches: real vectors first, then perturbed copies; an
    item's vectors are the same however the range is asked for (noise drawn per aligned block)."""
    n_real = len(next(iter(gallery.real.values())))
    end = first_id - 1 + count
    for block in range((first_id - 1) // BATCH * BATCH, end, BATCH):
        lo, hi = max(block, first_id - 1), min(end, block + BATCH)
        rng = np.random.default_rng(block // BATCH)
        rows = np.arange(lo, hi)
        out = {}
        for name, v in gallery.real.items():
            noise = rng.standard_normal((BATCH, v.shape[1]), np.float32)[lo - block : hi - block]
            x = v[rows % n_real] + gallery.noise * noise * (rows >= n_real)[:, None]
            out[name] = _normed(x.astype(np.float32))
        yield list(range(lo + 1, hi + 1)), out


class ExactTopK:
    """Streaming brute-force top-k of the query vectors over the gallery: the ground truth."""

    def __init__(self, queries: dict[str, np.ndarray]) -> None:
        self.queries = queries
        self.best = {
            s: (np.full((len(q), 0), -np.inf), np.zeros((len(q), 0), np.int64))
            for s, q in queries.items()
        }

    def add(self, ids: list[int], vectors: dict[str, np.ndarray]) -> None:
        """Merge one batch of gallery items into the running top-k."""
        id_array = np.asarray(ids, np.int64)
        for space, q in self.queries.items():
            scores, found = self.best[space]
            scores = np.concatenate([scores, q @ vectors[space].T], axis=1)
            found = np.concatenate([found, np.broadcast_to(id_array, (len(q), len(ids)))], axis=1)
            top = np.argsort(-scores, axis=1)[:, :K]
            self.best[space] = (
                np.take_along_axis(scores, top, 1),
                np.take_along_axis(found, top, 1),
            )

    def ids(self, space: str) -> np.ndarray:
        return self.best[space][1]


def settings_for(data_dir: Path, config: str):
    """The service settings of a configuration on ``data_dir``."""
    from anyseek.settings import load_settings

    store = dict(CONFIGS[config])
    store["path"] = str(data_dir / str(store["backend"]))
    return load_settings(data_dir=data_dir, store=store)


def build(
    data_dir: Path, size: int, config: str, gallery: Gallery, model
) -> tuple[float, ExactTopK]:
    """Write the gallery into the configuration's store and its items, as indexed rows, into
    the metadata database; (seconds of the store's writes, exact ground truth)."""
    from anyseek.db import migrate
    from anyseek.db.session import database_for
    from anyseek.search.stores import SpaceSpec, open_store

    settings = settings_for(data_dir, config)
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    collection_id = create_collection(database, model)
    index_gallery_rows(database, collection_id, size)  # the server meets a database of this size
    database.dispose()
    truth = ExactTopK(gallery.query_vectors)
    elapsed = 0.0
    with open_store(settings) as store:
        store.ensure_collection(
            COLLECTION, [SpaceSpec(n, v.shape[1]) for n, v in gallery.real.items()]
        )
        for ids, vectors in batches(gallery, 1, size):
            start = time.perf_counter()
            store.upsert(COLLECTION, ids, vectors, [payload(i) for i in ids])
            elapsed += time.perf_counter() - start
            truth.add(ids, vectors)
        start = time.perf_counter()
        store.flush()
        elapsed += time.perf_counter() - start
    return elapsed, truth


def start_server(data_dir: Path, config: str, threads: int):
    """``anyseek serve`` on the configuration's store; (process, base url) once /readyz answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    store = dict(CONFIGS[config]) | {"path": str(data_dir / str(CONFIGS[config]["backend"]))}
    env |= {f"ANYSEEK_STORE__{k.upper()}": str(v) for k, v in store.items()}
    env |= {"ANYSEEK_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": str(threads)}
    return serve(env, timeout_s=600)  # a 1M-item index takes minutes to load


def rss_gb(pid: int) -> float:
    """Resident memory of a process (file-backed mapped pages included), GB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def folder_gb(path: Path, pattern: str = "*") -> float:
    """Bytes of the files under ``path`` matching ``pattern`` (hard links counted once), GB."""
    seen, total = set(), 0
    for file in path.rglob(pattern):
        if file.is_file():
            stat = file.stat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total / 1e9


def interleaved_latencies(base: str, bodies: dict[str, list[dict]]) -> dict[str, list[float]]:
    """Milliseconds per query, one client, the kinds taken in turn (query i of every kind, then
    i + 1), after one warm-up query of each: no kind is measured while the server is colder
    (memory-mapped index pages still being read in) than another."""
    import httpx

    url = f"{base}/v1/collections/{COLLECTION}/search"
    out: dict[str, list[float]] = {kind: [] for kind in bodies}
    with httpx.Client(trust_env=False, timeout=60) as client:
        for queries in bodies.values():
            client.post(url, json=queries[-1])
        for i in range(min(len(q) for q in bodies.values())):
            for kind, queries in bodies.items():
                start = time.perf_counter()
                response = client.post(url, json=queries[i])
                out[kind].append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{kind}: {response.status_code} {response.text[:300]}")
    return out


def measure_http(
    base: str, gallery: Gallery, clients: int, seconds: float
) -> dict[str, KindResult]:
    """p50/p95/p99 of one client, then queries/s of ``clients`` clients, per query kind."""
    found = interleaved_latencies(base, gallery.bodies)
    out = {}
    for kind, times in found.items():
        url = f"{base}/v1/collections/{COLLECTION}/search"
        found = asyncio.run(http_load.run_clients(url, gallery.bodies[kind], clients, seconds))
        done, errors = found.done, found.errors
        out[kind] = KindResult(
            p50_ms=round(pct(times, 0.5), 2),
            p95_ms=round(pct(times, 0.95), 2),
            p99_ms=round(pct(times, 0.99), 2),
            qps_16_clients=round(done / seconds, 1),
            errors=errors,
        )
        print(f"  {kind}: {out[kind]}", flush=True)
    return out


def recall_at_10(settings, truth: ExactTopK) -> float:
    """Mean share of the exact top 10 the store returns, over the query vectors of every space."""
    from anyseek.search.stores import open_store

    shares = []
    with open_store(settings) as store:
        for space, queries in truth.queries.items():
            results = store.search(COLLECTION, space, queries, k=K)
            for result, exact in zip(results, truth.ids(space), strict=True):
                shares.append(len(set(result.ids) & set(exact.tolist())) / K)
    return float(np.mean(shares))


def create_collection(database, model) -> int:
    """The bench collection in the metadata database, made by the model (as version 1); its id."""
    from anyseek.db import repository
    from anyseek.indexer.collections import attach_model

    with database.session() as session:
        collection = repository.create_collection(session, COLLECTION)
        attach_model(session, collection, model, "builtin")
        session.flush()
        return collection.id


def index_gallery_rows(database, collection_id: int, size: int) -> None:
    """The gallery's items as indexed rows in the database, as the indexer would have left them
    (near-duplicate links and the write path's lookups then meet a database of the real size)."""
    from sqlalchemy import insert

    from anyseek.db.models import Item, ItemStatus

    for lo in range(1, size + 1, 50_000):
        rows = [
            {
                "id": i,
                "collection_id": collection_id,
                "sha256": payload(i)["sha256"],
                "source_uri": payload(i)["path"],
                "width": 4032,
                "height": 3024,
                "format": "JPEG",
                "status": ItemStatus.INDEXED,
            }
            for i in range(lo, min(size, lo + 49_999) + 1)
        ]
        with database.session() as session:
            session.execute(insert(Item), rows)


class StageClock:
    """Seconds spent in each stage of the outbox's apply: module functions and store methods
    wrapped with a timer for the duration of a ``with`` block (the thumbnail stage runs on its
    own thread, beside the others)."""

    STAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "read staged rows": ("anyseek.indexer.outbox", "_read_batch"),
        "thumbnails (files)": ("anyseek.indexer.outbox", "write_thumbnails"),
        "near-duplicate check": ("anyseek.indexer.outbox", "find_near_duplicates"),
        "database commit": ("anyseek.indexer.outbox", "_mark_indexed"),
    }

    def __init__(self, store) -> None:
        self.store = store
        self.seconds: dict[str, float] = {}
        self._saved: list[tuple[object, str, object]] = []

    def _wrap(self, owner, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

        self._saved.append((owner, name, original))
        setattr(owner, name, timed)

    def __enter__(self) -> StageClock:
        import importlib

        for stage, (module, name) in self.STAGES.items():
            self._wrap(importlib.import_module(module), name, stage)
        self._wrap(self.store, "upsert", "store upsert")
        self._wrap(self.store, "flush", "store flush")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self.seconds = {k: round(v, 3) for k, v in self.seconds.items()}


def outbox_rate(
    settings, model, size: int, items: int, gallery: Gallery
) -> tuple[float, dict[str, float]]:
    """Stage ``items`` new items in the database, apply them through ``apply_pending`` on top of
    the full collection; vectors (items x spaces) per second of the apply, and the seconds of
    each of its stages."""
    from anyseek.db import repository
    from anyseek.db.models import Item, PendingVectors
    from anyseek.db.session import database_for
    from anyseek.indexer.outbox import apply_pending
    from anyseek.search.stores import open_store

    if items <= 0:
        return float("nan"), {}
    database = database_for(settings)
    with database.session() as session:
        collection = repository.get_collection(session, COLLECTION)
        collection_id = collection.id
        names = sorted(s.name for s in collection.spaces)
    with database.session() as session:
        for ids, vectors in batches(gallery, size + 1, items):
            matrix = np.concatenate([vectors[n] for n in names], axis=1).astype(np.float32)
            for item_id, row in zip(ids, matrix, strict=True):
                shown = payload(item_id)
                session.add(
                    Item(
                        id=item_id,
                        collection_id=collection_id,
                        sha256=shown["sha256"],
                        source_uri=str(shown["path"]),
                        width=4032,
                        height=3024,
                        format="JPEG",
                    )
                )
                session.add(
                    PendingVectors(
                        item_id=item_id,
                        collection_id=collection_id,
                        vectors=row.tobytes(),
                        payload=json.dumps(shown),
                        thumbnail=gallery.thumbnail,
                    )
                )
    with open_store(settings) as store:
        store.count(COLLECTION)  # loaded once per writer process, as the worker or server does
        with StageClock(store) as clock:
            start = time.perf_counter()
            applied = apply_pending(database, store, settings, COLLECTION)
            elapsed = time.perf_counter() - start
    database.dispose()
    return applied * len(names) / elapsed, clock.seconds | {"total": round(elapsed, 3)}


def index_name(settings, config: str, size: int) -> str:
    """What the store holds at this size, in words."""
    store = settings.store
    if store.backend == "qdrant":
        return "qdrant local mode (exhaustive numpy scan)"
    if size < store.exact_threshold:
        return "faiss flat (exact)"
    if store.approximate == "hnsw":
        return f"faiss hnsw (M={store.hnsw_m}, efSearch={store.hnsw_ef_search})"
    return f"faiss {store.approximate} (nprobe={store.ivf_nprobe})"


def run_one(size: int, config: str, model, gallery: Gallery, args) -> ConfigResult:
    """Build, serve, query, measure memory, recall and the outbox for one configuration."""
    with tempfile.TemporaryDirectory(prefix="anyseek-scale-", dir=args.tmp) as tmp:
        data_dir = Path(tmp)
        settings = settings_for(data_dir, config)
        build_s, truth = build(data_dir, size, config, gallery, model)
        print(f"{size} {config}: built in {build_s:.1f} s", flush=True)
        process, base = start_server(data_dir, config, args.threads)
        try:
            queries = measure_http(base, gallery, args.clients, args.seconds)
            ram = rss_gb(process.pid)
        finally:
            stop(process)
        store_path = Path(settings.store.path)
        result = ConfigResult(
            size=size,
            config=config,
            index=index_name(settings, config, size),
            build_s=round(build_s, 1),
            ram_gb=round(ram, 3),
            disk_gb=round(folder_gb(store_path), 3),
            index_file_gb=round(folder_gb(store_path, "*.faiss"), 3),
            recall_at_10=round(recall_at_10(settings, truth), 4),
            outbox_vectors_per_s=0.0,
            outbox_items=args.outbox,
            queries=queries,
        )
        try:
            rate, stages = outbox_rate(settings, model, size, args.outbox, gallery)
            result.outbox_vectors_per_s = round(rate, 1)
            result.outbox_stage_s = stages
        except Exception as exc:  # keep what was measured; say why the outbox part is missing
            result.outbox_vectors_per_s = float("nan")
            result.note = f"outbox failed: {type(exc).__name__}: {str(exc)[:200]}"
        print(f"{size} {config}: {asdict(result) | {'queries': '...'}}", flush=True)
        return result


def service_config(size: int) -> str:
    """The configuration the service runs at this size with its default settings."""
    from anyseek.settings import StoreSettings

    defaults = StoreSettings()
    return "exact" if size < defaults.exact_threshold else defaults.approximate


def save(result: ConfigResult, path: Path) -> None:
    """Merge one configuration's result into the JSON file, keyed by size."""
    data = json.loads(path.read_text()) if path.exists() else {}
    entry = data.setdefault(str(result.size), {})
    configs = [c for c in entry.get("configs", []) if c["config"] != result.config]
    entry["configs"] = sorted([*configs, asdict(result)], key=lambda c: c["config"])
    chosen = service_config(result.size)
    pick = next((c for c in entry["configs"] if c["config"] == chosen), None)
    if pick is None:  # the service's own index not measured (yet): the closest approximate one
        pick = next(
            (c for c in entry["configs"] if c["config"] != "qdrant_local"), entry["configs"][0]
        )
    entry.update(
        {
            key: pick[key]
            for key in (
                "queries",
                "recall_at_10",
                "outbox_vectors_per_s",
                "ram_gb",
                "disk_gb",
                "index",
            )
        }
    )
    entry["service_config"] = pick["config"]
    path.write_text(
        json.dumps(dict(sorted(data.items(), key=lambda kv: int(kv[0]))), indent=1) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--configs", default="exact,hnsw,ivf_sq8")
    parser.add_argument("--real", type=int, default=1000, help="scenes embedded by the model")
    parser.add_argument("--noise", type=float, default=0.05, help="sigma of the perturbed copies")
    parser.add_argument("--queries", type=int, default=40, help="held-out queries per kind")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8, help="load per query kind")
    parser.add_argument("--threads", type=int, default=2, help="server OMP threads")
    parser.add_argument("--outbox", type=int, default=4096, help="items applied through the outbox")
    parser.add_argument("--tmp", default=None, help="folder for the temporary data directories")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    parser.add_argument("--render", action="store_true", help="only write the table and the plot")
    args = parser.parse_args()
    if not args.render:
        from anyseek.model.families.registry import load_search_model

        model = load_search_model("builtin")
        gallery = make_gallery(model, args.real, args.queries, args.noise)
        for size in [int(s) for s in args.sizes.split(",")]:
            for config in args.configs.split(","):
                save(run_one(size, config, model, gallery, args), args.out)
    from bench.scale_report import render

    render(args.out)


if __name__ == "__main__":
    main()
