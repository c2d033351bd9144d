"""FaissStore on a full disk (a tmpfs of the test's own): a flush that cannot write is one line
saying the disk is full and where, what was committed stays loadable, nothing half-written
becomes current, and the next flush after room is freed writes everything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from small_disk import fill, free

from anyseek.errors import WriteFailedError
from anyseek.search.stores import faiss_log
from anyseek.search.stores.base import SpaceSpec
from anyseek.search.stores.faiss_store import CURRENT, FaissStore
from anyseek.search.stores.segments import Pointer, pack_name
from anyseek.settings import StoreSettings

DIM = 64


def _store(path: Path) -> FaissStore:
    return FaissStore(StoreSettings(path=str(path)))


def _add(store: FaissStore, ids: range) -> None:
    vectors = np.random.default_rng(ids.start).normal(size=(len(ids), DIM)).astype(np.float32)
    store.upsert("c", list(ids), {"v": vectors}, [{"n": i} for i in ids])


def _current(path: Path) -> str:
    return (path / "c" / CURRENT).read_text()


def _reader_ids(path: Path) -> set[int]:
    """What a fresh process opening the folder finds."""
    reader = _store(path)
    ids = {int(i) for i in reader._get("c").payloads.ids()}
    reader.close()
    return ids


@pytest.mark.parametrize("segments", [False, True], ids=["pack", "segment"])
def test_a_flush_on_a_full_disk_fails_cleanly_and_the_next_one_writes_everything(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch, segments: bool
) -> None:
    if segments:  # a flush appends a segment instead of a whole pack
        monkeypatch.setattr(faiss_log, "SEGMENT_MIN_BASE", 0)
    path = small_disk / "faiss"
    store = _store(path)
    store.ensure_collection("c", [SpaceSpec("v", DIM)])
    _add(store, range(1, 101))
    store.flush()
    committed = _current(path)

    filler = fill(small_disk)
    _add(store, range(101, 301))
    for _ in range(2):  # a retry on a disk still full fails the same way
        with pytest.raises(WriteFailedError, match="the disk is full") as failed:
            store.flush()
        assert str(path / "c") in str(failed.value)
        assert "No space left on device" in str(failed.value)
    assert _current(path) == committed  # nothing half-written became current
    assert _reader_ids(path) == set(range(1, 101))  # and what was committed still loads

    free(filler)
    store.flush()
    assert _current(path) != committed
    assert _reader_ids(path) == set(range(1, 301))
    store.close()
    assert _reader_ids(path) == set(range(1, 301))


def test_a_pack_a_failed_flush_renamed_into_place_is_replaced(tmp_path: Path) -> None:
    """A flush that failed after renaming its pack, before ``CURRENT`` named it, left the
    folder behind: the next flush writes past it rather than failing on it forever."""
    path = tmp_path / "faiss"
    store = _store(path)
    store.ensure_collection("c", [SpaceSpec("v", DIM)])
    _add(store, range(1, 11))
    store.flush()
    committed = Pointer.parse(_current(path))
    number = int(committed.pack.rsplit("-", 1)[1])
    stale = path / "c" / pack_name(number + 1)
    stale.mkdir()
    (stale / "manifest.json").write_text("{}")  # half a pack, never current
    _add(store, range(11, 21))
    store.flush()
    assert Pointer.parse(_current(path)).pack == pack_name(number + 1)
    assert _reader_ids(path) == set(range(1, 21))
    store.close()
