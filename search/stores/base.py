"""The small interface every vector store implements, with its typed queries and results.

Its vocabulary is importable from here: the inputs and their checks live in ``checks``, filters in
``filters``. ``VectorStore`` runs the checks shared by every backend (ids, ``k``, vectors,
payloads) and hands the backend validated input (``_upsert``, ``_search``, ...).

A *collection* holds items; each item has a stable 64-bit id, one vector per named embedding *space*
(e.g. ``clip`` 512-d and ``dino`` 768-d) and a small JSON payload. Stores differ in engine, never in
behaviour: ``tests/search/stores/test_stores_contract.py`` runs the same suite against every backend
registered in ``anyseek.settings.STORE_BACKENDS``.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

# the inputs, their checks and the filters are defined beside this module and re-exported here,
# so that the whole vocabulary of the interface is importable from ``anyseek.search.stores.base``
from anyseek.search.stores.checks import (  # noqa: F401
    MAX_ID,
    MAX_K,
    InvalidInputError,
    Metric,
    Payload,
    SpaceMismatchError,
    SpaceSpec,
    UpsertBatch,
    check_ids,
    check_k,
    check_metadata_update,
    check_name,
    check_spaces,
    check_upsert,
    describe_spaces,
    prepare_vectors,
    space_of,
)
from anyseek.search.stores.filters import DateRange, Filter, Range, Scalar, parse_date  # noqa: F401

FieldKind = Literal["string", "number", "boolean", "date", "strings"]
"""What a payload field holds, for payload indexes: text, a number, true/false, an RFC 3339 date,
or a list of texts (tags)."""

METADATA = "metadata"
"""The payload key under which an item's user metadata is stored (``metadata.<field>``)."""


@dataclass(frozen=True)
class VectorQuery:
    """One search as asked (``k`` checked): the raw query rows, prepared against the collection's
    spaces by the backend that looks them up."""

    collection: str
    space: str
    vectors: np.ndarray
    k: int
    filter: Filter | None = None
    with_payload: bool = True
    with_vectors: tuple[str, ...] = ()  # spaces whose stored vectors each hit carries

    def matrix(self, spaces: Iterable[SpaceSpec]) -> np.ndarray:
        """The query rows as the space holds vectors (NotFoundError for an unknown space)."""
        return prepare_vectors(space_of(spaces, self.collection, self.space), self.vectors)


@dataclass(frozen=True)
class SearchHit:
    """One item found: its id, similarity (cosine or dot product; higher is closer), payload and,
    when asked, its stored vectors in other spaces (so a caller scores it there without a
    second round trip)."""

    id: int
    score: float
    payload: Payload = field(default_factory=dict)
    vectors: Mapping[str, np.ndarray] = field(default_factory=dict)


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
    in ``anyseek.search.stores.BACKENDS``; the contract suite runs over that registry.
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
        """Held while a call looks a collection up and changes it (a backend's lock or error
        mapping), so the checks and the change see the same collection."""
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

    def upsert(
        self,
        collection: str,
        ids: Sequence[int],
        vectors: Mapping[str, np.ndarray],
        payloads: Sequence[Payload] | None = None,
    ) -> None:
        """Insert or replace items: each id gets its row of every given space and its payload.

        An upsert replaces the whole item; spaces not given are removed for these ids. The batch
        is validated in full before anything is written, so a bad batch changes nothing.
        """
        with self._exclusive(f"upsert into {collection!r}"):
            batch = check_upsert(self.spaces(collection), collection, ids, vectors, payloads)
            if len(batch.ids):
                self._upsert(collection, batch)

    @abstractmethod
    def _upsert(self, collection: str, batch: UpsertBatch) -> None:
        """Write a validated, non-empty batch into an existing collection."""

    def set_metadata(
        self, collection: str, ids: Sequence[int], metadata: Sequence[Mapping[str, Any]]
    ) -> None:
        """Replace the user metadata (payload key ``metadata``) of existing items, keeping the
        rest of their payload and their vectors; unknown ids are ignored."""
        with self._exclusive(f"set metadata in {collection!r}"):
            self.spaces(collection)  # an unknown collection fails before the values are checked
            id_array, values = check_metadata_update(ids, metadata)
            if len(id_array):
                self._set_metadata(collection, id_array, values)

    @abstractmethod
    def _set_metadata(self, collection: str, ids: np.ndarray, metadata: list[Payload]) -> None:
        """Replace the metadata of these (checked, distinct) ids where they exist."""

    def index_fields(self, collection: str, fields: Mapping[str, FieldKind]) -> None:
        """Build payload indexes for these payload keys, so filters on them stay fast (a store
        that indexes every field, or needs none, does nothing)."""
        return None

    def delete(self, collection: str, ids: Sequence[int]) -> None:
        """Remove items by id; unknown ids are ignored."""
        with self._exclusive(f"delete from {collection!r}"):
            self.spaces(collection)
            id_array = check_ids(ids, unique=False)
            if len(id_array):
                self._delete(collection, id_array)

    @abstractmethod
    def _delete(self, collection: str, ids: np.ndarray) -> None:
        """Remove these (checked, non-empty) ids from an existing collection."""

    def search(
        self,
        collection: str,
        space: str,
        queries: np.ndarray,
        k: int = 10,
        filter: Filter | None = None,
        with_payload: bool = True,
        with_vectors: Sequence[str] = (),
    ) -> list[SearchResult]:
        """The ``k`` nearest items for each query row (one 1-d query or a 2-d batch); hits carry
        an empty payload unless ``with_payload`` (reading payloads is most of a search's cost),
        and their stored vectors in the spaces ``with_vectors`` names (normalised for cosine
        spaces, as :meth:`retrieve` gives them; a space the item has no vector in is absent)."""
        return self._search(
            VectorQuery(
                collection, space, queries, check_k(k), filter, with_payload, tuple(with_vectors)
            )
        )

    @abstractmethod
    def _search(self, query: VectorQuery) -> list[SearchResult]:
        """Answer a query whose ``k`` is checked (its rows are prepared with ``query.matrix``)."""

    def retrieve(
        self,
        collection: str,
        ids: Sequence[int],
        with_vectors: bool = True,
        with_payload: bool = True,
    ) -> list[StoredItem]:
        """Stored items by id, in the order asked; unknown ids are left out. Without
        ``with_vectors``/``with_payload`` those parts are left empty."""
        return self._retrieve(collection, check_ids(ids, unique=False), with_vectors, with_payload)

    @abstractmethod
    def _retrieve(
        self, collection: str, ids: np.ndarray, with_vectors: bool, with_payload: bool
    ) -> list[StoredItem]:
        """Stored items of these (checked) ids, in this order, unknown ones left out."""

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
