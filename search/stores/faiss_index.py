"""One FAISS index for one (collection, space): stable 64-bit ids, tombstones, exact or approximate.

The FAISS index holds vectors at internal positions 0..ntotal-1; ``labels`` maps a position to the
item id and ``alive`` marks positions not deleted or replaced. Deletions and replacements are
tombstones excluded with an ``IDSelectorBitmap``; a rebuild drops them and switches between the
exact (flat inner product) and approximate (HNSW, IVF-SQ8 or IVF-PQ) kinds as the space grows.
Our own id map rather than ``IndexIDMap2`` because HNSW cannot remove entries, so replacing an id
would otherwise leave two live copies of it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from anyseek.search.stores.base import SpaceSpec
from anyseek.search.stores.id_positions import IdPositions
from anyseek.settings import StoreSettings

log = logging.getLogger(__name__)

IndexKind = Literal["flat", "hnsw", "ivf_flat", "ivf_sq8", "ivf_pq"]
EXACT_FALLBACK = 20_000
"""A filter that leaves at most this many candidates is answered exactly by brute force."""
DEAD_FRACTION = 0.25
"""Rebuild once this share of positions are tombstones (and at least ``DEAD_MIN`` of them)."""
DEAD_MIN = 1024
TRAIN_PER_CELL = 64
"""IVF training points per cell (FAISS asks for at least 39): k-means on 256 per cell took 257 s
for a million 64-d vectors on one core, and the rebuild holds the writer that long."""
QUICK_EFFORT = 0.125
"""Share of the IVF cells (or HNSW candidates) a quick search visits: near-duplicates (cosine
>= 0.9) sit in the query's nearest cells, and the check runs twice per stored item."""
IVF_RETRAIN_GROWTH = 4
"""Retrain an IVF index once the space holds this many times the vectors it was trained on."""


