"""FaissStore beyond the shared contract: index kinds, tombstones, memory-mapping, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from anyseek.errors import ServiceUnavailableError
from anyseek.search.stores import open_store
from anyseek.search.stores.base import Filter, SpaceSpec
from anyseek.search.stores.faiss_index import DEAD_MIN
from anyseek.search.stores.faiss_store import CURRENT, FaissStore
from anyseek.search.stores.qdrant_store import QdrantStore
from anyseek.settings import StoreSettings, load_settings

ROOT = Path(__file__).resolve().parents[3]


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    return (centres[rng.integers(0, 20, n)] + 0.5 * rng.normal(size=(n, dim))).astype(np.float32)


def _recall(store: FaissStore, vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    base = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(q @ base.T), axis=1)[:, :k]
    found = store.search("c", "v", queries, k=k)
    return float(np.mean([len(set(t) & set(r.ids)) / k for t, r in zip(truth, found, strict=True)]))


@pytest.mark.parametrize(
    ("kind", "floor"), [("hnsw", 0.95), ("ivf_flat", 0.9), ("ivf_sq8", 0.9), ("ivf_pq", 0.4)]
)
def test_growing_past_threshold_switches_to_approximate(tmp_path: Path, kind: str, floor: float):
    settings = StoreSettings(exact_threshold=400, approximate=kind, ivf_nprobe=16)
    store = FaissStore(settings.model_copy(update={"path": str(tmp_path)}))
    store.ensure_collection("c", [SpaceSpec("v", 32)])
    vectors = _clustered(1200, 32)
    for start in range(0, 1200, 300):
        store.upsert("c", range(start, start + 300), {"v": vectors[start : start + 300]})
    index = store._loaded["c"].indexes["v"]
    assert index.kind == kind and index.size == 1200
    queries = _clustered(50, 32, seed=1)
    assert _recall(store, vectors, queries) >= floor
    store.delete("c", range(0, 1200, 2))  # tombstones in an approximate index
    found = {i for r in store.search("c", "v", queries, k=20) for i in r.ids}
    assert found and all(i % 2 == 1 for i in found)
    before = store.search("c", "v", queries, k=10)
    store.close()
    reopened = FaissStore(settings.model_copy(update={"path": str(tmp_path)}))
    assert reopened.search("c", "v", queries, k=10) == before
    assert reopened._loaded["c"].indexes["v"].kind == kind


def test_hnsw_filtered_search_is_exact_for_selective_filters(tmp_path: Path) -> None:
    store = FaissStore(StoreSettings(path=str(tmp_path), exact_threshold=100))
    store.ensure_collection("c", [SpaceSpec("v", 16)])
    vectors = _clustered(500, 16)
    store.upsert("c", range(500), {"v": vectors}, [{"group": i % 50} for i in range(500)])
    [result] = store.search("c", "v", vectors[0], k=10, filter=Filter(equals={"group": 7}))
    assert sorted(result.ids) == list(range(7, 500, 50))  # all 10 members, none missed


def test_tombstones_are_compacted(tmp_path: Path) -> None:
    store = FaissStore(StoreSettings(path=str(tmp_path)))
    store.ensure_collection("c", [SpaceSpec("v", 8)])
    n = 4 * DEAD_MIN
    vectors = _clustered(n, 8)
    store.upsert("c", range(n), {"v": vectors})
    store.delete("c", range(0, n, 4))
    index = store._loaded["c"].indexes["v"]
    assert index.dead == DEAD_MIN  # 25% dead: not yet
    store.delete("c", [1])
    assert index.dead == 0 and index.size == n - DEAD_MIN - 1
    [result] = store.search("c", "v", vectors[2], k=1)
    assert result.ids == [2]


def test_loading_memory_maps_and_copies_before_writing(tmp_path: Path) -> None:
    for kind in ("flat", "hnsw", "ivf_sq8"):
        folder = tmp_path / kind
        approximate = "ivf_sq8" if kind == "ivf_sq8" else "hnsw"
        threshold = 10_000 if kind == "flat" else 0
        settings = StoreSettings(exact_threshold=threshold, approximate=approximate)
        store = FaissStore(settings.model_copy(update={"path": str(folder)}))
        store.ensure_collection("c", [SpaceSpec("v", 16)])
        vectors = _clustered(300, 16)
        store.upsert("c", range(300), {"v": vectors})
        store.close()
        mapped = FaissStore(settings.model_copy(update={"path": str(folder)}))
        assert mapped.count("c") == 300  # loads the collection
        space = mapped._loaded["c"].indexes["v"]
        assert (space.mapped_from is not None) == (kind != "ivf_sq8") and space.kind == kind
        assert mapped.search("c", "v", vectors[5], k=1)[0].ids == [5]
        mapped.upsert("c", [1000], {"v": vectors[7] * -1})  # would abort on a mapped index
        space = mapped._loaded["c"].indexes["v"]  # read again on becoming the writer
        assert space.mapped_from is None
        assert mapped.search("c", "v", -vectors[7], k=1)[0].ids == [1000]
        mapped.close()


_KILLED_MID_SAVE = """
import sys, time
import numpy as np
import anyseek.search.stores.faiss_files as files
from anyseek.settings import StoreSettings
from anyseek.search.stores.base import SpaceSpec
from anyseek.search.stores.faiss_store import FaissStore

