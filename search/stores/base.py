"""The small interface every vector store implements, with its typed inputs, results and checks.

A *collection* holds items; each item has a stable 64-bit id, one vector per named embedding *space*
(e.g. ``clip`` 512-d and ``dino`` 768-d) and a small JSON payload. Stores differ in engine, never in
behaviour: ``tests/search/stores/test_stores_contract.py`` runs the same suite against every backend
registered in ``anyseek.settings.STORE_BACKENDS``.
"""

from __future__ import annotations

import contextlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from anyseek.errors import AnyseekError, NotFoundError

Metric = Literal["cosine", "dot"]
Scalar = str | int | bool
Payload = dict[str, Any]
FieldKind = Literal["string", "number", "boolean", "date", "strings"]
"""What a payload field holds, for payload indexes: text, a number, true/false, an RFC 3339 date,
or a list of texts (tags)."""

METADATA = "metadata"
"""The payload key under which an item's user metadata is stored (``metadata.<field>``)."""

MAX_K = 10_000
"""Largest ``k`` a search accepts: beyond it the caller wants an export, not a search."""
MAX_ID = 2**63 - 1
"""Ids are non-negative signed 64-bit integers, which both FAISS and Qdrant can hold."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")  # '@': version names (name@v2)


class InvalidInputError(AnyseekError, ValueError):
    """Vectors, ids, k or a filter that a store cannot accept (wrong shape, NaN, duplicates...)."""


class SpaceMismatchError(AnyseekError):
    """A collection exists with spaces that differ from the ones asked for."""


def check_name(kind: str, name: str) -> str:
    """A collection or space name that is safe as a file name and a Qdrant name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"invalid {kind} name {name!r}: use 1-128 letters, digits, '_', '-', '.' or '@', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class SpaceSpec:
    """One embedding space of a collection: its name, vector dimension and similarity metric."""

    name: str
    dim: int
    metric: Metric = "cosine"

    def __post_init__(self) -> None:
        check_name("space", self.name)
        if not isinstance(self.dim, int) or not 1 <= self.dim <= 65_536:
            raise InvalidInputError(f"space {self.name!r}: dim must be 1..65536, got {self.dim!r}")
        if self.metric not in ("cosine", "dot"):
            raise InvalidInputError(
                f"space {self.name!r}: metric must be 'cosine' or 'dot', got {self.metric!r}"
            )


