"""FaissStore's append-only segments: a flush writes what changed, loading replays it exactly,
compaction writes a whole pack, and a writer killed at any point leaves a committed state."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from anyseek.search.stores import faiss_log
from anyseek.search.stores.base import Filter, SpaceSpec
from anyseek.search.stores.faiss_store import CURRENT, FaissStore
from anyseek.search.stores.segments import Pointer
from anyseek.settings import StoreSettings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def segmented(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments from the first flush on; a whole pack once they hold 40 rows."""
    monkeypatch.setattr(faiss_log, "SEGMENT_MIN_BASE", 0)
    monkeypatch.setattr(faiss_log, "COMPACT_MIN_ROWS", 40)


def _store(path: Path, **settings: object) -> FaissStore:
    return FaissStore(StoreSettings(path=str(path), **settings))


def _vectors(n: int, seed: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _pointer(path: Path) -> Pointer:
    """What ``CURRENT`` says of collection c, less its epoch (random per collection)."""
    committed = Pointer.parse((path / "c" / CURRENT).read_text())
    assert len(committed.epoch) == 12
    return Pointer(committed.pack, committed.segments)


def _snapshot(store: FaissStore, queries: np.ndarray) -> tuple:
    """Everything a reader can see of collection c: items, payloads, vectors and searches."""
    ids = sorted(int(i) for i in store._get("c").payloads.ids())
    items = [(i.id, i.payload, i.vectors["v"].round(6).tolist()) for i in store.retrieve("c", ids)]
    hits = [[(h.id, round(h.score, 5)) for h in r.hits] for r in store.search("c", "v", queries, 5)]
    tagged = store.search("c", "v", queries[:1], 5, Filter(equals={"metadata.tag": "keep"}))
    return items, hits, tagged[0].ids


def test_flushes_append_segments_and_loading_replays_them(tmp_path: Path, segmented) -> None:
    store = _store(tmp_path)
    store.ensure_collection("c", [SpaceSpec("v", 8)])
    store.upsert("c", range(10), {"v": _vectors(10, 0)}, [{"n": i} for i in range(10)])
    store.flush()
    assert _pointer(tmp_path) == Pointer("gen-00000001", 1)  # base of the empty collection + 1
    store.upsert("c", range(5, 15), {"v": _vectors(10, 1)}, [{"n": -i} for i in range(10)])
    store.delete("c", [0, 7, 99])
    store.set_metadata("c", [1, 2], [{"tag": "keep"}, {"tag": "drop"}])
    store.upsert("c", [7], {"v": _vectors(1, 2)})  # back after its deletion, in the same flush
    store.flush()
    store.flush()  # nothing changed: no segment
    assert _pointer(tmp_path) == Pointer("gen-00000001", 2)
    pack = tmp_path / "c" / "gen-00000001"
    assert sorted(p.name for p in pack.glob("seg-*")) == ["seg-000001.npz", "seg-000002.npz"]
    queries = _vectors(3, 9)
    expected = _snapshot(store, queries)
    store.close()
    reloaded = _store(tmp_path)
    assert _snapshot(reloaded, queries) == expected
    assert reloaded.count("c") == 14 and reloaded.retrieve("c", [7])[0].payload == {}
    reloaded.close()


def test_enough_segment_rows_write_a_whole_pack(tmp_path: Path, segmented) -> None:
    store = _store(tmp_path)
    store.ensure_collection("c", [SpaceSpec("v", 8)])
    for step in range(5):  # 10 rows a flush; the fifth would bring the segments past 40
        ids = range(10 * step, 10 * step + 10)
        store.upsert("c", ids, {"v": _vectors(10, step)}, [{"step": step}] * 10)
        store.flush()
    assert _pointer(tmp_path) == Pointer("gen-00000002", 0)
    assert [p.name for p in (tmp_path / "c").iterdir() if p.name.startswith("gen-")] == [
        "gen-00000002"
    ]
    store.upsert("c", [100], {"v": _vectors(1, 7)})
    store.flush()
    assert _pointer(tmp_path) == Pointer("gen-00000002", 1)  # segments again on the new base
    store.close()
    assert _store(tmp_path).count("c") == 51


def test_small_collections_and_rebuilds_rewrite_the_pack(tmp_path: Path) -> None:
    store = _store(tmp_path, exact_threshold=30)
    store.ensure_collection("c", [SpaceSpec("v", 8)])
    store.upsert("c", range(10), {"v": _vectors(10, 0)})
    store.flush()  # below SEGMENT_MIN_BASE: a whole pack, as before segments
    assert _pointer(tmp_path) == Pointer("gen-00000002", 0)
    faiss_log.SEGMENT_MIN_BASE, saved = 0, faiss_log.SEGMENT_MIN_BASE
    try:
        store.upsert("c", range(10, 40), {"v": _vectors(30, 1)})  # crosses 30: rebuilt as IVF
        assert store._get("c").indexes["v"].rebuilt
        store.flush()
    finally:
        faiss_log.SEGMENT_MIN_BASE = saved
    assert _pointer(tmp_path) == Pointer("gen-00000003", 0)
    store.close()
    manifest = json.loads((tmp_path / "c" / "gen-00000003" / "manifest.json").read_text())
    assert manifest["spaces"][0]["kind"] == "ivf_flat"


def test_a_reader_replays_only_the_new_segments(tmp_path: Path, segmented) -> None:
    writer = _store(tmp_path)
    writer.ensure_collection("c", [SpaceSpec("v", 8)])
    reader = _store(tmp_path)
    vectors = _vectors(30, 0)
    writer.upsert("c", range(10), {"v": vectors[:10]})
    writer.flush()
    assert reader.count("c") == 10
    loaded = reader._loaded["c"]
    writer.upsert("c", range(10, 30), {"v": vectors[10:]})
    writer.delete("c", [3])
    writer.flush()
    assert reader.count("c") == 29
    assert reader._loaded["c"] is loaded and loaded.segments == 2  # caught up, not reloaded
    assert reader.search("c", "v", vectors[25], k=1)[0].ids == [25]
    writer.close()


def test_a_folder_written_before_segments_still_loads(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.ensure_collection("c", [SpaceSpec("v", 8)])
    vectors = _vectors(20, 0)
    store.upsert("c", range(20), {"v": vectors}, [{"n": i, "tag": "x"} for i in range(20)])
    store.close()
    pack = tmp_path / "c" / "gen-00000002"
    manifest = json.loads((pack / "manifest.json").read_text())
    (pack / "manifest.json").write_text(json.dumps(manifest | {"format": 1}))
    legacy = [[i, {"n": i, "tag": "x"}] for i in range(20)]  # format 1: one JSON array
    (pack / "payloads.jsonl").unlink()
    (pack / "payloads.json").write_text(json.dumps(legacy))
    old = _store(tmp_path)
    assert old.count("c") == 20 and old.retrieve("c", [4])[0].payload == {"n": 4, "tag": "x"}
    assert old.search("c", "v", vectors[4], k=1, filter=Filter(equals={"n": 4}))[0].ids == [4]
    old.upsert("c", [20], {"v": vectors[0]}, [{"n": 20}])
    old.close()
    assert _store(tmp_path).retrieve("c", [20])[0].payload == {"n": 20}


_SEGMENTS_IN_A_LOOP = """
import sys
import numpy as np
from anyseek.search.stores import faiss_log
from anyseek.settings import StoreSettings
from anyseek.search.stores.base import SpaceSpec
from anyseek.search.stores.faiss_store import FaissStore

# segments, and a compaction every 10 flushes
faiss_log.SEGMENT_MIN_BASE, faiss_log.COMPACT_MIN_ROWS = 0, 500
store = FaissStore(StoreSettings(path=sys.argv[1]))
store.ensure_collection("c", [SpaceSpec("v", 16)])
known = store._get("c").payloads.ids()
start = int(known.max()) + 1 if len(known) else 0
rng = np.random.default_rng(start)
print("READY", flush=True)
for step in range(100_000):
    ids = range(start + 50 * step, start + 50 * (step + 1))
    store.upsert("c", ids, {"v": rng.normal(size=(50, 16))}, [{"step": step}] * 50)
    store.delete("c", [start + 50 * step])  # every batch's first item goes again
    store.flush()
"""


def test_random_kills_during_segments_leave_a_whole_committed_state(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(4):
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_SEGMENTS_IN_A_LOOP), str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout.readline().strip() == "READY"
        time.sleep(float(rng.uniform(0.3, 1.0)))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        store = _store(tmp_path)
        count = store.count("c")
        assert count % 49 == 0  # whole flushes only: 50 added, 1 deleted each
        ids = store._get("c").payloads.ids()
        if count:
            last = int(ids.max())
            [hit] = store.search("c", "v", store.retrieve("c", [last])[0].vectors["v"], k=1)[0].hits
            assert hit.id == last and hit.payload == store.retrieve("c", [last])[0].payload
        store.close()


def test_segments_not_counted_in_current_are_ignored_and_removed(tmp_path: Path, segmented) -> None:
    store = _store(tmp_path)
    store.ensure_collection("c", [SpaceSpec("v", 8)])
    store.upsert("c", range(5), {"v": _vectors(5, 0)})
    store.flush()
    store.upsert("c", range(5, 8), {"v": _vectors(3, 1)})
    store.flush()
    store.close()
    # as if killed after writing segment 2 but before CURRENT counted it, and amid segment 3
    (tmp_path / "c" / CURRENT).write_text("gen-00000001 1")
    folder = tmp_path / "c" / "gen-00000001"
    (folder / ".seg-000003.npz.tmp").write_bytes(b"half a segment")
    assert _store(tmp_path).count("c") == 5
    writer = _store(tmp_path)
    writer.upsert("c", [50], {"v": _vectors(1, 2)})  # the new writer clears the leftovers
    assert sorted(p.name for p in folder.iterdir() if "seg" in p.name) == ["seg-000001.npz"]
    writer.close()
    assert _store(tmp_path).count("c") == 6


def test_a_process_that_read_first_writes_on_top_of_another_writers_commit(
    tmp_path: Path, segmented, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _store(tmp_path)
    first.ensure_collection("c", [SpaceSpec("v", 8)])
    first.upsert("c", range(5), {"v": _vectors(5, 0)})
    first.close()
    reader = _store(tmp_path)
    assert reader.count("c") == 5  # loaded while another process still writes
    other = _store(tmp_path)
    other.upsert("c", range(5, 9), {"v": _vectors(4, 1)})  # a segment the reader has not seen
    other.close()
    loads = _count_loads(monkeypatch)
    reader.upsert("c", [100], {"v": _vectors(1, 2)})  # now the writer: it catches up first
    assert loads == []  # by replaying the other writer's segment, not reading the base again
    reader.close()
    assert _store(tmp_path).count("c") == 10  # nobody's segment was overwritten


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pack folders read from now on (the real loader, recorded)."""
    loads: list[str] = []
    read = faiss_log.read_pack

    def recorded(folder: Path, setup):
        loads.append(folder.name)
        return read(folder, setup)

    monkeypatch.setattr(faiss_log, "read_pack", recorded)
    return loads


def test_a_reader_sees_a_collection_another_process_dropped_and_made_again(
    tmp_path: Path, segmented
) -> None:
    first = _store(tmp_path)
    first.ensure_collection("c", [SpaceSpec("v", 8)])
    first.upsert("c", range(5), {"v": _vectors(5, 0)}, [{"old": i} for i in range(5)])
    first.close()
    reader = _store(tmp_path)
    assert reader.count("c") == 5
    other = _store(tmp_path)
    other.drop("c")
    other.ensure_collection("c", [SpaceSpec("v", 8)])  # the same pack name, a new folder
    other.upsert("c", [7, 8, 9], {"v": _vectors(3, 1)}, [{"new": i} for i in range(3)])
    other.close()
    assert _pointer(tmp_path).pack == "gen-00000001"
    assert reader.count("c") == 3  # read afresh, not old items with the new segments on top
    assert [i.payload for i in reader.retrieve("c", [0, 7])] == [{"new": 0}]


def test_a_reader_whose_pack_is_replaced_under_it_reads_current_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the race the multi-host bed hit under 16 clients and a 4,000-image job: a reader read
    # CURRENT, the writer committed a new pack and removed the old one, and the reader's
    # read of the old one's index file raised a RuntimeError from FAISS (a 500)
    writer = _store(tmp_path)
    writer.ensure_collection("c", [SpaceSpec("v", 8)])
    vectors = _vectors(20, 0)
    writer.upsert("c", range(10), {"v": vectors[:10]})
    writer.flush()
    stale = faiss_log.read_pointer(tmp_path / "c")
    old = tmp_path / "c" / stale.pack
    shutil.copytree(old, tmp_path / "old")
    writer.upsert("c", range(10, 20), {"v": vectors[10:]})
    writer.flush()
    assert not old.exists()  # a new pack replaced it
    shutil.copytree(tmp_path / "old", old)  # caught half-removed: manifest and ids still there,
    (old / "v.faiss").unlink()  # the index file gone
    reads = iter([stale])  # the reader's first read of CURRENT came just before that
    real = faiss_log.read_pointer
    monkeypatch.setattr(faiss_log, "read_pointer", lambda folder: next(reads, None) or real(folder))
    reader = _store(tmp_path)
    assert reader.count("c") == 20
    assert reader.search("c", "v", vectors[15], k=1)[0].ids == [15]
    writer.close()
