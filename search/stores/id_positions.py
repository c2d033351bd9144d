"""Item id -> position of its live row in one space index, held in numpy arrays.

A dict of Python ints cost ~100 bytes an item (two int objects and a slot), 200 MB per million
items of a two-space collection; sorted arrays cost 16 bytes. Ids added since the last merge sit
in a small dict and are merged into the arrays once there are ``MERGE_AT`` of them.
"""

from __future__ import annotations

import numpy as np

MERGE_AT = 65_536
"""Recently added ids kept in a dict before one sort merges them into the arrays."""


class IdPositions:
    """Live item ids and their positions: lookup, add and remove in batches."""

    def __init__(self, labels: np.ndarray, alive: np.ndarray) -> None:
        live = np.flatnonzero(alive)
        ids = np.asarray(labels, np.int64)[live]
        order = np.argsort(ids, kind="stable")
        self._ids = ids[order]
        self._positions = live[order].astype(np.int64)  # -1: removed since the last merge
        self._recent: dict[int, int] = {}
        self._count = len(ids)

    def __len__(self) -> int:
        return self._count

    def find(self, ids: np.ndarray) -> np.ndarray:
        """The position of each id, -1 for ids not live."""
        ids = np.asarray(ids, np.int64)
        found = np.full(len(ids), -1, np.int64)
        if len(self._ids):
            slot = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
            hit = self._ids[slot] == ids
            found[hit] = self._positions[slot[hit]]
        if self._recent:
            for n, item in enumerate(ids.tolist()):
                position = self._recent.get(item)
                if position is not None:
                    found[n] = position
        return found

    def add(self, ids: np.ndarray, positions: np.ndarray) -> None:
        """Record new live rows (their ids are not live: the caller removed them first)."""
        pairs = zip(np.asarray(ids).tolist(), np.asarray(positions).tolist(), strict=True)
        self._recent.update(pairs)
        self._count += len(ids)
        if len(self._recent) >= MERGE_AT:
            self._merge()

    def remove(self, ids: np.ndarray) -> np.ndarray:
        """Forget these ids; the positions they had (each once; unknown ids are skipped)."""
        ids = np.unique(np.asarray(ids, np.int64))
        found = self.find(ids)
        for item in ids[found >= 0].tolist():
            if self._recent.pop(item, None) is None:
                slot = int(np.searchsorted(self._ids, item))
                self._positions[slot] = -1
        removed = found[found >= 0]
        self._count -= len(removed)
        return removed

    def _merge(self) -> None:
        """Fold the recent ids into the sorted arrays, dropping removed entries."""
        keep = self._positions >= 0
        recent_ids = np.fromiter(self._recent.keys(), np.int64, len(self._recent))
        recent_positions = np.fromiter(self._recent.values(), np.int64, len(self._recent))
        ids = np.concatenate([self._ids[keep], recent_ids])
        positions = np.concatenate([self._positions[keep], recent_positions])
        order = np.argsort(ids, kind="stable")
        self._ids, self._positions = ids[order], positions[order]
        self._recent = {}
