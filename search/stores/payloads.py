"""Item payloads of a FAISS collection, in memory, with an inverted index for filtered search.

Payloads live in one JSON Lines file inside the collection's pack folder (plus the
pack's segments), so they are committed with the FAISS index files and can never disagree
with them after a crash (a separate database would be a second commit point). They are small by
design (paths, tags, modality names): big data belongs in the service's database. User metadata
(the ``metadata`` object) is indexed field by field as ``metadata.<field>``, the key filters name
it by.

Memory is what bounds a million-item collection, so each payload is held as its compact JSON
bytes (decoded when read), and only fields with few distinct values keep an inverted index
(folder, extension, tags: what filters pick by); a field with about a value per item (path,
hash, timestamp) loses its index past ``INDEX_FLOOR`` values and is answered from a column read
out of the payloads on first use and kept up to date while items are added. About 450 bytes an
item for the indexer's payloads, against ~3 KB as Python dicts with every field indexed.
"""

from __future__ import annotations

import json
import random
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import orjson

from anyseek.search.stores.base import METADATA, DateRange, Filter, Payload, Range, Scalar


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
INDEX_FLOOR = 1_000
INDEX_SHARE = 0.05
"""A field keeps its value index while it has at most max(INDEX_FLOOR, INDEX_SHARE x items)
distinct values."""


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


SMALL_GROUP = 4_096
"""Ids of one field value are a set up to this many, then an array of 8-byte ids."""


class IdGroup:
    """The ids of the items holding one field value: a set while small; then an array (8 bytes
    an id, against ~40 in a set: a million items tagged ``ext=jpg``) with removed ids kept aside
    until they are a quarter of it."""

    __slots__ = ("_array", "_removed", "_set")

    def __init__(self) -> None:
        self._set: set[int] | None = set()
        self._array: array[int] | None = None
        self._removed: set[int] = set()

    def __len__(self) -> int:
        if self._set is not None:
            return len(self._set)
        return len(self._array) - len(self._removed)  # type: ignore[arg-type]

    def add(self, item: int) -> None:
        """Add an id (not already present)."""
        if self._set is not None:
            self._set.add(item)
            if len(self._set) > SMALL_GROUP:
                self._array, self._set = array("q", self._set), None
        elif item in self._removed:
            self._removed.discard(item)  # its entry is still in the array
        else:
            self._array.append(item)  # type: ignore[union-attr]

    def discard(self, item: int) -> None:
        """Remove an id (present in the group)."""
        if self._set is not None:
            self._set.discard(item)
            return
        self._removed.add(item)
        if len(self._removed) * 4 > len(self._array):  # type: ignore[arg-type]
            removed = self._removed
            self._array = array("q", (i for i in self._array if i not in removed))  # type: ignore[union-attr]
            self._removed = set()

    def ids(self) -> set[int]:
        """The ids as a set (a copy for large groups)."""
        if self._set is not None:
            return self._set
        return set(self._array) - self._removed  # type: ignore[arg-type]


def decode(blob: bytes) -> Payload:
    """A stored payload, as a new object (orjson reads these small documents about 4x faster
    than ``json``, and a search reads every candidate's: 50 or more; an integer past 64 bits,
    which only ``json`` reads, falls back to it)."""
    try:
        return orjson.loads(blob)
    except orjson.JSONDecodeError:
        return json.loads(blob)


def encode(payload: Payload) -> bytes:
    """A payload as the compact JSON bytes the table holds and the payload file stores."""
    return json.dumps(payload, separators=(",", ":")).encode()