@dataclass(frozen=True)
class Range:
    """Numeric bounds on a payload field, both inclusive; ``None`` leaves that side open."""

    gte: float | None = None
    lte: float | None = None

    def __post_init__(self) -> None:
        for bound in (self.gte, self.lte):
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, int | float) or bound != bound
            ):
                raise InvalidInputError(f"range bounds must be numbers, got {bound!r}")
        if self.gte is None and self.lte is None:
            raise InvalidInputError("a range needs gte, lte or both")
        if self.gte is not None and self.lte is not None and self.gte > self.lte:
            raise InvalidInputError(f"empty range: gte {self.gte} > lte {self.lte}")

    def contains(self, value: object) -> bool:
        """Whether a payload value is a number (not a boolean) within the bounds."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (self.gte is None or value >= self.gte) and (self.lte is None or value <= self.lte)


def parse_date(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 date or date-time as an aware UTC datetime (naive = UTC), or None."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class DateRange:
    """Bounds on a date field (RFC 3339 strings in the payload), both inclusive; None: open."""

    gte: datetime | None = None
    lte: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("gte", "lte"):
            bound = getattr(self, name)
            if bound is not None:
                moment = parse_date(bound)
                if moment is None:
                    raise InvalidInputError(f"date range bounds must be ISO dates, got {bound!r}")
                object.__setattr__(self, name, moment)
        if self.gte is None and self.lte is None:
            raise InvalidInputError("a date range needs gte, lte or both")
        if self.gte is not None and self.lte is not None and self.gte > self.lte:
            raise InvalidInputError(f"empty date range: gte {self.gte} > lte {self.lte}")

    def contains(self, value: object) -> bool:
        """Whether a payload value is a date within the bounds."""
        moment = parse_date(value) if isinstance(value, str) else None
        if moment is None:
            return False
        return (self.gte is None or moment >= self.gte) and (self.lte is None or moment <= self.lte)


@dataclass(frozen=True)
class Filter:
    """Conditions an item must meet to be returned; all of them must hold (AND).

    ``equals`` maps a payload field to a value it must have; ``any_of`` maps a field to values of
    which it must have one. A payload field holding a list matches when any element matches (as
    in Qdrant). ``ranges`` maps a numeric field (size, mtime...) to inclusive bounds, ``dates`` a
    date field to inclusive date bounds. ``exists`` names fields that must hold a value (not
    missing, null or an empty list). ``ids`` restricts the search to a set of item ids. Field
    names are payload keys; user metadata fields are ``metadata.<name>``.
    """

    equals: Mapping[str, Scalar] = field(default_factory=dict)
    any_of: Mapping[str, Sequence[Scalar]] = field(default_factory=dict)
    ids: Collection[int] | None = None
    ranges: Mapping[str, Range] = field(default_factory=dict)
    dates: Mapping[str, DateRange] = field(default_factory=dict)
    exists: Collection[str] = ()

    def __post_init__(self) -> None:
        for key, value in self.equals.items():
            _check_filter_value(key, value)
        for key, values in self.any_of.items():
            if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
                raise InvalidInputError(f"filter any_of[{key!r}] must be a non-empty list")
            for value in values:
                _check_filter_value(key, value)
        for key, bounds in self.ranges.items():
            if not isinstance(key, str) or not key or not isinstance(bounds, Range):
                raise InvalidInputError(f"filter ranges[{key!r}] must be a Range on a named field")
        for key, bounds in self.dates.items():
            if not isinstance(key, str) or not key or not isinstance(bounds, DateRange):
                raise InvalidInputError(f"filter dates[{key!r}] must be a DateRange on a field")
        if isinstance(self.exists, str) or not all(
            isinstance(key, str) and key for key in self.exists
        ):
            raise InvalidInputError("filter exists must be a list of field names")
        object.__setattr__(self, "exists", tuple(dict.fromkeys(self.exists)))
        if self.ids is not None:
            object.__setattr__(
                self, "ids", frozenset(check_ids(list(self.ids), unique=False).tolist())
            )

    def conditions(self) -> list[tuple[str, tuple[Scalar, ...]]]:
        """Every payload condition as (field, accepted values)."""
        return [(k, (v,)) for k, v in self.equals.items()] + [
            (k, tuple(vs)) for k, vs in self.any_of.items()
        ]


def _check_filter_value(key: str, value: object) -> None:
    """Filter values are strings, integers or booleans: exact matches (floats compare badly)."""
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"filter field must be a non-empty string, got {key!r}")
    if not isinstance(value, str | int | bool):
        raise InvalidInputError(
            f"filter value for {key!r} must be a string, integer or boolean, got {value!r}"
        )


@dataclass(frozen=True)
class SearchHit:
    """One item found: its id, similarity (cosine or dot product; higher is closer) and payload."""

    id: int
    score: float
    payload: Payload = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    """The best hits for one query vector, best first."""

    hits: tuple[SearchHit, ...]

    @property
    def ids(self) -> list[int]:
        """The hit ids, best first."""
        return [hit.id for hit in self.hits]


@dataclass(frozen=True)
class StoredItem:
    """An item as stored: its vectors per space (normalised for cosine spaces) and payload."""

    id: int
    vectors: dict[str, np.ndarray]
    payload: Payload


@dataclass(frozen=True)
class StoreHealth:
    """Whether the store can serve requests, and why not when it cannot."""

    ready: bool
    backend: str
    detail: str = ""


class VectorStore(ABC):
    """Collections of items with one vector per named space, searchable by similarity.

    Every backend is built the same way, ``Backend(settings: StoreSettings)``, and registered once
    in ``search.stores.BACKENDS``; the contract suite runs over that registry.
    """

    backend: str = "abstract"

    def ensure_collection(self, name: str, spaces: Sequence[SpaceSpec]) -> None:
        """Create the collection, or check that the existing one has exactly these spaces."""
        check_name("collection", name)
        spaces = check_spaces(spaces)
        with self._exclusive(f"create collection {name!r}"):
            if name not in self.collections():
                self._create_collection(name, spaces)
                return
            existing = self.spaces(name)
        if set(existing) != set(spaces):
            raise SpaceMismatchError(
                f"collection {name!r} exists with spaces {describe_spaces(existing)}, "
                f"not {describe_spaces(spaces)}"
            )

    def _exclusive(self, action: str) -> AbstractContextManager[object]:
        """Held while a collection is looked up and created (a backend's lock or error mapping)."""
        return contextlib.nullcontext()

    @abstractmethod
    def _create_collection(self, name: str, spaces: tuple[SpaceSpec, ...]) -> None:
        """Create a collection known not to exist, with validated spaces."""

    @abstractmethod
    def collections(self) -> list[str]:
        """Names of all collections."""

    @abstractmethod
    def spaces(self, collection: str) -> tuple[SpaceSpec, ...]:
        """The spaces of a collection."""

    @abstractmethod
    def upsert(
        self,
        collection: str,
        ids: Sequence[int],
        vectors: Mapping[str, np.ndarray],
        payloads: Sequence[Payload] | None = None,
    ) -> None:
        """Insert or replace items: each id gets its row of every given space and its payload.

        An upsert replaces the whole item; spaces not given are removed for these ids.
        """

    @abstractmethod
    def set_metadata(
        self, collection: str, ids: Sequence[int], metadata: Sequence[Mapping[str, Any]]
    ) -> None:
        """Replace the user metadata (payload key ``metadata``) of existing items, keeping the
        rest of their payload and their vectors; unknown ids are ignored."""

    def index_fields(self, collection: str, fields: Mapping[str, FieldKind]) -> None:
        """Build payload indexes for these payload keys, so filters on them stay fast (a store
        that indexes every field, or needs none, does nothing)."""
        return None

    @abstractmethod
    def delete(self, collection: str, ids: Sequence[int]) -> None:
        """Remove items by id; unknown ids are ignored."""

    @abstractmethod
    def search(
        self,
        collection: str,
        space: str,
        queries: np.ndarray,
        k: int = 10,
        filter: Filter | None = None,
        with_payload: bool = True,
    ) -> list[SearchResult]:
        """The ``k`` nearest items for each query row (one 1-d query or a 2-d batch); hits carry
        an empty payload unless ``with_payload`` (reading payloads is most of a search's cost)."""

    @abstractmethod
    def retrieve(
        self,
        collection: str,
        ids: Sequence[int],
        with_vectors: bool = True,
        with_payload: bool = True,
    ) -> list[StoredItem]:
        """Stored items by id, in the order asked; unknown ids are left out. Without
        ``with_vectors``/``with_payload`` those parts are left empty."""

    @abstractmethod
    def count(self, collection: str) -> int:
        """Number of items in a collection."""

    @abstractmethod
    def flush(self) -> None:
        """Make every change so far durable."""

    @abstractmethod
    def drop(self, collection: str) -> None:
        """Delete a collection and everything in it; unknown names are ignored."""

    @abstractmethod
    def set_alias(self, alias: str, collection: str) -> None:
        """Point ``alias`` at ``collection`` in one atomic step (created or moved)."""

    @abstractmethod
    def alias_target(self, alias: str) -> str | None:
        """The collection ``alias`` points at, or None when there is no such alias."""

    @abstractmethod
    def delete_alias(self, alias: str) -> None:
        """Remove an alias (not its collection); unknown aliases are ignored."""

    @abstractmethod
    def health(self) -> StoreHealth:
        """Whether the store answers; never raises."""

    def close(self) -> None:
        """Flush and release files, locks and connections."""
        self.flush()

    def ready(self) -> bool:
        """Shorthand for ``health().ready``."""
        return self.health().ready

    def claim_writer(self) -> None:
        """Become the store's writer now, before a change that must not stop half-way; raises
        :class:`ServiceUnavailableError` while another process writes (a single-writer store
        such as FAISS). By default nothing: the store takes many writers."""
        return None

    def use_for_single_queries(self) -> None:
        """Set up the calling thread to search one query at a time (the server's inference
        thread); by default nothing."""
        return None

    def nearest_ids(self, collection: str, space: str, queries: np.ndarray, k: int) -> np.ndarray:
        """Ids of about the k nearest items per query row, -1 where fewer: a cheaper search for
        write-time checks (near-duplicates) that may miss a neighbour an ordinary search finds.
        Backends without a cheaper mode search as usual."""
        results = self.search(collection, space, queries, k)
        out = np.full((len(results), k), -1, np.int64)
        for row, result in enumerate(results):
            out[row, : len(result.ids)] = result.ids
        return out

    def search_spaces(
        self,
        collection: str,
        queries: Mapping[str, np.ndarray],
        k: int = 10,
        filter: Filter | None = None,
    ) -> dict[str, list[SearchResult]]:
        """Search several spaces at once: one batch of queries per space name."""
        return {space: self.search(collection, space, q, k, filter) for space, q in queries.items()}

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- input checks shared by every backend -------------------------------------------------------


def space_of(spaces: Iterable[SpaceSpec], collection: str, name: str) -> SpaceSpec:
    """The named space of a collection, or a NotFoundError listing the ones that exist."""
    spaces = tuple(spaces)
    for space in spaces:
        if space.name == name:
            return space
    names = ", ".join(sorted(s.name for s in spaces))
    raise NotFoundError(f"collection {collection!r} has no space {name!r} (spaces: {names})")


def check_spaces(spaces: Sequence[SpaceSpec]) -> tuple[SpaceSpec, ...]:
    """A non-empty tuple of specs with distinct names."""
    spaces = tuple(spaces)
    if not spaces or not all(isinstance(s, SpaceSpec) for s in spaces):
        raise InvalidInputError("a collection needs at least one SpaceSpec")
    names = [s.name for s in spaces]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"space names must be distinct, got {names}")
    return spaces


