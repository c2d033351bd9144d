"""QdrantStore: a Qdrant collection per anyseek collection, one named vector per space.

The same class serves a Qdrant server or cluster (``qdrant_url``: the scale-out path) and
qdrant-client's embedded local mode (``path``: a folder or ``':memory:'``), so tests of local
mode exercise the code the server path runs. Errors from an unreachable server become
``ServiceUnavailableError`` and ``health()`` reports not ready instead of raising.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

import httpx
import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from anyseek.errors import AnyseekError, NotFoundError, ServiceUnavailableError
from anyseek.search.stores import base
from anyseek.settings import StoreSettings

log = logging.getLogger(__name__)

DISTANCES = {"cosine": models.Distance.COSINE, "dot": models.Distance.DOT}
METRICS = {distance: metric for metric, distance in DISTANCES.items()}
FIELD_SCHEMAS: dict[base.FieldKind, models.PayloadSchemaType] = {
    "string": models.PayloadSchemaType.KEYWORD,
    "strings": models.PayloadSchemaType.KEYWORD,
    "number": models.PayloadSchemaType.FLOAT,
    "boolean": models.PayloadSchemaType.BOOL,
    "date": models.PayloadSchemaType.DATETIME,
}
"""The Qdrant payload index built for each kind of field."""


class QdrantStore(base.VectorStore):
    """Vector store on Qdrant through qdrant-client (server, or embedded local mode)."""

    backend = "qdrant"

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self.url = settings.qdrant_url  # server mode when set, else local mode in settings.path
        self.path = None if self.url else (settings.path or ":memory:")
        self.where = self.url or f"local {self.path}"
        # local mode is plain Python state, not safe for concurrent calls; a server client is
        self._serial = threading.RLock() if self.url is None else contextlib.nullcontext()
        self.client = self._connect()

    def _connect(self) -> QdrantClient:
        """A client; local mode opens (and locks) its folder here, server mode connects lazily."""
        key = self.settings.qdrant_api_key
        try:
            if self.url is not None:
                return QdrantClient(
                    url=self.url,
                    api_key=key.get_secret_value() if key else None,
                    timeout=self.settings.qdrant_timeout,
                    check_compatibility=False,
                )
            if self.path == ":memory:":
                return QdrantClient(location=":memory:")
            return QdrantClient(path=self.path)
        except (RuntimeError, OSError, ValueError) as exc:  # local folder locked or unwritable
            raise ServiceUnavailableError(f"cannot open Qdrant {self.where}: {exc}") from None

    @contextlib.contextmanager
    def _calls(self, action: str) -> Iterator[None]:
        """Translate client and transport errors into anyseek errors naming the server."""
        try:
            with self._serial:
                yield
        except AnyseekError:
            raise
        except (ResponseHandlingException, httpx.TransportError, ConnectionError) as exc:
            raise ServiceUnavailableError(
                f"Qdrant at {self.where} is not reachable ({action}): {_root_cause(exc)}"
            ) from None
        except UnexpectedResponse as exc:
            raise ServiceUnavailableError(
                f"Qdrant at {self.where} refused {action}: HTTP {exc.status_code} "
                f"{exc.content.decode(errors='replace')[:300]}"
            ) from None

    # --- collections -----------------------------------------------------------------------

    def _exclusive(self, action: str) -> AbstractContextManager[object]:
        """Serialised (local mode) and with transport errors named after the server."""
        return self._calls(action)

    def _create_collection(self, name: str, spaces: tuple[base.SpaceSpec, ...]) -> None:
        """Create the collection with one named vector per space."""
        s = self.settings
        with self._calls(f"create collection {name!r}"):
            self.client.create_collection(
                name,
                vectors_config={
                    space.name: models.VectorParams(
                        size=space.dim, distance=DISTANCES[space.metric]
                    )
                    for space in spaces
                },
                hnsw_config=models.HnswConfigDiff(m=s.hnsw_m, ef_construct=s.hnsw_ef_construct),
            )

    def collections(self) -> list[str]:
        """Names of all collections."""
        with self._calls("list collections"):
            return sorted(c.name for c in self.client.get_collections().collections)

    def spaces(self, collection: str) -> tuple[base.SpaceSpec, ...]:
        """The spaces, read back from the collection's named vectors."""
        base.check_name("collection", collection)
        with self._calls(f"describe collection {collection!r}"):
            if not self.client.collection_exists(collection):
                raise NotFoundError(f"no collection named {collection!r}")
            vectors = self.client.get_collection(collection).config.params.vectors
        if not isinstance(vectors, dict):
            raise base.InvalidInputError(
                f"Qdrant collection {collection!r} has an unnamed vector; anyseek needs named ones"
            )
        return tuple(
            base.SpaceSpec(name, params.size, METRICS[params.distance])
            for name, params in sorted(vectors.items())
        )

    def drop(self, collection: str) -> None:
        """Delete a collection; unknown names are ignored."""
        base.check_name("collection", collection)
        with self._calls(f"drop collection {collection!r}"):
            if self.client.collection_exists(collection):
                self.client.delete_collection(collection)

    def set_alias(self, alias: str, collection: str) -> None:
        """Move (or create) a Qdrant alias in one atomic alias-update request."""
        base.check_name("alias", alias)
        base.check_name("collection", collection)
        with self._calls(f"point alias {alias!r} at {collection!r}"):
            operations: list = []
            if self._alias_target(alias) is not None:
                operations.append(
                    models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))
                )
            operations.append(
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
                )
            )
            self.client.update_collection_aliases(change_aliases_operations=operations)

    def alias_target(self, alias: str) -> str | None:
        """The collection a Qdrant alias points at."""
        base.check_name("alias", alias)
        with self._calls(f"read alias {alias!r}"):
            return self._alias_target(alias)

    def _alias_target(self, alias: str) -> str | None:
        """The alias's collection, read from the server's alias list."""
        for found in self.client.get_aliases().aliases:
            if found.alias_name == alias:
                return found.collection_name
        return None

    def delete_alias(self, alias: str) -> None:
        """Remove a Qdrant alias."""
        base.check_name("alias", alias)
        with self._calls(f"delete alias {alias!r}"):
            if self._alias_target(alias) is not None:
                self.client.update_collection_aliases(
                    change_aliases_operations=[
                        models.DeleteAliasOperation(
                            delete_alias=models.DeleteAlias(alias_name=alias)
                        )
                    ]
                )

    # --- items -----------------------------------------------------------------------------

    def _upsert(self, collection: str, batch: base.UpsertBatch) -> None:
        """Insert or replace whole points, in batches of ``qdrant_batch_size``."""
        size = self.settings.qdrant_batch_size
        with self._calls(f"upsert into {collection!r}"):
            for start in range(0, len(batch.ids), size):
                stop = start + size
                rows = {name: matrix[start:stop].tolist() for name, matrix in batch.vectors.items()}
                points = [
                    models.PointStruct(
                        id=int(item),
                        vector={name: rows[name][n] for name in rows},
                        payload=batch.payloads[start + n],
                    )
                    for n, item in enumerate(batch.ids[start:stop])
                ]
                self.client.upsert(collection, points=points, wait=True)

    def _set_metadata(self, collection: str, ids: np.ndarray, metadata: list[base.Payload]) -> None:
        """Replace the ``metadata`` payload key of existing points in one batched request."""
        present = {item.id for item in self.retrieve(collection, ids, with_vectors=False)}
        operations = [
            models.SetPayloadOperation(
                set_payload=models.SetPayload(payload={base.METADATA: value}, points=[int(item)])
            )
            for item, value in zip(ids.tolist(), metadata, strict=True)
            if item in present
        ]
        if operations:
            with self._calls(f"set metadata in {collection!r}"):
                self.client.batch_update_points(collection, operations, wait=True)

    def index_fields(self, collection: str, fields: Mapping[str, base.FieldKind]) -> None:
        """A payload index per field not indexed yet (local mode keeps none: it scans)."""
        self.spaces(collection)
        with self._calls(f"index payload fields of {collection!r}"):
            existing = self.client.get_collection(collection).payload_schema or {}
            for key, kind in fields.items():
                if key in existing:
                    continue
                with warnings.catch_warnings():  # local mode: "payload indexes have no effect"
                    warnings.simplefilter("ignore")
                    self.client.create_payload_index(
                        collection, key, field_schema=FIELD_SCHEMAS[kind], wait=True
                    )

    def _delete(self, collection: str, ids: np.ndarray) -> None:
        """Remove points by id; unknown ids are ignored."""
        with self._calls(f"delete from {collection!r}"):
            self.client.delete(
                collection,
                points_selector=models.PointIdsList(points=[int(i) for i in ids]),
                wait=True,
            )

    def _retrieve(
        self, collection: str, ids: np.ndarray, with_vectors: bool, with_payload: bool
    ) -> list[base.StoredItem]:
        """Stored points in the order asked; unknown ids are left out."""
        self.spaces(collection)
        with self._calls(f"retrieve from {collection!r}"):
            records = self.client.retrieve(
                collection,
                ids=[int(i) for i in ids],
                with_vectors=with_vectors,
                with_payload=with_payload,
            )
        by_id = {int(r.id): r for r in records}
        return [
            base.StoredItem(
                item,
                {
                    name: np.asarray(vector, np.float32)
                    for name, vector in (by_id[item].vector or {}).items()
                },
                dict(by_id[item].payload or {}),
            )
            for item in ids.tolist()
            if item in by_id
        ]

    def count(self, collection: str) -> int:
        """Number of points (exact count)."""
        self.spaces(collection)
        with self._calls(f"count {collection!r}"):
            return self.client.count(collection, exact=True).count

    def _search(self, query: base.VectorQuery) -> list[base.SearchResult]:
        """The k best points per query through one batched query request."""
        spaces = self.spaces(query.collection)
        matrix = query.matrix(spaces)
        for name in query.with_vectors:
            base.space_of(spaces, query.collection, name)  # an unknown space: NotFoundError
        query_filter = _to_qdrant(query.filter)
        # local mode always searches exactly (and warns about search params it ignores)
        hnsw_ef = max(self.settings.hnsw_ef_search, query.k)
        params = models.SearchParams(hnsw_ef=hnsw_ef) if self.url else None
        requests = [
            models.QueryRequest(
                query=row.tolist(),
                using=query.space,
                limit=query.k,
                filter=query_filter,
                params=params,
                with_payload=query.with_payload,
                with_vector=list(query.with_vectors) or False,
            )
            for row in matrix
        ]
        with self._calls(f"search {query.collection!r}"):
            responses = self.client.query_batch_points(query.collection, requests=requests)
        return [
            base.SearchResult(
                tuple(
                    base.SearchHit(
                        int(p.id),
                        float(p.score),
                        dict(p.payload or {}),
                        {
                            name: np.asarray(vector, np.float32)
                            for name, vector in (p.vector or {}).items()
                            if name in query.with_vectors
                        },
                    )
                    for p in r.points
                )
            )
            for r in responses
        ]

    # --- lifecycle -------------------------------------------------------------------------

    def flush(self) -> None:
        """Nothing to do: Qdrant persists each acknowledged write (local mode writes per call)."""

    def close(self) -> None:
        """Release the client (and the local folder's lock)."""
        with contextlib.suppress(Exception):
            self.client.close()

    def health(self) -> base.StoreHealth:
        """Ready when a cheap request succeeds; never raises."""
        try:
            with self._calls("health check"):
                self.client.get_collections()
        except AnyseekError as exc:
            return base.StoreHealth(False, self.backend, str(exc))
        return base.StoreHealth(True, self.backend, self.where)