store = FaissStore(StoreSettings(path=sys.argv[1]))
store.ensure_collection("c", [SpaceSpec("v", 8)])
rng = np.random.default_rng(0)
store.upsert("c", range(10), {"v": rng.normal(size=(10, 8))})
store.flush()
store.upsert("c", range(10, 20), {"v": rng.normal(size=(10, 8))})

def stuck(path, index):
    path.write_bytes(b"half a file")
    print("SAVING", flush=True)
    time.sleep(60)

files.save_ids = stuck
store.flush()
"""

_SAVING_IN_A_LOOP = """
import sys
import numpy as np
from anyseek.settings import StoreSettings
from anyseek.search.stores.faiss_store import FaissStore
from anyseek.search.stores.base import SpaceSpec

store = FaissStore(StoreSettings(path=sys.argv[1]))
store.ensure_collection("c", [SpaceSpec("v", 64)])
start = store.count("c")
rng = np.random.default_rng(start)  # fresh vectors in every run
print("READY", flush=True)
for step in range(100_000):
    ids = range(start + 50 * step, start + 50 * (step + 1))
    store.upsert("c", ids, {"v": rng.normal(size=(50, 64))}, [{"step": step}] * 50)
    store.flush()
"""


def _run(script: str, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_kill_during_save_leaves_the_previous_pack(tmp_path: Path) -> None:
    process = _run(_KILLED_MID_SAVE, tmp_path)
    assert process.stdout.readline().strip() == "SAVING"
    _kill(process)
    folder = tmp_path / "c"
    assert any(p.name.startswith(".tmp-gen-") for p in folder.iterdir())  # the torn save
    store = FaissStore(StoreSettings(path=str(tmp_path)))
    assert store.count("c") == 10  # the committed state, not the torn one
    assert len(store.search("c", "v", np.ones(8), k=20)[0].hits) == 10
    store.upsert("c", [99], {"v": np.ones(8)})  # the new writer cleans up the leftovers
    assert not any(p.name.startswith(".tmp-gen-") for p in folder.iterdir())
    store.close()
    assert FaissStore(StoreSettings(path=str(tmp_path))).count("c") == 11


def test_random_kills_always_leave_a_whole_committed_state(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for _ in range(3):
        process = _run(_SAVING_IN_A_LOOP, tmp_path)
        assert process.stdout.readline().strip() == "READY"
        time.sleep(float(rng.uniform(0.2, 0.6)))
        _kill(process)
        store = FaissStore(StoreSettings(path=str(tmp_path)))
        count = store.count("c")
        assert count % 50 == 0  # only whole flushed batches, never a torn one
        if count:
            last = store.retrieve("c", [count - 1])[0]
            [hit] = store.search("c", "v", last.vectors["v"], k=1)[0].hits
            assert hit.id == count - 1 and hit.payload == last.payload
        store.close()


def test_one_writer_many_readers(tmp_path: Path) -> None:
    writer = FaissStore(StoreSettings(path=str(tmp_path)))
    writer.ensure_collection("c", [SpaceSpec("v", 4)])
    reader = FaissStore(StoreSettings(path=str(tmp_path)))
    assert reader.count("c") == 0
    with pytest.raises(ServiceUnavailableError, match="another process"):
        reader.upsert("c", [1], {"v": np.ones(4)})
    writer.upsert("c", [1, 2], {"v": np.eye(4)[:2]})
    assert reader.count("c") == 0  # not flushed yet
    writer.flush()
    assert reader.count("c") == 2  # picks up the new pack
    assert reader.search("c", "v", np.eye(4)[1], k=1)[0].ids == [2]
    assert (tmp_path / "c" / CURRENT).read_text().split()[:2] == ["gen-00000002", "0"]
    writer.close()


def test_gpu_switch_falls_back_to_cpu(tmp_path: Path) -> None:
    store = FaissStore(StoreSettings(path=str(tmp_path), faiss_gpu=True))
    store.ensure_collection("c", [SpaceSpec("v", 4)])
    store.upsert("c", [1, 2], {"v": np.eye(4)[:2]})
    assert store.search("c", "v", np.eye(4)[0], k=1)[0].ids == [1]
    health = store.health()
    assert health.ready
    if store.gpu is None:
        assert "cpu" in health.detail


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    faiss_store = open_store(load_settings(data_dir=tmp_path))
    assert isinstance(faiss_store, FaissStore) and faiss_store.root == tmp_path / "faiss"
    qdrant = open_store(
        load_settings(data_dir=tmp_path, store={"backend": "qdrant", "path": ":memory:"})
    )
    assert isinstance(qdrant, QdrantStore) and qdrant.ready()
    local = open_store(load_settings(data_dir=tmp_path, store={"backend": "qdrant"}))
    assert isinstance(local, QdrantStore) and local.path == str(tmp_path / "qdrant")
    local.close()


@pytest.mark.parametrize("kind", ["ivf_flat", "hnsw"])
def test_quick_search_finds_near_copies(tmp_path: Path, kind: str) -> None:
    store = FaissStore(StoreSettings(path=str(tmp_path), exact_threshold=0, approximate=kind))
    store.ensure_collection("c", [SpaceSpec("v", 32)])
    vectors = _clustered(3000, 32)
    store.upsert("c", range(3000), {"v": vectors})
    rng = np.random.default_rng(5)
    copies = vectors[:200] + 0.1 * rng.normal(size=(200, 32)).astype(np.float32)  # cosine ~0.95
    found = store.nearest_ids("c", "v", copies, k=3)
    assert np.mean([i in row for i, row in enumerate(found.tolist())]) >= 0.98


def test_single_query_threads_leave_faiss_one_openmp_thread_there_only(tmp_path: Path) -> None:
    import threading

    import faiss

    store = FaissStore(StoreSettings(path=str(tmp_path)))
    store.ensure_collection("c", [SpaceSpec("v", 4)])
    store.upsert("c", [1, 2], {"v": np.eye(4)[:2]})
    seen: dict[str, object] = {}

    def serve() -> None:
        store.use_for_single_queries()
        seen["threads"] = faiss.omp_get_max_threads()
        seen["ids"] = store.search("c", "v", np.eye(4)[1], k=1)[0].ids

    before = faiss.omp_get_max_threads()
    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert seen == {"threads": 1, "ids": [2]}
    assert faiss.omp_get_max_threads() == before  # other threads keep theirs (for batches)
    store.close()
