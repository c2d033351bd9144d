"""FaissStore: the embedded default store, one FAISS index per (collection, space) on local disk.

On disk a collection is a folder of *generations*::

    <path>/<collection>/CURRENT            the committed generation, its segment count and
                                           the collection's epoch (``gen-00000007 3 5f0c9a…``)
    <path>/<collection>/gen-00000007/      manifest.json, payloads.jsonl,
                                                <space>.faiss, <space>.ids.npz per space,
                                                seg-000001.npz ... (changes since, in order)
    <path>/.aliases/<alias>                name of the collection the alias points at

A collection version is a collection of its own (``photos@v2``), so a folder per version; the
alias ``photos@current`` is a pointer file written atomically (temp file, fsync, rename).

``flush`` appends the changes since the last flush as one segment file (``search/stores/segments``)
and then atomically replaces ``CURRENT`` to count it (temp file, fsync, rename), so a flush costs
what changed, not the collection's size. When the segments hold many rows against the generation's
base (``COMPACT_SHARE``), a small collection, or an index was rebuilt, ``flush`` instead writes a
whole new generation into a temporary folder (unchanged files hard-linked from the previous one),
fsyncs it, renames it into place and replaces ``CURRENT``. A process killed at any point leaves the
previous state committed and loadable. Changes are durable from ``flush`` on; until then they live
in memory.

One process writes (it takes an exclusive lock on the folder at its first change); other processes
may open the same folder to read and pick up each newly committed generation.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import shutil
import threading
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

import faiss
import numpy as np

from anyseek.errors import NotFoundError, ServiceUnavailableError
from anyseek.settings import StoreSettings
from search.stores.base import (
    Filter,
    InvalidInputError,
    Payload,
    SearchHit,
    SearchResult,
    SpaceSpec,
    StoredItem,
    StoreHealth,
    VectorStore,
    check_ids,
    check_k,
    check_metadata_update,
    check_name,
    check_upsert,
    prepare_vectors,
    space_of,
)
from search.stores.durable import fsync_path, write_atomic
from search.stores.faiss_collection import LoadedCollection
from search.stores.faiss_files import (
    CURRENT,
    remove_stale_generations,
    save_ids,
    write_or_link,
)
from search.stores.faiss_index import IndexParams, SpaceIndex, first_kept, gpu_resources
from search.stores.payloads import PayloadTable
from search.stores.segments import (
    Op,
    Pointer,
    read_segment,
    segment_path,
    write_segment,
)
from search.stores.writer_lock import WriterBusyError, read_holder, record

log = logging.getLogger(__name__)

FORMAT = 2
READABLE_FORMATS = (1, 2)
"""Format 2 added segments and JSON Lines payloads; format 1 folders load unchanged."""
PAYLOADS = "payloads.jsonl"
LEGACY_PAYLOADS = "payloads.json"
SEGMENT_MIN_BASE = 20_000
"""Below this many items a flush rewrites the whole (small) generation instead of a segment."""
COMPACT_MIN_ROWS = 10_000
COMPACT_SHARE = 0.05
"""Write a whole generation once the segments would hold more rows than this share of the base
(and at least ``COMPACT_MIN_ROWS``): bounds the replay at load to a few seconds."""
LOCK = ".writer.lock"
ALIASES = ".aliases"  # one small file per alias holding its target's name, replaced atomically
MMAP_FLAGS = {
    "flat": faiss.IO_FLAG_MMAP_IFC,  # vectors mapped zero-copy
    "hnsw": faiss.IO_FLAG_MMAP_IFC,  # vectors mapped, graph read into memory
}
"""How each index kind is memory-mapped; mapped indexes are read-only until first written. IVF
kinds are read into memory: mapped, FAISS serves their lists through ``OnDiskInvertedLists``,
which made one 10-nearest search of 200k vectors 12x slower (3.4 ms against 0.29 ms)."""


class FaissStore(VectorStore):
    """Vector store on local FAISS indexes; see the module docstring for the on-disk layout."""

    backend = "faiss"

    def __init__(self, settings: StoreSettings) -> None:
        if settings.path is None or settings.path == ":memory:":
            raise InvalidInputError(
                f"the FAISS store needs a folder (ANYSEEK_STORE__PATH), got {settings.path!r}"
            )
        self.root = Path(settings.path)
        self.params = IndexParams(
            exact_threshold=settings.exact_threshold,
            approximate=settings.approximate,
            hnsw_m=settings.hnsw_m,
            hnsw_ef_construct=settings.hnsw_ef_construct,
            hnsw_ef_search=settings.hnsw_ef_search,
            ivf_nlist=settings.ivf_nlist,
            ivf_nprobe=settings.ivf_nprobe,
        )
        self.mmap = settings.faiss_mmap
        self.post_filter_share = settings.faiss_post_filter_share
        self.gpu, self.device = gpu_resources(settings.faiss_gpu)
        self._lock = threading.RLock()
        self._writer: IO[str] | None = None
        self._loaded: dict[str, LoadedCollection] = {}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ServiceUnavailableError(
                f"cannot create FAISS folder {self.root}: {exc}"
            ) from None

    # --- collections -----------------------------------------------------------------------

    def _exclusive(self, action: str) -> AbstractContextManager[object]:
        """The store's lock: one thread at a time creates or loads collections."""
        return self._lock

    def _create_collection(self, name: str, spaces: tuple[SpaceSpec, ...]) -> None:
        """Create the collection's folder and commit its first (empty) generation at once."""
        self._take_writer_lock()
        indexes = {s.name: self._new_index(s) for s in spaces}
        coll = LoadedCollection(
            name, self.root / name, spaces, indexes, PayloadTable(), epoch=uuid.uuid4().hex[:12]
        )
        coll.folder.mkdir(parents=True, exist_ok=True)
        self._loaded[name] = coll
        self._commit(coll)

    def collections(self) -> list[str]:
        """Collections with a committed generation on disk, plus any not yet flushed."""
        on_disk = {p.name for p in self.root.iterdir() if (p / CURRENT).is_file()}
        return sorted(on_disk | set(self._loaded))

    def spaces(self, collection: str) -> tuple[SpaceSpec, ...]:
        """The spaces of a collection."""
        with self._lock:
            return self._get(collection).spaces

    def drop(self, collection: str) -> None:
        """Delete a collection's folder (renamed away first, so a crash cannot half-delete it)."""
        check_name("collection", collection)
        with self._lock:
            self._take_writer_lock()
            self._loaded.pop(collection, None)
            folder = self.root / collection
            if folder.exists():
                trash = self.root / f".dropped-{collection}-{os.getpid()}"
                os.replace(folder, trash)
                fsync_path(self.root)
                shutil.rmtree(trash, ignore_errors=True)

    def claim_writer(self) -> None:
        """Take the folder's writer lock now (a :class:`WriterBusyError` naming its holder)."""
        with self._lock:
            self._take_writer_lock()

    def set_alias(self, alias: str, collection: str) -> None:
        """Write the alias's pointer file atomically: readers see the old or the new target."""
        check_name("alias", alias)
        check_name("collection", collection)
        with self._lock:
            self._take_writer_lock()
            folder = self.root / ALIASES
            folder.mkdir(exist_ok=True)
            write_atomic(folder / alias, collection)

    def alias_target(self, alias: str) -> str | None:
        """The pointer file's content, None without one."""
        check_name("alias", alias)
        try:
            return (self.root / ALIASES / alias).read_text().strip() or None
        except FileNotFoundError:
            return None

    def delete_alias(self, alias: str) -> None:
        """Remove the pointer file."""
        check_name("alias", alias)
        with self._lock:
            self._take_writer_lock()
            with contextlib.suppress(FileNotFoundError):
                (self.root / ALIASES / alias).unlink()
                fsync_path(self.root / ALIASES)

    # --- items -----------------------------------------------------------------------------

    def upsert(
        self,
        collection: str,
        ids: Sequence[int],
        vectors: Mapping[str, np.ndarray],
        payloads: Sequence[Payload] | None = None,
    ) -> None:
        """Insert or replace whole items (validated in full before anything changes)."""
        with self._lock:
            coll = self._get(collection)
            id_array, prepared, payload_list = check_upsert(
                coll.spaces, collection, ids, vectors, payloads
            )
            if len(id_array):
                self._record(collection, Op("upsert", id_array, prepared, payload_list))

    def set_metadata(
        self, collection: str, ids: Sequence[int], metadata: Sequence[Mapping[str, Any]]
    ) -> None:
        """Replace the ``metadata`` object of existing items (durable from the next flush)."""
        with self._lock:
            self._get(collection)  # an unknown collection fails before the values are checked
            id_array, values = check_metadata_update(ids, metadata)
            if len(id_array):
                self._record(collection, Op("metadata", id_array, {}, values))

    def delete(self, collection: str, ids: Sequence[int]) -> None:
        """Remove items by id from the payloads and every space."""
        with self._lock:
            self._get(collection)
            id_array = check_ids(ids, unique=False)
            if len(id_array):
                self._record(collection, Op("delete", id_array))

    def _record(self, collection: str, op: Op) -> None:
        """Make a validated change as the folder's writer, on the collection as last committed."""
        self._take_writer_lock()
        self._get(collection).record(op)

    def retrieve(
        self,
        collection: str,
        ids: Sequence[int],
        with_vectors: bool = True,
        with_payload: bool = True,
    ) -> list[StoredItem]:
        """Stored items in the order asked; unknown ids are left out."""
        with self._lock:
            coll = self._get(collection)
            id_array = check_ids(ids, unique=False)
            found = [int(i) for i in id_array if int(i) in coll.payloads]
            per_space = {
                name: index.vectors_of(np.array(found, np.int64)) if with_vectors else {}
                for name, index in coll.indexes.items()
            }
            return [
                StoredItem(
                    item,
                    {name: rows[item] for name, rows in per_space.items() if item in rows},
                    coll.payloads.get(item) if with_payload else {},
                )
                for item in found
            ]

    def count(self, collection: str) -> int:
        """Number of items."""
        with self._lock:
            return len(self._get(collection).payloads)

    def search(
        self,
        collection: str,
        space: str,
        queries: np.ndarray,
        k: int = 10,
        filter: Filter | None = None,
        with_payload: bool = True,
    ) -> list[SearchResult]:
        """The k best items per query, best first, optionally among items matching a filter."""
        k = check_k(k)
        with self._lock:
            coll = self._get(collection)
            spec = space_of(coll.spaces, collection, space)
            matrix = prepare_vectors(spec, queries)
            index = coll.indexes[space]
            scores, labels = self._filtered_search(coll, index, matrix, k, filter)
            payload_of = coll.payloads.get if with_payload else _no_payload
            return [  # tolist() first: Python numbers in one call, not one numpy scalar per hit
                SearchResult(
                    tuple(
                        SearchHit(item, score, payload_of(item))
                        for score, item in zip(row_scores, row_ids, strict=True)
                        if item >= 0
                    )
                )
                for row_scores, row_ids in zip(scores.tolist(), labels.tolist(), strict=True)
            ]

    def use_for_single_queries(self) -> None:
        """One OpenMP thread for FAISS on the calling thread: a single query's search is not
        split across threads anyway, and FAISS's own OpenMP team (its wheel bundles its own
        runtime) idled beside the model's on the server's 2 cores (store stage 3.0-3.8 ms against
        1.1 ms in a quiet process at 10k). Other threads keep theirs for batches."""
        faiss.omp_set_num_threads(1)

    def nearest_ids(self, collection: str, space: str, queries: np.ndarray, k: int) -> np.ndarray:
        """Ids of about the k nearest items per query, from a quick (fewer cells) search."""
        k = check_k(k)
        with self._lock:
            coll = self._get(collection)
            matrix = prepare_vectors(space_of(coll.spaces, collection, space), queries)
            index = coll.indexes[space]
            found = index.quick_search(matrix, min(k, max(index.size, 1)))
        out = np.full((len(matrix), k), -1, np.int64)
        out[:, : found.shape[1]] = found
        return out

    def _filtered_search(
        self,
        coll: LoadedCollection,
        index: SpaceIndex,
        matrix: np.ndarray,
        k: int,
        filter: Filter | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids (-1 = none) of the k best matching items per query.

        A filter that most items pass is a post-filter: an unfiltered search over-fetched by the
        inverse of its share, non-matching hits dropped; rows left short of k (and a selective
        filter from the start) are a pre-filter: the search restricted to the matching ids.
        """
        k = min(k, max(index.size, 1))
        if filter is None:
            return index.search(matrix, k)
        share = coll.payloads.share(filter) if self.post_filter_share < 1 else 0.0
        if share >= self.post_filter_share and share > 0:
            fetch = min(index.size, math.ceil(2 * k / share) + k)
            scores, labels = index.search(matrix, fetch)
            keep = np.array(
                [
                    [i >= 0 and coll.payloads.accepts(i, filter) for i in row]
                    for row in labels.tolist()
                ]
            ).reshape(labels.shape)
            if fetch >= index.size or keep.sum(axis=1).min() >= k:
                return first_kept(scores, labels, keep, k)
        return index.search(matrix, k, coll.payloads.matching(filter))

    # --- durability ------------------------------------------------------------------------

    def flush(self) -> None:
        """Make every change since the last flush durable: a segment, or a whole generation."""
        with self._lock:
            for coll in self._loaded.values():
                if coll.dirty:
                    self._save(coll)

    def close(self) -> None:
        """Flush, then release the writer lock."""
        with self._lock:
            self.flush()
            self._loaded.clear()
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def health(self) -> StoreHealth:
        """Ready when the folder is writable (or readable, for a reader process)."""
        ok = os.access(self.root, os.R_OK | os.X_OK) and (
            self._writer is not None or os.access(self.root, os.W_OK)
        )
        detail = f"{self.root} ({self.device})" if ok else f"{self.root} is not accessible"
        return StoreHealth(ok, self.backend, detail)

    def _save(self, coll: LoadedCollection) -> None:
        """Flush one collection: a segment, or a whole generation when that is due (a small
        collection, many segment rows against the base, or an index rebuilt since the base)."""
        rows = sum(op.rows for op in coll.journal)
        limit = max(COMPACT_MIN_ROWS, COMPACT_SHARE * coll.base_count)
        rebuilt = any(index.rebuilt for index in coll.indexes.values())
        if rebuilt or coll.base_count < SEGMENT_MIN_BASE or coll.segment_rows + rows > limit:
            self._commit(coll)
        else:
            self._append(coll, rows)

    def _append(self, coll: LoadedCollection, rows: int) -> None:
        """Write the journal as the generation's next segment, then count it in ``CURRENT``."""
        self._take_writer_lock()
        number = coll.segments + 1
        folder = coll.folder / coll.pointer.generation
        write_segment(segment_path(folder, number), coll.journal)
        write_atomic(coll.folder / CURRENT, str(Pointer(folder.name, number, coll.epoch)))
        coll.segments, coll.segment_rows = number, coll.segment_rows + rows
        coll.journal.clear()

    def _commit(self, coll: LoadedCollection) -> None:
        """Write the collection as generation n+1 and make it current, crash-safely."""
        self._take_writer_lock()
        number = coll.generation + 1
        final = coll.folder / f"gen-{number:08d}"
        tmp = coll.folder / f".tmp-gen-{number:08d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        files: dict[str, Path] = {}
        for name, index in coll.indexes.items():
            for suffix, write in (
                (".faiss", lambda p, ix=index: faiss.write_index(ix.index, str(p))),
                (".ids.npz", lambda p, ix=index: save_ids(p, ix)),
            ):
                files[name + suffix] = write_or_link(
                    tmp / (name + suffix), coll.files.get(name + suffix), index.dirty, write
                )
        previous_payloads = coll.files.get("payloads")
        files["payloads"] = write_or_link(
            tmp / (previous_payloads.name if previous_payloads is not None else PAYLOADS),
            previous_payloads,
            coll.payloads.dirty,
            coll.payloads.save,
        )
        manifest = {
            "format": FORMAT,
            "generation": number,
            "count": len(coll.payloads),
            "spaces": [
                {
                    "name": s.name,
                    "dim": s.dim,
                    "metric": s.metric,
                    "kind": coll.indexes[s.name].kind,
                    "trained_at": coll.indexes[s.name].trained_at,
                    "size": coll.indexes[s.name].size,
                }
                for s in coll.spaces
            ],
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        fsync_path(tmp / "manifest.json")
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(coll.folder)
        write_atomic(coll.folder / CURRENT, str(Pointer(final.name, 0, coll.epoch)))
        previous = coll.generation
        coll.generation = number
        coll.files = {key: final / path.name for key, path in files.items()}
        for name, index in coll.indexes.items():
            index.dirty = False
            if index.mapped_from is not None:
                index.mapped_from = coll.files[name + ".faiss"]
        coll.payloads.dirty = False
        coll.journal.clear()
        coll.segments = coll.segment_rows = 0
        coll.base_count = len(coll.payloads)
        for index in coll.indexes.values():
            index.rebuilt = False
        if previous:
            shutil.rmtree(coll.folder / f"gen-{previous:08d}", ignore_errors=True)

    # --- loading ---------------------------------------------------------------------------

    def _get(self, name: str) -> LoadedCollection:
        """A loaded collection, (re)loading it when another process committed a newer one."""
        check_name("collection", name)
        coll = self._loaded.get(name)
        if coll is not None and (self._writer is not None or coll.dirty):
            return coll
        for attempt in range(3):
            try:
                committed = Pointer.parse((self.root / name / CURRENT).read_text())
            except FileNotFoundError:
                if coll is not None:
                    return coll
                target = self.alias_target(name)
                if target is not None and target != name:
                    return self._get(target)
                raise NotFoundError(f"no collection named {name!r}") from None
            try:
                return self._catch_up(name, coll, committed)
            except FileNotFoundError:  # the writer compacted meanwhile: read CURRENT again
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _catch_up(
        self, name: str, coll: LoadedCollection | None, committed: Pointer
    ) -> LoadedCollection:
        """The collection as ``CURRENT`` says: loaded afresh for another generation, or the
        loaded one with the segments committed since replayed on it."""
        if coll is None or (committed.generation, committed.epoch) != (
            coll.pointer.generation,
            coll.epoch,
        ):
            coll = self._load(name, self.root / name / committed.generation)
            coll.epoch = committed.epoch
            self._loaded[name] = coll
        self._replay(coll, committed.segments)
        return coll

    def _replay(self, coll: LoadedCollection, upto: int) -> None:
        """Apply the generation's segments after those already applied, up to ``upto``."""
        folder = coll.folder / coll.pointer.generation
        for number in range(coll.segments + 1, upto + 1):
            ops = read_segment(segment_path(folder, number))
            for op in ops:
                coll.apply(op)
            coll.segments, coll.segment_rows = number, coll.segment_rows + sum(o.rows for o in ops)

    def _load(self, name: str, folder: Path) -> LoadedCollection:
        """Read a committed generation's base files, memory-mapping index files where FAISS
        allows (its segments are replayed by the caller)."""
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("format") not in READABLE_FORMATS:
            raise ServiceUnavailableError(
                f"{folder} has store format {manifest.get('format')}, this anyseek reads {FORMAT}"
            )
        spaces, indexes, files = [], {}, {}
        for entry in manifest["spaces"]:
            spec = SpaceSpec(entry["name"], entry["dim"], entry["metric"])
            path = folder / f"{spec.name}.faiss"
            mapped = self.mmap and entry["kind"] in MMAP_FLAGS
            flags = MMAP_FLAGS[entry["kind"]] | faiss.IO_FLAG_READ_ONLY if mapped else 0
            with np.load(folder / f"{spec.name}.ids.npz") as ids:
                labels, alive = ids["labels"], ids["alive"]
            indexes[spec.name] = SpaceIndex(
                spec,
                self.params,
                faiss.read_index(str(path), flags),
                labels,
                alive,
                kind=entry["kind"],
                trained_at=entry["trained_at"],
                mapped_from=path if mapped else None,
                gpu=self.gpu,
            )
            spaces.append(spec)
            files[spec.name + ".faiss"] = path
            files[spec.name + ".ids.npz"] = folder / f"{spec.name}.ids.npz"
        files["payloads"] = next(
            (p for p in (folder / PAYLOADS, folder / LEGACY_PAYLOADS) if p.exists()),
            folder / PAYLOADS,
        )
        payloads = PayloadTable.load(files["payloads"])
        return LoadedCollection(
            name,
            folder.parent,
            tuple(spaces),
            indexes,
            payloads,
            generation=manifest["generation"],
            files=files,
            base_count=len(payloads),
        )

    def _new_index(self, spec: SpaceSpec) -> SpaceIndex:
        index = SpaceIndex(spec, self.params, gpu=self.gpu)
        index.dirty = True
        return index

    def _take_writer_lock(self) -> None:
        """Become the folder's single writer, or fail clearly if another process is."""
        if self._writer is not None:
            return
        handle = open(self.root / LOCK, "a+")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise WriterBusyError(self.root, read_holder(self.root / LOCK)) from None
        record(handle)  # who writes, for a process refused the lock (search.stores.writer_lock)
        self._writer = handle
        # what this process loaded as a reader may predate another writer's last commit: bring
        # it up to date, replaying only the segments committed since (a whole 1M collection
        # took 18-50 s to read again); nothing is unflushed yet, every change is made under
        # this lock
        for name, coll in list(self._loaded.items()):
            try:
                committed = Pointer.parse((self.root / name / CURRENT).read_text())
            except FileNotFoundError:  # dropped meanwhile
                del self._loaded[name]
                continue
            self._catch_up(name, coll, committed)
        for folder in self.root.iterdir():  # leftovers of a writer killed mid-save or mid-drop
            if folder.name.startswith(".dropped-"):
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.is_dir():
                remove_stale_generations(folder)


def _no_payload(_: int) -> Payload:
    """The payload of a hit asked for without payloads: empty."""
    return {}
