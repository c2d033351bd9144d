"""The priors of the collection being searched, read from the metadata database and cached.

Official 4M models measure a query's information (what fusion across spaces weighs by) against
the collection's own priors, stored by the indexer (``anyseek.indexer.priors``). The searcher
passes them with each query (``QueryRequest.priors``); the shared model is never changed. A
collection without stored priors (indexed before, or by another model) is searched with the model's
own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from torch import Tensor

from anyseek.db.models import Collection, CollectionPriors
from anyseek.db.session import Database
from anyseek.model.service import PriorModel, SearchModel
from anyseek.search.resolve import PriorsKey


@dataclass(frozen=True)
class _Cached:
    """Priors as loaded, with what identifies the stored row they came from."""

    key: tuple[int, str, str]  # collection id, model version, created_at
    priors: Mapping[str, Tensor]


class CollectionPriorsLookup:
    """``lookup(collection)`` -> that collection's priors for the model, or None; thread-safe.

    One small query per search checks the stored row is the cached one (a collection deleted and
    indexed again gets its new priors); the blob is read only when it changed.
    """

    def __init__(self, database: Database, model: SearchModel) -> None:
        self.database = database
        self.model = model
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def __call__(self, collection: str) -> Mapping[str, Tensor] | None:
        """The stored priors of ``collection`` for this model version, or None."""
        if not isinstance(self.model, PriorModel):
            return None
        with self.database.session() as session:
            row = session.execute(
                select(
                    CollectionPriors.collection_id,
                    CollectionPriors.model_version,
                    CollectionPriors.created_at,
                )
                .join(Collection, Collection.id == CollectionPriors.collection_id)
                .where(Collection.name == collection)
            ).first()
            if row is None or row.model_version != self.model.version:
                return None
            key = (row.collection_id, row.model_version, row.created_at.isoformat())
            with self._lock:
                cached = self._cache.get(collection)
            if cached is not None and cached.key == key:
                return cached.priors
            data = session.scalar(
                select(CollectionPriors.priors).where(
                    CollectionPriors.collection_id == row.collection_id
                )
            )
        priors = self.model.priors_from_bytes(data)
        with self._lock:
            self._cache[collection] = _Cached(key, priors)
        return priors

    def for_key(self, collection: str, key: PriorsKey | None) -> Mapping[str, Tensor] | None:
        """The priors of ``collection`` whose stored row's key the resolve stage read with the
        collection's version (``anyseek.search.resolve``): no query while the row is the cached one,
        one for the blob when it changed."""
        if not isinstance(self.model, PriorModel) or key is None:
            return None
        if key.model_version != self.model.version:
            return None
        wanted = (key.collection_id, key.model_version, key.created_at.isoformat())
        with self._lock:
            cached = self._cache.get(collection)
        if cached is not None and cached.key == wanted:
            return cached.priors
        with self.database.reading() as connection:
            data = connection.scalar(
                select(CollectionPriors.priors).where(
                    CollectionPriors.collection_id == key.collection_id
                )
            )
        if data is None:  # deleted since the resolve stage read its key
            return None
        priors = self.model.priors_from_bytes(data)
        with self._lock:
            self._cache[collection] = _Cached(wanted, priors)
        return priors

    def close(self) -> None:
        """Release the database connections."""
        self.database.dispose()
