"""Each collection searched with its own model, in its current version, never mixed.

:class:`VersionedSearcher` reads, for every search, the collection's current version from the
metadata database (one query per batch): the store collection holding its vectors and the model
(source, name, content hash) that made them. It gets that model from the :class:`ModelRegistry`
and refuses with :class:`ModelMismatchError` (HTTP 409) when the model found at that source is not
the one that made the vectors, naming both and the way out (``reindex``). A switch to a new
version changes one row, so every search sees either the old vectors with the old model or the new
vectors with the new model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from anyseek.db.models import Collection, CollectionVersion
from anyseek.db.session import Database
from anyseek.db.versions import stored_identity
from anyseek.errors import AnyseekError
from anyseek.identity import ModelIdentity, ensure_same_model
from model.service import PriorModel, SearchModel, model_identity
from search.model_registry import ModelRegistry
from search.query import SearchQuery, SearchResults
from search.searcher import Plan, Searcher


@dataclass(frozen=True)
class SearchTarget:
    """Where a collection's current vectors are and which model made them (None: unrecorded,
    searched with the default model as before versions existed)."""

    collection: str
    store_name: str
    made_by: ModelIdentity | None = None


def resolve_targets(database: Database, names: Sequence[str]) -> dict[str, SearchTarget]:
    """The current version of each named collection in one query; unknown or never indexed
    collections are searched by name (the store says when they do not exist)."""
    found: dict[str, SearchTarget] = {}
    with database.session() as session:
        rows = session.execute(
            select(Collection.name, CollectionVersion)
            .join(
                CollectionVersion,
                (CollectionVersion.collection_id == Collection.id)
                & (CollectionVersion.number == Collection.current_version),
            )
            .where(Collection.name.in_(set(names)))
        )
        for name, version in rows:
            found[name] = SearchTarget(name, version.store_name, stored_identity(version))
    return {name: found.get(name, SearchTarget(name, name)) for name in names}


def check_model(collection: str, made_by: ModelIdentity | None, model: SearchModel) -> None:
    """Refuse to compare a collection's vectors with the queries of ``model``, loaded from the
    source that made them, when it is another model now (409)."""
    source = made_by.source if made_by is not None else None
    ensure_same_model(collection, made_by, model_identity(model, source))


class VersionedSearcher:
    """Searches every collection in its current version with the model that made it."""

    def __init__(self, default: Searcher, database: Database, registry: ModelRegistry) -> None:
        self.default = default
        self.database = database
        self.registry = registry
        # one searcher per other model, kept while the registry keeps its model: its relevance
        # calibration and priors lookup (with its cache) are made once, not per batch
        self._searchers: dict[str | None, Searcher] = {}
        self._lock = threading.Lock()

    @property
    def model(self) -> SearchModel:
        """The default model (what new collections are indexed with)."""
        return self.default.model

    @property
    def store(self):
        """The vector store every version lives in."""
        return self.default.store

    def search(self, query: SearchQuery) -> SearchResults:
        """Answer one query (see :meth:`search_many`)."""
        [answer] = self.search_many([query])
        if isinstance(answer, Exception):
            raise answer
        return answer

    def prepare(self, query: SearchQuery) -> Plan:
        """The query checked and decoded by its collection's model for its current version (the
        API decodes files per request with this, before the batch)."""
        target = resolve_targets(self.database, [query.collection])[query.collection]
        source = target.made_by.source if target.made_by else None
        searcher = self._searcher(source)
        check_model(target.collection, target.made_by, searcher.model)
        plan = searcher.prepare(query, target.store_name)
        plan.source = source
        return plan

    def search_many(self, queries: Sequence[SearchQuery | Plan]) -> list[SearchResults | Exception]:
        """Answer several queries (or plans from :meth:`prepare`), one batched model call per
        model among their collections; a plan keeps the version it was prepared for."""
        try:
            names = [q.collection for q in queries if not isinstance(q, Plan)]
            targets = resolve_targets(self.database, names) if names else {}
        except AnyseekError as exc:
            return [exc for _ in queries]
        answers: list[SearchResults | Exception | None] = [None] * len(queries)
        groups: dict[str | None, list[int]] = {}
        for i, query in enumerate(queries):
            if isinstance(query, Plan):
                source = query.source
            else:
                made_by = targets[query.collection].made_by
                source = made_by.source if made_by else None
            groups.setdefault(source, []).append(i)
        for source, members in groups.items():
            try:
                searcher = self._searcher(source)
            except AnyseekError as exc:
                for i in members:
                    answers[i] = exc
                continue
            ready: list[int] = []
            for i in members:
                query = queries[i]
                if isinstance(query, Plan):
                    ready.append(i)
                    continue
                target = targets[query.collection]
                try:
                    check_model(target.collection, target.made_by, searcher.model)
                    ready.append(i)
                except AnyseekError as exc:
                    answers[i] = exc
            found = searcher.search_many(
                [queries[i] for i in ready],
                [_store_name(queries[i], targets) for i in ready],
            )
            for i, answer in zip(ready, found, strict=True):
                answers[i] = answer
        return [a for a in answers if a is not None]

    def _searcher(self, source: str | None) -> Searcher:
        """The default searcher, or the one over the registry's model of ``source`` (made once
        per loaded model; dropped when the registry evicts it)."""
        model = self.registry.get(source)
        if model is self.default.model:
            return self.default
        with self._lock:
            loaded = set(self.registry.loaded())
            for evicted in [s for s in self._searchers if s not in loaded]:
                del self._searchers[evicted]
            searcher = self._searchers.get(source)
            if searcher is None or searcher.model is not model:
                searcher = self._searchers[source] = self._new_searcher(model)
            return searcher

    def _new_searcher(self, model: SearchModel) -> Searcher:
        """A searcher over ``model`` sharing the default's store and settings."""
        priors = None
        if isinstance(model, PriorModel):
            from search.priors import CollectionPriorsLookup

            priors = CollectionPriorsLookup(self.database, model)
        d = self.default
        return Searcher(model, d.store, d.settings, d.max_query_pixels, priors)

    def warm_up(self) -> list[str]:
        """Warm the default model up."""
        return self.default.warm_up()

    def close(self) -> None:
        """Close the default searcher (the store and its priors lookup)."""
        self.default.close()


def open_versioned_searcher(settings) -> VersionedSearcher | Searcher:
    """The CLI's searcher: each collection in its current version with its own model; without
    a metadata database (a store filled from Python) collections are searched by name."""
    from anyseek.db.migrate import open_database
    from anyseek.db.session import database_for
    from search.searcher import open_searcher

    if settings.database_url is None and not database_file_exists(database_for(settings)):
        return open_searcher(settings)
    database = open_database(settings)  # out of date: "run `anyseek db upgrade`"
    searcher = open_searcher(settings)
    registry = ModelRegistry(settings.model, default=searcher.model)
    return _ClosingVersionedSearcher(searcher, database, registry)


def database_file_exists(database: Database) -> bool:
    """Whether an SQLite database's file exists (other databases: assumed to)."""
    url = database.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        return True
    exists = Path(url.database).exists()
    database.dispose()
    return exists


class _ClosingVersionedSearcher(VersionedSearcher):
    """A versioned searcher that owns its database and closes it with the store."""

    def close(self) -> None:
        """Close the store and dispose of the database."""
        try:
            super().close()
        finally:
            self.database.dispose()


def _store_name(query: SearchQuery | Plan, targets: dict[str, SearchTarget]) -> str:
    """The store collection a query is searched in (a plan already names its own)."""
    if isinstance(query, Plan):
        return query.target
    return targets[query.collection].store_name
