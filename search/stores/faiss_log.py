"""The segment log of a FAISS collection: how a flush commits changes and how a process catches
up with what was committed.

``CURRENT`` names the committed pack and how many of its segments count. A flush appends
the changes since the last one as the next segment (``search/stores/segments``) and then replaces
``CURRENT`` to count it, so it costs what changed, not the collection's size. When the segments
would hold many rows against the pack (``COMPACT_SHARE``), the collection is small,
or an index was rebuilt, the flush instead writes a whole pack n+1 into a temporary folder
(``search/stores/faiss_files``), renames it into place and replaces ``CURRENT`` (compaction). A
process killed at any point leaves the previous state committed and loadable.

Catching up is the other side: a pack is read afresh when ``CURRENT`` names another one
(or the collection was made again), otherwise only the segments committed since are replayed.
The caller holds the folder's writer lock for every write here. A flush that failed part way
(a full disk) leaves ``CURRENT`` as it was, or, if it failed after replacing it, ahead of this
process: the next flush numbers its pack or segment past both, so it never writes into a
folder or file that ``CURRENT`` counts, nor renames onto one a failed flush left.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from anyseek.search.stores.durable import fsync_path, write_atomic
from anyseek.search.stores.faiss_collection import LoadedCollection
from anyseek.search.stores.faiss_files import (
    CURRENT,
    read_pack,
    remove_stale_packs,
    write_pack,
)
from anyseek.search.stores.faiss_index import IndexSetup
from anyseek.search.stores.segments import (
    Pointer,
    pack_name,
    pack_number_of,
    read_segment,
    segment_path,
    write_segment,
)

SEGMENT_MIN_BASE = 20_000
"""Below this many items a flush rewrites the whole (small) pack instead of a segment."""
COMPACT_MIN_ROWS = 10_000
COMPACT_SHARE = 0.05
"""Write a whole pack once the segments would hold more rows than this share of the base
(and at least ``COMPACT_MIN_ROWS``): bounds the replay at load to a few seconds."""


def read_pointer(folder: Path) -> Pointer:
    """What a collection folder's ``CURRENT`` says (FileNotFoundError without one)."""
    return Pointer.parse((folder / CURRENT).read_text())


def flush(coll: LoadedCollection) -> None:
    """Make the collection's changes durable: a segment, or a whole pack when that is due
    (a small collection, many segment rows against the base, or an index rebuilt since it)."""
    rows = sum(op.rows for op in coll.journal)
    limit = max(COMPACT_MIN_ROWS, COMPACT_SHARE * coll.base_count)
    rebuilt = any(index.rebuilt for index in coll.indexes.values())
    if rebuilt or coll.base_count < SEGMENT_MIN_BASE or coll.segment_rows + rows > limit:
        commit(coll)
    else:
        append(coll)


def on_disk(coll: LoadedCollection) -> Pointer | None:
    """What the collection's ``CURRENT`` says now (None before its first commit)."""
    try:
        return read_pointer(coll.folder)
    except FileNotFoundError:
        return None


def append(coll: LoadedCollection) -> None:
    """Write the journal as the pack's next segment, then count it in ``CURRENT`` (past
    a segment a failed flush counted there: replaying changes twice gives the same items)."""
    number = coll.segments + 1
    disk = on_disk(coll)
    if disk is not None and (disk.pack, disk.epoch) == (coll.pointer.pack, coll.epoch):
        number = max(number, disk.segments + 1)
    folder = coll.folder / coll.pointer.pack
    write_segment(segment_path(folder, number), coll.journal)
    write_atomic(coll.folder / CURRENT, str(Pointer(folder.name, number, coll.epoch)))
    coll.appended(number)


def commit(coll: LoadedCollection) -> None:
    """Write the collection as its next pack and make it current, crash-safely; the
    packs ``CURRENT`` no longer names are removed."""
    disk = on_disk(coll)
    number = max(coll.pack_number, pack_number_of(disk.pack) if disk else 0) + 1
    final = coll.folder / pack_name(number)
    tmp = coll.folder / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)  # renamed by a flush that failed before CURRENT
    tmp.mkdir()
    files = write_pack(coll, tmp, number)
    fsync_path(tmp)
    os.replace(tmp, final)
    fsync_path(coll.folder)
    write_atomic(coll.folder / CURRENT, str(Pointer(final.name, 0, coll.epoch)))
    coll.committed(number, {key: final / path.name for key, path in files.items()})
    remove_stale_packs(coll.folder)  # the previous one, and any a failed flush left


def catch_up(
    folder: Path, coll: LoadedCollection | None, committed: Pointer, setup: IndexSetup
) -> LoadedCollection:
    """The collection in ``folder`` as ``committed`` says: read afresh for another pack
    (or epoch), or ``coll`` with the segments committed since replayed on it."""
    if coll is None or (committed.pack, committed.epoch) != (
        coll.pointer.pack,
        coll.epoch,
    ):
        coll = read_pack(folder / committed.pack, setup)
        coll.epoch = committed.epoch
    replay(coll, committed.segments)
    return coll


def replay(coll: LoadedCollection, upto: int) -> None:
    """Apply the pack's segments after those already applied, up to ``upto``."""
    folder = coll.folder / coll.pointer.pack
    for number in range(coll.segments + 1, upto + 1):
        coll.replayed(number, read_segment(segment_path(folder, number)))
