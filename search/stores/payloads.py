"""Item payloads of a FAISS collection, in memory, with an inverted index for filtered search.

Payloads live in one JSON file inside the collection's generation folder, so they are committed by
the same atomic rename as the FAISS index files and can never disagree with them after a crash (a
separate database would be a second commit point). They are small by design (paths, tags,
modality names): big data belongs in the service's database. User metadata (the ``metadata``
object) is indexed field by field as ``metadata.<field>``, the key filters name it by.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from search.stores.base import METADATA, DateRange, Filter, Payload, Range, Scalar


def fields(payload: Payload) -> Iterator[tuple[str, object]]:
    """(key, value) of every filterable field: top-level ones and ``metadata.<field>``."""
    for key, value in payload.items():
        if key == METADATA and isinstance(value, dict):
            for name, inner in value.items():
                yield f"{METADATA}.{name}", inner
        else:
            yield key, value


def value_at(payload: Payload, key: str) -> object:
    """The value of a payload key (``metadata.<field>`` reaches into the metadata object)."""
    head, dot, rest = key.partition(".")
    if dot and head == METADATA:
        inner = payload.get(METADATA)
        return inner.get(rest) if isinstance(inner, dict) else None
    return payload.get(key)


def has_value(value: object) -> bool:
    """Whether a field holds something (not missing, null or an empty list), as Qdrant's
    ``is_empty`` sees it."""
    return value is not None and value != [] and value != ()


SAMPLE = 256
"""Items a filter is tried on to estimate how selective it is."""


def _keys(value: object) -> list[Scalar]:
    """The indexable values of a payload field: the value itself, or each element of a list."""
    values = value if isinstance(value, list | tuple) else [value]
    return [v for v in values if isinstance(v, str | int | bool)]


def _key(value: Scalar) -> tuple[str, Scalar]:
    """Booleans and integers compare equal in Python (True == 1); keep them apart as Qdrant does."""
    return (type(value).__name__ if isinstance(value, bool) else "v", value)


def _in_range(value: object, bounds: Range | DateRange) -> bool:
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
        self._sample: list[int] | None = None
        self._columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
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

    def set_metadata(self, ids: Iterable[int], metadata: Iterable[Payload]) -> None:
        """Replace the ``metadata`` object of these ids (unknown ids are skipped)."""
        for item, values in zip(ids, metadata, strict=True):
            if int(item) in self.payloads:
                payload = self.get(int(item))
                self.remove(int(item))
                self._put(int(item), {**payload, METADATA: dict(values)})
        self.dirty = True

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
        self._sample = None
        self._columns.clear()
        for field, value in fields(payload):
            for key in _keys(value):
                self._index[field][_key(key)].discard(item)
        self.dirty = True
        return True

    def accepts(self, item: int, filter: Filter) -> bool:
        """Whether one item meets every condition of the filter (a post-filter's check)."""
        payload = self.payloads.get(item)
        if payload is None or (filter.ids is not None and item not in filter.ids):
            return False
        for field, accepted in filter.conditions():
            have = {_key(v) for v in _keys(value_at(payload, field))}
            if not any(_key(v) in have for v in accepted):
                return False
        scans: list[tuple[str, Range | DateRange]] = [*filter.ranges.items(), *filter.dates.items()]
        if not all(_in_range(value_at(payload, field), bounds) for field, bounds in scans):
            return False
        return all(has_value(value_at(payload, field)) for field in filter.exists)

    def share(self, filter: Filter, sample: int = SAMPLE) -> float:
        """The estimated share of items the filter accepts, from a fixed random sample."""
        if not self.payloads:
            return 0.0
        if self._sample is None:
            population = list(self.payloads)
            size = min(sample, len(population))
            self._sample = random.Random(0).sample(population, size)
        return sum(self.accepts(i, filter) for i in self._sample) / len(self._sample)

    def matching(self, filter: Filter) -> np.ndarray:
        """Ids of the items meeting every condition of the filter."""
        result: set[int] | None = set(filter.ids) if filter.ids is not None else None
        for field, accepted in filter.conditions():
            column = self._index.get(field, {})
            found = set().union(*(column.get(_key(v), set()) for v in accepted))
            result = found if result is None else result & found
        for field, bounds in filter.ranges.items():  # numbers: a cached column, compared at once
            ids, values = self._column(field)
            inside = np.ones(len(ids), bool)
            if bounds.gte is not None:
                inside &= values >= bounds.gte
            if bounds.lte is not None:
                inside &= values <= bounds.lte
            found = set(ids[inside].tolist())
            result = found if result is None else result & found
        for field, bounds in filter.dates.items():  # a scan: dates have no index
            candidates = self.payloads if result is None else result
            result = {
                i
                for i in candidates
                if _in_range(value_at(self.payloads.get(i, {}), field), bounds)
            }
        for field in filter.exists:
            candidates = self.payloads if result is None else result
            result = {i for i in candidates if has_value(value_at(self.payloads.get(i, {}), field))}
        if result is None:
            return self.ids()
        return np.fromiter((i for i in result if i in self.payloads), np.int64)

    def _column(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """Ids and values of a numeric field (each number of a list value counts), built once
        per change of the table."""
        column = self._columns.get(field)
        if column is None:
            ids: list[int] = []
            values: list[float] = []
            for item, payload in self.payloads.items():
                value = value_at(payload, field)
                for v in value if isinstance(value, list | tuple) else [value]:
                    if isinstance(v, int | float) and not isinstance(v, bool):
                        ids.append(item)
                        values.append(v)
            column = (np.array(ids, np.int64), np.array(values, np.float64))
            self._columns[field] = column
        return column

    def _put(self, item: int, payload: Payload) -> None:
        self._sample = None
        self._columns.clear()
        self.payloads[item] = dict(payload)
        for field, value in fields(payload):
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
