"""Item payloads of a FAISS collection, in memory, with an inverted index for filtered search.

Payloads live in one JSON file inside the collection's generation folder, so they are committed by
the same atomic rename as the FAISS index files and can never disagree with them after a crash (a
separate database would be a second commit point). They are small by design (paths, tags,
modality names): big data belongs in the service's database.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from search.stores.base import Filter, Payload, Range, Scalar


def _keys(value: object) -> list[Scalar]:
    """The indexable values of a payload field: the value itself, or each element of a list."""
    values = value if isinstance(value, list | tuple) else [value]
    return [v for v in values if isinstance(v, str | int | bool)]


def _key(value: Scalar) -> tuple[str, Scalar]:
    """Booleans and integers compare equal in Python (True == 1); keep them apart as Qdrant does."""
    return (type(value).__name__ if isinstance(value, bool) else "v", value)


def _in_range(value: object, bounds: Range) -> bool:
    """A number within the bounds, or a list holding one (as Qdrant matches lists)."""
    values = value if isinstance(value, list | tuple) else [value]
    return any(bounds.contains(v) for v in values)


class PayloadTable:
    """id -> payload, plus field -> value -> ids for answering filters without a scan."""

    def __init__(self, payloads: dict[int, Payload] | None = None) -> None:
        self.payloads: dict[int, Payload] = {}
        self._index: dict[str, dict[tuple[str, Scalar], set[int]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.dirty = False
        for item, payload in (payloads or {}).items():
            self._put(item, payload)

    def __len__(self) -> int:
        return len(self.payloads)

    def __contains__(self, item: int) -> bool:
        return item in self.payloads

    def ids(self) -> np.ndarray:
        """Every item id."""
        return np.fromiter(self.payloads, np.int64, len(self.payloads))

    def get(self, item: int) -> Payload:
        """A copy of an item's payload."""
        return dict(self.payloads[item])

    def upsert(self, ids: Iterable[int], payloads: Iterable[Payload]) -> None:
        """Set the payloads of these ids (already checked to be plain JSON by the store)."""
        for item, payload in zip(ids, payloads, strict=True):
            self.remove(int(item))
            self._put(int(item), payload)
        self.dirty = True

    def remove(self, item: int) -> bool:
        """Forget an item; returns whether it existed."""
        payload = self.payloads.pop(item, None)
        if payload is None:
            return False
        for field, value in payload.items():
            for key in _keys(value):
                self._index[field][_key(key)].discard(item)
        self.dirty = True
        return True

    def matching(self, filter: Filter) -> np.ndarray:
        """Ids of the items meeting every condition of the filter."""
        result: set[int] | None = set(filter.ids) if filter.ids is not None else None
        for field, accepted in filter.conditions():
            column = self._index.get(field, {})
            found = set().union(*(column.get(_key(v), set()) for v in accepted))
            result = found if result is None else result & found
        for field, bounds in filter.ranges.items():  # a scan: numbers have no inverted index
            candidates = self.payloads if result is None else result
            result = {
                i for i in candidates if _in_range(self.payloads.get(i, {}).get(field), bounds)
            }
        if result is None:
            return self.ids()
        return np.fromiter((i for i in result if i in self.payloads), np.int64)

    def _put(self, item: int, payload: Payload) -> None:
        self.payloads[item] = dict(payload)
        for field, value in payload.items():
            for key in _keys(value):
                self._index[field][_key(key)].add(item)

    def save(self, path: Path) -> None:
        """Write every payload as JSON (the caller makes the write atomic)."""
        data = [[item, payload] for item, payload in self.payloads.items()]
        path.write_text(json.dumps(data, separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> PayloadTable:
        """Read payloads written by :meth:`save`."""
        return cls({int(item): payload for item, payload in json.loads(path.read_text())})