@dataclass(frozen=True)
class IndexParams:
    """How indexes are built and searched; copied from StoreSettings."""

    exact_threshold: int = 50_000
    approximate: Literal["hnsw", "ivf_flat", "ivf_pq", "ivf_sq8"] = "ivf_flat"
    hnsw_m: int = 32
    hnsw_ef_construct: int = 200
    hnsw_ef_search: int = 128
    ivf_nlist: int = 0
    ivf_nprobe: int = 32

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> IndexParams:
        """The store settings of the same names."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def kind_for(self, size: int) -> IndexKind:
        """Exact below the threshold, the configured approximate kind from it on."""
        return "flat" if size < self.exact_threshold else self.approximate

    def nlist_for(self, size: int) -> int:
        """IVF cells: configured or about 4 * sqrt(n), with at least 39 training points per cell."""
        wanted = self.ivf_nlist or min(65_536, int(4 * math.sqrt(size)))
        return max(1, min(wanted, size // 39))


def new_index(kind: IndexKind, dim: int, params: IndexParams, size: int) -> faiss.Index:
    """An empty (untrained) inner-product index of the given kind."""
    ip = faiss.METRIC_INNER_PRODUCT
    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, ip)
        index.hnsw.efConstruction = params.hnsw_ef_construct
        index.hnsw.efSearch = params.hnsw_ef_search
        return index
    nlist = params.nlist_for(size)
    quantizer = faiss.IndexFlatIP(dim)
    if kind == "ivf_flat":
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, ip)
    elif kind == "ivf_sq8":
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, ip
        )
    else:
        sub = next(m for m in (dim // 8, dim // 4, dim // 2, dim, 1) if m and dim % m == 0)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, sub, 8, ip)
    index.own_fields = True
    quantizer.this.disown()
    index.nprobe = min(params.ivf_nprobe, nlist)
    return index


class SpaceIndex:
    """The vectors of one space of one collection, searchable by inner product."""

    def __init__(
        self,
        spec: SpaceSpec,
        params: IndexParams,
        index: faiss.Index | None = None,
        labels: np.ndarray | None = None,
        alive: np.ndarray | None = None,
        kind: IndexKind = "flat",
        trained_at: int = 0,
        mapped_from: Path | None = None,
        gpu: object | None = None,
    ) -> None:
        self.spec = spec
        self.params = params
        self.kind: IndexKind = kind
        self.index = index if index is not None else new_index("flat", spec.dim, params, 0)
        self.labels = labels if labels is not None else np.empty(0, np.int64)
        self.alive = alive if alive is not None else np.empty(0, bool)
        self.trained_at = trained_at
        self.mapped_from = mapped_from
        self.position = IdPositions(self.labels, self.alive)
        self.dirty = False  # differs from the files it was loaded from
        self.rebuilt = False  # re-created since then: appending segments would not describe it
        self.gpu = gpu
        self._alive_selector: tuple[faiss.IDSelector, np.ndarray] | None = None
        self._gpu_index: faiss.Index | None = None
        self._apply_search_settings()

    # --- size ------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of live vectors."""
        return len(self.position)

    @property
    def dead(self) -> int:
        """Number of tombstoned positions."""
        return len(self.labels) - len(self.position)

    # --- writes ----------------------------------------------------------------------------

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add rows for these ids, tombstoning any earlier row of the same id."""
        self._writable()
        self._tombstone(ids)  # no rebuild in between: the batch is added right after
        start = len(self.labels)
        self.index.add(vectors)
        self.labels = _extended(self.labels, ids)
        self.alive = _extended(self.alive, np.ones(len(ids), bool))
        self.position.add(ids, np.arange(start, start + len(ids)))
        self.dirty = True
        self._changed()
        self._maybe_rebuild()

    def remove(self, ids: np.ndarray) -> int:
        """Tombstone the rows of these ids (rebuilding if many are dead); how many existed."""
        found = self._tombstone(ids)
        if found:
            self._maybe_rebuild()
        return found

    def _tombstone(self, ids: np.ndarray) -> int:
        """Mark the rows of these ids dead; returns how many existed."""
        found = self.position.remove(ids)
        if len(found):
            self._writable()
            self.alive[found] = False
            self.dirty = True
            self._changed()
        return len(found)

    def _writable(self) -> None:
        """Swap a memory-mapped (read-only) index for an owned copy before the first change."""
        if self.mapped_from is not None:
            self.index = faiss.read_index(str(self.mapped_from))
            self.mapped_from = None
            self._apply_search_settings()

    def _maybe_rebuild(self) -> None:
        """Rebuild when the right kind changed, tombstones pile up, or IVF outgrew its training."""
        wanted = self.params.kind_for(self.size)
        if (
            self.kind != "flat"
            and wanted == "flat"
            and self.size >= self.params.exact_threshold // 2
        ):
            wanted = self.kind  # hysteresis: do not flip back and forth around the threshold
        too_dead = self.dead >= DEAD_MIN and self.dead > DEAD_FRACTION * len(self.labels)
        outgrown = self.kind.startswith("ivf") and self.size > IVF_RETRAIN_GROWTH * self.trained_at
        if wanted != self.kind or too_dead or outgrown:
            self.rebuild(wanted)

    def rebuild(self, kind: IndexKind | None = None) -> None:
        """Re-create the index from the live vectors only, as ``kind`` (default: by size)."""
        kind = kind or self.params.kind_for(self.size)
        keep = np.flatnonzero(self.alive)
        vectors = self.vectors_at(keep)
        labels = self.labels[keep]
        index = new_index(kind, self.spec.dim, self.params, len(keep))
        if kind.startswith("ivf"):
            sample = vectors
            limit = TRAIN_PER_CELL * index.nlist
            if len(vectors) > limit:
                sample = vectors[np.random.default_rng(0).choice(len(vectors), limit, False)]
            index.train(sample)
            index.make_direct_map()
        log.info("rebuilding %s index of %d vectors as %s", self.spec.name, len(keep), kind)
        index.add(vectors)
        self.index, self.kind, self.labels = index, kind, labels
        self._apply_search_settings()
        self.alive = np.ones(len(labels), bool)
        self.position = IdPositions(labels, self.alive)
        self.trained_at = len(labels) if kind.startswith("ivf") else 0
        self.mapped_from = None
        self.dirty = self.rebuilt = True
        self._changed()

    def _apply_search_settings(self) -> None:
        """Put efSearch / nprobe from the settings on the index (a loaded file has its own)."""
        if self.kind == "hnsw":
            faiss.downcast_index(self.index).hnsw.efSearch = self.params.hnsw_ef_search
        elif self.kind.startswith("ivf"):
            ivf = faiss.extract_index_ivf(self.index)
            ivf.nprobe = min(self.params.ivf_nprobe, ivf.nlist)

    def _changed(self) -> None:
        """Drop what was derived from the index (cached selector, GPU copy)."""
        self._alive_selector = None
        self._gpu_index = None

    # --- reads -----------------------------------------------------------------------------

    def vectors_at(self, positions: np.ndarray) -> np.ndarray:
        """Stored vectors at internal positions (reconstructions for IVF-PQ/SQ8)."""
        if len(positions) == 0:
            return np.empty((0, self.spec.dim), np.float32)
        return self.index.reconstruct_batch(np.ascontiguousarray(positions, dtype=np.int64))

    def vectors_of(self, ids: np.ndarray) -> dict[int, np.ndarray]:
        """Stored vectors of those ids that exist in this space."""
        ids = np.asarray(ids, np.int64)
        positions = self.position.find(ids)
        live = positions >= 0
        if not live.any():
            return {}
        rows = self.vectors_at(positions[live])
        return {item: rows[n] for n, item in enumerate(ids[live].tolist())}

    def quick_search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Item ids (-1 = none) of about the k best rows per query, visiting ``QUICK_EFFORT`` of
        the IVF cells or HNSW candidates an ordinary search visits (live rows only)."""
        if self.size == 0 or self.kind == "flat" or self.gpu is not None:
            return self.search(queries, k)[1]
        selector = self._live_selector()
        sel = selector[0] if selector is not None else None
        if self.kind == "hnsw":
            ef = max(k, round(self.params.hnsw_ef_search * QUICK_EFFORT))
            params: faiss.SearchParameters = faiss.SearchParametersHNSW(efSearch=ef, sel=sel)
        else:
            nprobe = max(1, round(min(self.params.ivf_nprobe, self.index.nlist) * QUICK_EFFORT))
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=sel)
        _, positions = self.index.search(queries, k, params=params)
        return self._ids_at(positions)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and item ids (-1 = none) of the k best rows per query among ``allowed`` ids."""
        if self.size == 0:
            empty = np.full((len(queries), k), -1, np.int64)
            return np.full(empty.shape, -np.inf, np.float32), empty
        if allowed is None:
            selector = self._live_selector()
            if selector is None and self.gpu is not None and self.kind != "hnsw":
                scores, positions = self._on_gpu().search(queries, k)
                return scores, self._ids_at(positions)
        else:
            mask = self.alive & np.isin(self.labels, allowed)
            candidates = np.flatnonzero(mask)
            if self.kind != "flat" and len(candidates) <= EXACT_FALLBACK:
                return self._brute_force(queries, k, candidates)
            selector = _selector(mask)
        scores, positions = self.index.search(queries, k, params=self._params(selector, k))
        return scores, self._ids_at(positions)

    def _ids_at(self, positions: np.ndarray) -> np.ndarray:
        """Item ids at FAISS result positions, keeping -1 (no result) as -1."""
        ids = self.labels[positions]
        ids[positions < 0] = -1
        return ids

    def _brute_force(
        self, queries: np.ndarray, k: int, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact search over a few candidate positions (highly selective filters)."""
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        if len(candidates):
            sims = queries @ self.vectors_at(candidates).T
            top = min(k, len(candidates))
            best = np.argsort(-sims, axis=1, kind="stable")[:, :top]
            scores[:, :top] = np.take_along_axis(sims, best, axis=1)
            ids[:, :top] = self.labels[candidates[best]]
        return scores, ids

    def _on_gpu(self) -> faiss.Index:
        """A GPU copy of the index for unfiltered searches (GPU indexes take no selectors)."""
        if self._gpu_index is None:
            self._gpu_index = faiss.index_cpu_to_gpu(self.gpu, 0, self.index)
            if self.kind.startswith("ivf"):
                self._gpu_index.nprobe = min(self.params.ivf_nprobe, self.index.nlist)
        return self._gpu_index

    def _live_selector(self) -> tuple[faiss.IDSelector, np.ndarray] | None:
        """A cached selector of live positions, or None when nothing is tombstoned."""
        if self.dead == 0:
            return None
        if self._alive_selector is None:
            self._alive_selector = _selector(self.alive)
        return self._alive_selector

    def _params(
        self, selector: tuple[faiss.IDSelector, object] | None, k: int
    ) -> faiss.SearchParameters | None:
        """Per-search parameters: the selector plus efSearch / nprobe for approximate kinds.

        None (the index's own settings, see ``_apply_search_settings``) in the common case, which
        saves building a parameter object on every call.
        """
        if selector is None and (self.kind != "hnsw" or k <= self.params.hnsw_ef_search):
            return None
        sel = selector[0] if selector is not None else None
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(efSearch=max(self.params.hnsw_ef_search, k), sel=sel)
        if self.kind.startswith("ivf"):
            nprobe = min(self.params.ivf_nprobe, self.index.nlist)
            return faiss.SearchParametersIVF(nprobe=nprobe, sel=sel)
        return faiss.SearchParameters(sel=sel)


