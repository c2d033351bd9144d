"""FaissStore: the embedded default store, one FAISS index per (collection, space) on local disk.

On disk a collection is a folder of *packs*::

    <path>/<collection>/CURRENT            the committed pack, its segment count and
                                           the collection's epoch (``gen-00000007 3 5f0c9a…``)
    <path>/<collection>/gen-00000007/      manifest.json, payloads.jsonl,
                                                <space>.faiss, <space>.ids.npz per space,
                                                seg-000001.npz ... (changes since, in order)
    <path>/.aliases/<alias>                name of the collection the alias points at

A collection version is a collection of its own (``photos@v2``), so a folder per version; the
alias ``photos@current`` is a pointer file written atomically (temp file, fsync, rename).

``flush`` appends the changes since the last flush as one segment file, or writes a whole new
pack when that is due (``search/stores/faiss_log``: the commit protocol; ``faiss_files``:
the pack's files; ``segments``: the segment files). A process killed at any point leaves the
previous state committed and loadable. Changes are durable from ``flush`` on; until then they live
in memory. Each collection's indexes (``faiss_index``) and payloads (``payloads``) are held and
searched together by ``faiss_collection``.

One process writes (it takes an exclusive lock on the folder at its first change); other processes
may open the same folder to read and pick up each newly committed pack.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

import faiss
import numpy as np

from anyseek.errors import NotFoundError, ServiceUnavailableError, write_failed
from anyseek.search.stores import base, faiss_log
from anyseek.search.stores.durable import fsync_path, write_atomic
from anyseek.search.stores.faiss_collection import LoadedCollection
from anyseek.search.stores.faiss_files import CURRENT, remove_stale_packs
from anyseek.search.stores.faiss_index import IndexParams, IndexSetup, gpu_resources
from anyseek.search.stores.payloads import PayloadTable
from anyseek.search.stores.segments import Op, Pointer
from anyseek.search.stores.writer_lock import WriterBusyError, read_holder, record
from anyseek.settings import StoreSettings

LOCK = ".writer.lock"
ALIASES = ".aliases"  # one small file per alias holding its target's name, replaced atomically
#: reads of CURRENT and the pack it names, when the writer replaces it under a reader
CATCH_UP_TRIES = 5


class FaissStore(base.VectorStore):
    """Vector store on local FAISS indexes; see the module docstring for the on-disk layout.

    The store holds the thread lock, the registry of loaded collections and the folder's writer
    lock; the collections (``faiss_collection``) search and change themselves, and ``faiss_log``
    commits and replays them.
    """

    backend = "faiss"

    def __init__(self, settings: StoreSettings) -> None:
        if settings.path is None or settings.path == ":memory:":
            raise base.InvalidInputError(
                f"the FAISS store needs a folder (ANYSEEK_STORE__PATH), got {settings.path!r}"
            )
        self.root = Path(settings.path)
        self.params = IndexParams.from_settings(settings)
        self.gpu, self.device = gpu_resources(settings.faiss_gpu)
        self.setup = IndexSetup(self.params, settings.faiss_mmap, self.gpu)
        self.post_filter_share = settings.faiss_post_filter_share
        self._lock = threading.RLock()
        self._writer: IO[str] | None = None
        self._loaded: dict[str, LoadedCollection] = {}
        # per collection, the (inode, mtime, size) of the CURRENT this reader last loaded: a
        # search stats the file instead of reading it (a commit replaces it: a new inode)
        self._stamps: dict[str, tuple[int, int, int]] = {}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ServiceUnavailableError(
                f"cannot create FAISS folder {self.root}: {exc}"
            ) from None

    # --- collections -----------------------------------------------------------------------

    def _exclusive(self, action: str) -> AbstractContextManager[object]:
        """The store's lock: one thread at a time looks a collection up and changes it."""
        return self._lock

    def _create_collection(self, name: str, spaces: tuple[base.SpaceSpec, ...]) -> None:
        """Create the collection's folder and commit its first (empty) pack at once."""
        self._take_writer_lock()
        indexes = {s.name: self.setup.new(s) for s in spaces}
        coll = LoadedCollection(
            name, self.root / name, spaces, indexes, PayloadTable(), epoch=uuid.uuid4().hex[:12]
        )
        with self._writing(coll.folder):
            coll.folder.mkdir(parents=True, exist_ok=True)
            faiss_log.commit(coll)
        self._loaded[name] = coll

    def collections(self) -> list[str]:
        """Collections with a committed pack on disk, plus any not yet flushed."""
        on_disk = {p.name for p in self.root.iterdir() if (p / CURRENT).is_file()}
        return sorted(on_disk | set(self._loaded))

    def spaces(self, collection: str) -> tuple[base.SpaceSpec, ...]:
        """The spaces of a collection."""
        with self._lock:
            return self._get(collection).spaces

    def drop(self, collection: str) -> None:
        """Delete a collection's folder (renamed away first, so a crash cannot half-delete it)."""
        base.check_name("collection", collection)
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
        base.check_name("alias", alias)
        base.check_name("collection", collection)
        with self._lock:
            self._take_writer_lock()
            folder = self.root / ALIASES
            folder.mkdir(exist_ok=True)
            write_atomic(folder / alias, collection)

    def alias_target(self, alias: str) -> str | None:
        """The pointer file's content, None without one."""
        base.check_name("alias", alias)
        try:
            return (self.root / ALIASES / alias).read_text().strip() or None
        except FileNotFoundError:
            return None

    def delete_alias(self, alias: str) -> None:
        """Remove the pointer file."""
        base.check_name("alias", alias)
        with self._lock:
            self._take_writer_lock()
            with contextlib.suppress(FileNotFoundError):
                (self.root / ALIASES / alias).unlink()
                fsync_path(self.root / ALIASES)

    # --- items (checked by VectorStore, under the lock) -------------------------------------

    def _upsert(self, collection: str, batch: base.UpsertBatch) -> None:
        """Insert or replace whole items (durable from the next flush)."""
        self._record(collection, Op("upsert", batch.ids, batch.vectors, batch.payloads))

    def _set_metadata(self, collection: str, ids: np.ndarray, metadata: list[base.Payload]) -> None:
        """Replace the ``metadata`` object of existing items (durable from the next flush)."""
        self._record(collection, Op("metadata", ids, {}, metadata))

    def _delete(self, collection: str, ids: np.ndarray) -> None:
        """Remove items by id from the payloads and every space."""
        self._record(collection, Op("delete", ids))

    def _record(self, collection: str, op: Op) -> None:
        """Make a validated change as the folder's writer, on the collection as last committed."""
        self._take_writer_lock()
        self._get(collection).record(op)

    def _retrieve(
        self, collection: str, ids: np.ndarray, with_vectors: bool, with_payload: bool
    ) -> list[base.StoredItem]:
        """Stored items in the order asked; unknown ids are left out."""
        with self._lock:
            return self._get(collection).retrieve(ids, with_vectors, with_payload)

    def count(self, collection: str) -> int:
        """Number of items."""
        with self._lock:
            return len(self._get(collection).payloads)

    def _search(self, query: base.VectorQuery) -> list[base.SearchResult]:
        """The k best items per query, best first, optionally among items matching a filter."""
        with self._lock:
            return self._get(query.collection).search(query, self.post_filter_share)

    def use_for_single_queries(self) -> None:
        """One OpenMP thread for FAISS on the calling thread: a single query's search is not
        split across threads anyway, and FAISS's own OpenMP team (its wheel bundles its own
        runtime) idled beside the model's on the server's 2 cores (store stage 3.0-3.8 ms against
        1.1 ms in a quiet process at 10k). Other threads keep theirs for batches."""
        faiss.omp_set_num_threads(1)

    def nearest_ids(self, collection: str, space: str, queries: np.ndarray, k: int) -> np.ndarray:
        """Ids of about the k nearest items per query, from a quick (fewer cells) search."""
        query = base.VectorQuery(collection, space, queries, base.check_k(k))
        with self._lock:
            coll = self._get(collection)
            matrix = query.matrix(coll.spaces)
            index = coll.indexes[space]
            found = index.quick_search(matrix, min(query.k, max(index.size, 1)))
        out = np.full((len(matrix), query.k), -1, np.int64)
        out[:, : found.shape[1]] = found
        return out

    # --- durability ------------------------------------------------------------------------

    def flush(self) -> None:
        """Make every change since the last flush durable: a segment, or a whole pack
        (every change was made under the writer lock, so a changed collection's writer holds
        it). A write that fails (a full disk) is a :class:`WriteFailedError`: what was
        committed stays as it was, the changes stay in memory for the next flush."""
        with self._lock:
            for coll in self._loaded.values():
                if coll.dirty:
                    with self._writing(coll.folder):
                        faiss_log.flush(coll)

    @contextmanager
    def _writing(self, folder: Path) -> Iterator[None]:
        """A failed write in ``folder`` as one line naming it (and a full disk as such)."""
        try:
            yield
        except OSError as error:
            raise write_failed("the FAISS store", folder, error) from error

    def close(self) -> None:
        """Flush, then release the writer lock."""
        with self._lock:
            self.flush()
            self._loaded.clear()
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def health(self) -> base.StoreHealth:
        """Ready when the folder is writable (or readable, for a reader process)."""
        ok = os.access(self.root, os.R_OK | os.X_OK) and (
            self._writer is not None or os.access(self.root, os.W_OK)
        )
        detail = f"{self.root} ({self.device})" if ok else f"{self.root} is not accessible"
        return base.StoreHealth(ok, self.backend, detail)

    # --- the registry of loaded collections -------------------------------------------------

    def _get(self, name: str) -> LoadedCollection:
        """A loaded collection, (re)loading it when another process committed a newer one."""
        base.check_name("collection", name)
        coll = self._loaded.get(name)
        if coll is not None and (self._writer is not None or coll.dirty):
            return coll
        for attempt in range(CATCH_UP_TRIES):
            try:
                stamp = _stamp(self.root / name / CURRENT)
                if coll is not None and self._stamps.get(name) == stamp:
                    return coll  # CURRENT is the file this process last read: nothing new
                committed = faiss_log.read_pointer(self.root / name)
            except FileNotFoundError:
                if coll is not None:
                    return coll
                target = self.alias_target(name)
                if target is not None and target != name:
                    return self._get(target)
                raise NotFoundError(f"no collection named {name!r}") from None
            try:
                found = self._catch_up(name, coll, committed)
                self._stamps[name] = stamp
                return found
            except FileNotFoundError:  # the writer compacted meanwhile: read CURRENT again
                if attempt == CATCH_UP_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _catch_up(
        self, name: str, coll: LoadedCollection | None, committed: Pointer
    ) -> LoadedCollection:
        """The collection as ``committed`` says, kept as the loaded one."""
        self._loaded[name] = faiss_log.catch_up(self.root / name, coll, committed, self.setup)
        return self._loaded[name]

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
                committed = faiss_log.read_pointer(self.root / name)
            except FileNotFoundError:  # dropped meanwhile
                del self._loaded[name]
                continue
            self._catch_up(name, coll, committed)
        for folder in self.root.iterdir():  # leftovers of a writer killed mid-save or mid-drop
            if folder.name.startswith(".dropped-"):
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.is_dir():
                remove_stale_packs(folder)


def _stamp(path: Path) -> tuple[int, int, int]:
    """What tells one ``CURRENT`` file from its replacement: inode, modification time, size."""
    found = os.stat(path)
    return found.st_ino, found.st_mtime_ns, found.st_size