def _to_qdrant(filter: base.Filter | None) -> models.Filter | None:
    """Our filter as a Qdrant filter: one ``must`` condition per field, plus the id set; each
    field that must exist is a ``must_not`` is-empty condition."""
    if filter is None:
        return None
    must: list[Any] = [
        models.FieldCondition(
            key=key,
            match=models.MatchValue(value=values[0])
            if len(values) == 1
            else models.MatchAny(any=list(values)),
        )
        for key, values in filter.conditions()
    ]
    must += [
        models.FieldCondition(key=key, range=models.Range(gte=bounds.gte, lte=bounds.lte))
        for key, bounds in filter.ranges.items()
    ]
    must += [
        models.FieldCondition(key=key, range=models.DatetimeRange(gte=bounds.gte, lte=bounds.lte))
        for key, bounds in filter.dates.items()
    ]
    if filter.ids is not None:
        must.append(models.HasIdCondition(has_id=sorted(filter.ids)))
    must_not: list[Any] = [
        models.IsEmptyCondition(is_empty=models.PayloadField(key=key)) for key in filter.exists
    ]
    return models.Filter(must=must, must_not=must_not or None)


def _root_cause(exc: BaseException) -> str:
    """The innermost error message (the transport error under the client's wrapper)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return f"{type(exc).__name__}: {exc}"