@dataclass(frozen=True)
class IndexSetup:
    """What a store makes its space indexes with: parameters, memory-mapping, GPU resources."""

    params: IndexParams
    mmap: bool = True
    gpu: object | None = None

    def new(self, spec: SpaceSpec) -> SpaceIndex:
        """An empty exact index, written with the next pack."""
        index = SpaceIndex(spec, self.params, gpu=self.gpu)
        index.dirty = True
        return index


def _extended(array: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """``array`` with ``tail`` appended, as a view of a buffer grown by doubling: appending a
    batch to a million-row space copied every row (22 ms a batch)."""
    n, m = len(array), len(tail)
    base = array.base
    if (
        isinstance(base, np.ndarray)
        and base.ndim == 1
        and base.dtype == array.dtype
        and len(base) >= n + m
        and base.ctypes.data == array.ctypes.data
    ):
        base[n : n + m] = tail
        return base[: n + m]
    grown = np.empty(max(2 * n, n + m, 1024), array.dtype)
    grown[:n] = array
    grown[n : n + m] = tail
    return grown[: n + m]


def _selector(mask: np.ndarray) -> tuple[faiss.IDSelector, np.ndarray]:
    """A FAISS bitmap selector of the positions set in ``mask``, with the bitmap it points into.

    The bitmap (bit i of byte i // 8, least significant first) must outlive the selector, so it is
    returned alongside and kept by the caller.
    """
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(bits), bits


def gpu_resources(wanted: bool) -> tuple[object | None, str]:
    """FAISS GPU resources when asked for and available, else None and the reason."""
    if not wanted:
        return None, "cpu"
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        log.warning("faiss_gpu is on but faiss has no CUDA device here; searching on the CPU")
        return None, "cpu (faiss_gpu set, but no faiss-gpu build or CUDA device)"
    return faiss.StandardGpuResources(), "gpu"
