"""A FAISS collection as one process holds it: its spaces' indexes, payloads, and the changes made
since the last flush, applied the same way when made and when replayed from segments; searches
combine the indexes with the payload table's filters here."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anyseek.search.stores.base import (
    Filter,
    Payload,
    SearchHit,
    SearchResult,
    SpaceSpec,
    StoredItem,
    VectorQuery,
    space_of,
)
from anyseek.search.stores.faiss_index import SpaceIndex
from anyseek.search.stores.payloads import PayloadTable
from anyseek.search.stores.segments import Op, Pointer, pack_name


@dataclass
class LoadedCollection:
    """A loaded collection: its spaces, their indexes and the payload table."""

    name: str
    folder: Path
    spaces: tuple[SpaceSpec, ...]
    indexes: dict[str, SpaceIndex]
    payloads: PayloadTable
    pack_number: int = 0
    files: dict[str, Path] = field(default_factory=dict)
    journal: list[Op] = field(default_factory=list)  # changes since the last flush, in order
    segments: int = 0  # committed segments on top of the pack's files
    segment_rows: int = 0
    base_count: int = 0  # items in the pack's files
    epoch: str = ""  # made with the collection (``Pointer.epoch``); "" in older stores

    @property
    def dirty(self) -> bool:
        """Whether something changed since the last flush."""
        return bool(self.journal)

    @property
    def pointer(self) -> Pointer:
        """What ``CURRENT`` says for the state this process has committed or loaded."""
        return Pointer(pack_name(self.pack_number), self.segments, self.epoch)

    # --- changes ---------------------------------------------------------------------------

    def apply(self, op: Op) -> None:
        """Make one (validated) change in memory: what a write does, and what replaying does."""
        if op.kind == "upsert":
            self.payloads.upsert(op.ids.tolist(), list(op.values))
            for name, index in self.indexes.items():
                if name in op.vectors:
                    index.upsert(op.ids, op.vectors[name])
                else:
                    index.remove(op.ids)
        elif op.kind == "delete":
            for item in op.ids.tolist():
                self.payloads.remove(item)
            for index in self.indexes.values():
                index.remove(op.ids)
        else:
            self.payloads.set_metadata(op.ids.tolist(), list(op.values))

    def record(self, op: Op) -> None:
        """Apply a change and keep it for the next flush."""
        self.apply(op)
        self.journal.append(op)

    def replayed(self, number: int, ops: list[Op]) -> None:
        """Apply a committed segment read back from disk and count it."""
        for op in ops:
            self.apply(op)
        self.segments, self.segment_rows = number, self.segment_rows + sum(o.rows for o in ops)

    def appended(self, number: int) -> None:
        """The journal is now the pack's committed segment ``number``."""
        rows = sum(op.rows for op in self.journal)
        self.segments, self.segment_rows = number, self.segment_rows + rows
        self.journal.clear()

    def committed(self, number: int, files: dict[str, Path]) -> None:
        """Everything is now pack ``number``, held in these files."""
        self.pack_number, self.files = number, files
        for name, index in self.indexes.items():
            index.dirty = index.rebuilt = False
            if index.mapped_from is not None:
                index.mapped_from = files[name + ".faiss"]
        self.payloads.dirty = False
        self.journal.clear()
        self.segments = self.segment_rows = 0
        self.base_count = len(self.payloads)

    # --- reads -----------------------------------------------------------------------------

    def retrieve(self, ids: np.ndarray, with_vectors: bool, with_payload: bool) -> list[StoredItem]:
        """Stored items in the order asked; unknown ids are left out."""
        found = [item for item in ids.tolist() if item in self.payloads]
        per_space = {
            name: index.vectors_of(np.array(found, np.int64)) if with_vectors else {}
            for name, index in self.indexes.items()
        }
        return [
            StoredItem(
                item,
                {name: rows[item] for name, rows in per_space.items() if item in rows},
                self.payloads.get(item) if with_payload else {},
            )
            for item in found
        ]

    def search(self, query: VectorQuery, post_filter_share: float) -> list[SearchResult]:
        """The k best items per query, best first, optionally among items matching a filter."""
        matrix = query.matrix(self.spaces)
        scores, labels = self._best(
            self.indexes[query.space], matrix, query.k, query.filter, post_filter_share
        )
        payload_of = self.payloads.get if query.with_payload else _no_payload
        vectors_of = self._vectors_of(query.with_vectors, labels)
        return [  # tolist() first: Python numbers in one call, not one numpy scalar per hit
            SearchResult(
                tuple(
                    SearchHit(item, score, payload_of(item), vectors_of(item))
                    for score, item in zip(row_scores, row_ids, strict=True)
                    if item >= 0
                )
            )
            for row_scores, row_ids in zip(scores.tolist(), labels.tolist(), strict=True)
        ]

    def _vectors_of(
        self, spaces: tuple[str, ...], labels: np.ndarray
    ) -> Callable[[int], dict[str, np.ndarray]]:
        """Each found item's stored vectors in ``spaces``, read for all hits at once."""
        if not spaces:
            return _no_vectors
        for name in spaces:
            space_of(self.spaces, self.name, name)  # an unknown space: NotFoundError
        found = np.unique(labels[labels >= 0])
        rows = {name: self.indexes[name].vectors_of(found) for name in spaces}
        return lambda item: {name: r[item] for name, r in rows.items() if item in r}

    def _best(
        self,
        index: SpaceIndex,
        matrix: np.ndarray,
        k: int,
        filter: Filter | None,
        post_filter_share: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids (-1 = none) of the k best matching items per query.

        A filter that most items pass is a post-filter: an unfiltered search over-fetched by the
        inverse of its share, non-matching hits dropped; rows left short of k (and a selective
        filter from the start) are a pre-filter: the search restricted to the matching ids.
        """
        k = min(k, max(index.size, 1))
        if filter is None:
            return index.search(matrix, k)
        share = self.payloads.share(filter) if post_filter_share < 1 else 0.0
        if share >= post_filter_share and share > 0:
            fetch = min(index.size, math.ceil(2 * k / share) + k)
            scores, labels = index.search(matrix, fetch)
            keep = np.array(
                [
                    [i >= 0 and self.payloads.accepts(i, filter) for i in row]
                    for row in labels.tolist()
                ]
            ).reshape(labels.shape)
            if fetch >= index.size or keep.sum(axis=1).min() >= k:
                return first_kept(scores, labels, keep, k)
        return index.search(matrix, k, self.payloads.matching(filter))


def first_kept(
    scores: np.ndarray, labels: np.ndarray, keep: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first k kept columns of each row (order preserved), padded with -1 / -inf."""
    out_scores = np.full((len(labels), k), -np.inf, np.float32)
    out_labels = np.full((len(labels), k), -1, np.int64)
    for row in range(len(labels)):
        chosen = np.flatnonzero(keep[row])[:k]
        out_scores[row, : len(chosen)] = scores[row, chosen]
        out_labels[row, : len(chosen)] = labels[row, chosen]
    return out_scores, out_labels


def _no_vectors(_: int) -> dict[str, np.ndarray]:
    """The vectors of a hit asked for without vectors: none."""
    return {}


def _no_payload(_: int) -> Payload:
    """The payload of a hit asked for without payloads: empty."""
    return {}