class PayloadTable:
    """id -> payload (compact JSON), plus field -> value -> ids for the fields with few values."""

    def __init__(self, payloads: dict[int, Payload] | None = None) -> None:
        self._blobs: dict[int, bytes] = {}
        self._index: dict[str, dict[tuple[str, Scalar], IdGroup]] = {}
        self._wide: set[str] = set()  # fields whose index was dropped: too many distinct values
        self._columns: dict[str, tuple[list[int], list[object]]] = {}  # field -> (ids, values)
        self._derived: dict[tuple[str, str], object] = {}  # numeric arrays, value lookups
        self._sample: list[int] | None = None
        self.dirty = False
        for item, payload in (payloads or {}).items():
            self._put(int(item), payload, encode(payload))

    def __len__(self) -> int:
        return len(self._blobs)

    def __contains__(self, item: int) -> bool:
        return item in self._blobs

    def ids(self) -> np.ndarray:
        """Every item id."""
        return np.fromiter(self._blobs, np.int64, len(self._blobs))

    def get(self, item: int) -> Payload:
        """A copy of an item's payload."""
        return decode(self._blobs[item])

    def set_metadata(self, ids: Iterable[int], metadata: Iterable[Payload]) -> None:
        """Replace the ``metadata`` object of these ids (unknown ids are skipped)."""
        for item, values in zip(ids, metadata, strict=True):
            if int(item) in self._blobs:
                payload = {**self.get(int(item)), METADATA: dict(values)}
                self.remove(int(item))
                self._put(int(item), payload, encode(payload))
        self.dirty = True

    def upsert(self, ids: Iterable[int], payloads: Iterable[Payload]) -> None:
        """Set the payloads of these ids (already checked to be plain JSON by the store)."""
        for item, payload in zip(ids, payloads, strict=True):
            self.remove(int(item))
            self._put(int(item), payload, encode(payload))
        self.dirty = True

    def remove(self, item: int) -> bool:
        """Forget an item; returns whether it existed."""
        blob = self._blobs.pop(item, None)
        if blob is None:
            return False
        self._sample = None
        self._columns.clear()  # rare (replacements, deletions): columns are read again when asked
        self._derived.clear()
        for field, value in fields(decode(blob)):
            column = self._index.get(field)
            for key in {_key(k) for k in _keys(value)} if column is not None else ():
                ids = column.get(key)
                if ids is not None:
                    ids.discard(item)
                    if not ids:
                        del column[key]
        self.dirty = True
        return True

    def accepts(self, item: int, filter: Filter) -> bool:
        """Whether one item meets every condition of the filter (a post-filter's check)."""
        blob = self._blobs.get(item)
        if blob is None or (filter.ids is not None and item not in filter.ids):
            return False
        payload = decode(blob)
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
        if not self._blobs:
            return 0.0
        if self._sample is None:
            population = list(self._blobs)
            self._sample = random.Random(0).sample(population, min(sample, len(population)))
        return sum(self.accepts(i, filter) for i in self._sample) / len(self._sample)

    def matching(self, filter: Filter) -> np.ndarray:
        """Ids of the items meeting every condition of the filter."""
        result: set[int] | None = set(filter.ids) if filter.ids is not None else None
        for field, accepted in filter.conditions():
            if field in self._wide:
                lookup = self._lookup(field)
                found = set().union(*(lookup.get(_key(v), set()) for v in accepted))
            else:
                column = self._index.get(field, {})
                found = set().union(*(column[_key(v)].ids() for v in accepted if _key(v) in column))
            result = found if result is None else result & found
        for field, bounds in filter.ranges.items():  # numbers: a cached column, compared at once
            ids, values = self._numeric(field)
            inside = np.ones(len(ids), bool)
            if bounds.gte is not None:
                inside &= values >= bounds.gte
            if bounds.lte is not None:
                inside &= values <= bounds.lte
            found = set(ids[inside].tolist())
            result = found if result is None else result & found
        for field, bounds in filter.dates.items():
            ids, values = self._column(field)
            found = {i for i, v in zip(ids, values, strict=True) if _in_range(v, bounds)}
            result = found if result is None else result & found
        for field in filter.exists:
            ids, values = self._column(field)
            found = {i for i, v in zip(ids, values, strict=True) if has_value(v)}
            result = found if result is None else result & found
        if result is None:
            return self.ids()
        return np.fromiter((i for i in result if i in self._blobs), np.int64)

    def _column(self, field: str) -> tuple[list[int], list[object]]:
        """Ids and values of the items that have the field, read out of the payloads once and
        then extended as items are added."""
        column = self._columns.get(field)
        if column is None:
            ids: list[int] = []
            values: list[object] = []
            for item, blob in self._blobs.items():
                value = value_at(decode(blob), field)
                if value is not None:
                    ids.append(item)
                    values.append(value)
            column = self._columns[field] = (ids, values)
        return column

    def _numeric(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """Ids and values of a numeric field as arrays (each number of a list value counts)."""
        key = (field, "numeric")
        if key not in self._derived:
            pairs = [
                (item, v)
                for item, value in zip(*self._column(field), strict=True)
                for v in (value if isinstance(value, list | tuple) else [value])
                if isinstance(v, int | float) and not isinstance(v, bool)
            ]
            self._derived[key] = (
                np.array([i for i, _ in pairs], np.int64),
                np.array([v for _, v in pairs], np.float64),
            )
        return self._derived[key]  # type: ignore[return-value]

    def _lookup(self, field: str) -> dict[tuple[str, Scalar], set[int]]:
        """value -> ids of a field without an index, built from its column when first asked."""
        key = (field, "lookup")
        if key not in self._derived:
            lookup: dict[tuple[str, Scalar], set[int]] = {}
            for item, value in zip(*self._column(field), strict=True):
                for v in _keys(value):
                    lookup.setdefault(_key(v), set()).add(item)
            self._derived[key] = lookup
        return self._derived[key]  # type: ignore[return-value]

    def _put(self, item: int, payload: Payload, blob: bytes) -> None:
        self._sample = None
        self._blobs[item] = blob
        limit = max(INDEX_FLOOR, INDEX_SHARE * len(self._blobs))
        for field, value in fields(payload):
            column = self._columns.get(field)
            if column is not None and value is not None:
                column[0].append(item)
                column[1].append(value)
                self._derived.pop((field, "numeric"), None)
                self._derived.pop((field, "lookup"), None)
            if field in self._wide:
                continue
            index = self._index.setdefault(field, {})
            for key in {_key(k) for k in _keys(value)}:  # a list may repeat a value
                index.setdefault(key, IdGroup()).add(item)
            if len(index) > limit:  # a value per item: scanning is cheaper than the index
                del self._index[field]
                self._wide.add(field)

    def save(self, path: Path) -> None:
        """Write every payload as JSON Lines, ``[id,payload]`` (the caller makes it atomic)."""
        with open(path, "wb") as handle:
            for item, blob in self._blobs.items():
                handle.write(b"[%d,%s]\n" % (item, blob))

    @classmethod
    def load(cls, path: Path) -> PayloadTable:
        """Read payloads written by :meth:`save`, or the one-array file of format 1 stores."""
        table = cls()
        with open(path, "rb") as handle:
            head = handle.read(2)
            handle.seek(0)
            if head in (b"[[", b"[]"):  # format 1: one JSON array of [id, payload] pairs
                for item, payload in json.load(handle):
                    table._put(int(item), payload, encode(payload))
                return table
            for line in handle:
                comma = line.index(b",")
                blob = line[comma + 1 : line.rindex(b"]")]
                table._put(int(line[1:comma]), decode(blob), blob)
        return table