def describe_spaces(spaces: Iterable[SpaceSpec]) -> str:
    """Spaces as ``name(dim, metric)`` for error messages."""
    return ", ".join(f"{s.name}({s.dim}, {s.metric})" for s in sorted(spaces, key=lambda s: s.name))


def check_ids(ids: Sequence[int] | np.ndarray, unique: bool = True) -> np.ndarray:
    """Ids as an int64 array, each in 0..2**63-1, distinct when ``unique``."""
    try:
        array = np.asarray(ids)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"ids must be a list of integers: {exc}") from None
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InvalidInputError("ids must be a flat list of integers")
    if array.size and (array.min() < 0 or array.max() > MAX_ID):
        raise InvalidInputError(f"ids must be between 0 and {MAX_ID}")
    array = array.astype(np.int64, copy=False)
    if unique and len(np.unique(array)) != len(array):
        values, counts = np.unique(array, return_counts=True)
        raise InvalidInputError(f"duplicate ids in one upsert: {values[counts > 1][:5].tolist()}")
    return array


def check_k(k: int) -> int:
    """``k`` between 1 and MAX_K."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
    return int(k)


def prepare_vectors(space: SpaceSpec, vectors: np.ndarray, rows: int | None = None) -> np.ndarray:
    """A C-contiguous float32 (n, dim) matrix, finite, L2-normalised for cosine spaces."""
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"space {space.name!r}: vectors are not numeric: {exc}") from None
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] != space.dim:
        raise InvalidInputError(
            f"space {space.name!r} expects vectors of dimension {space.dim}, got shape "
            f"{tuple(np.shape(vectors))}"
        )
    if rows is not None and matrix.shape[0] != rows:
        raise InvalidInputError(f"space {space.name!r}: {matrix.shape[0]} vectors for {rows} ids")
    # one pass: a row's squared norm (in float64, so big finite values cannot overflow) is finite
    # exactly when every value in the row is
    squares = np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64)
    if not np.isfinite(squares).all():
        bad = int(np.flatnonzero(~np.isfinite(squares))[0])
        raise InvalidInputError(f"space {space.name!r}: vector {bad} contains NaN or infinity")
    if space.metric == "cosine":
        if not squares.all():
            bad = int(np.flatnonzero(squares == 0)[0])
            raise InvalidInputError(
                f"space {space.name!r}: vector {bad} is all zeros and has no direction"
            )
        matrix = matrix / np.sqrt(squares).astype(np.float32)[:, None]
    return np.ascontiguousarray(matrix, dtype=np.float32)


def check_payloads(payloads: Sequence[Payload] | None, rows: int) -> list[Payload]:
    """One JSON-object payload per id (empty when none are given)."""
    if payloads is None:
        return [{} for _ in range(rows)]
    payloads = list(payloads)
    if len(payloads) != rows:
        raise InvalidInputError(f"{len(payloads)} payloads for {rows} ids")
    for payload in payloads:
        if not isinstance(payload, dict) or not all(isinstance(key, str) for key in payload):
            raise InvalidInputError("each payload must be a dict with string keys")
        try:  # plain JSON only, so every backend stores and returns exactly the same thing
            json.dumps(payload, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"payload is not plain JSON: {exc}") from None
    return payloads


def check_metadata_update(
    ids: Sequence[int], metadata: Sequence[Mapping[str, Any]]
) -> tuple[np.ndarray, list[Payload]]:
    """Ids and one plain-JSON metadata object each, for :meth:`VectorStore.set_metadata`."""
    id_array = check_ids(ids)
    return id_array, check_payloads([dict(m) for m in metadata], len(id_array))


def check_upsert(
    spaces: Sequence[SpaceSpec],
    collection: str,
    ids: Sequence[int],
    vectors: Mapping[str, np.ndarray],
    payloads: Sequence[Payload] | None,
) -> tuple[np.ndarray, dict[str, np.ndarray], list[Payload]]:
    """Validate a whole upsert before anything is written, so a bad batch changes nothing."""
    id_array = check_ids(ids)
    if not vectors:
        raise InvalidInputError("an upsert needs vectors for at least one space")
    prepared = {
        name: prepare_vectors(space_of(spaces, collection, name), matrix, rows=len(id_array))
        for name, matrix in vectors.items()
    }
    return id_array, prepared, check_payloads(payloads, len(id_array))
