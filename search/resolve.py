"""The resolve stage: which store collection a query searches and which model made its vectors.

A collection is searched in its *current version* (``collections.current_version``): the store
collection holding its vectors and the model (source, name, content hash) that made them, never
mixed. :class:`VersionResolver` reads that row, the collection's newest indexed item id (the
paging snapshot, ``anyseek.search.cursor``) and the key of its stored priors in **one** statement
per request, so a switch or rollback made by any process (another server, a worker, the CLI) is seen
by the next search (the version number is what it checks). On an SQLite file the row read is kept
while nothing has been committed to the file since (``anyseek.db.changes``: a counter the file
keeps, read without a statement), so a search that follows no write reads no table. What the row
names is cached by the searcher: the loaded model (``anyseek.search.model_registry``), its
relevance calibration, its identity check and its priors.

Without a metadata database (a store filled from Python) :class:`NameResolver` searches a
collection by its own name with the default model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, Select, bindparam, func, select

from anyseek.db.changes import ChangeToken
from anyseek.db.models import Collection, CollectionPriors, CollectionVersion, Item, ItemStatus
from anyseek.db.session import Database
from anyseek.identity import ModelIdentity, ensure_same_model
from anyseek.model.service import SearchModel, model_identity

MAX_KEPT = 1024  # collections whose row is kept at once (more: the kept rows start over)
SnapshotLookup = Callable[[str], int | None]  # collection -> its newest indexed item id


@dataclass(frozen=True)
class PriorsKey:
    """What identifies a collection's stored priors row (read again only when it changes)."""

    collection_id: int
    model_version: str
    created_at: datetime


@dataclass(frozen=True)
class Resolved:
    """Where a collection's current vectors are, which model made them (None: unrecorded, the
    default model as before versions existed), its paging snapshot and its priors' key."""

    collection: str
    store_name: str
    made_by: ModelIdentity | None = None
    watermark: int | None = None  # newest indexed item id; None: unknown to the database
    priors: PriorsKey | None = None

    @property
    def source(self) -> str | None:
        """The model source to search it with (None: the default model)."""
        return self.made_by.source if self.made_by is not None else None


def check_model(collection: str, made_by: ModelIdentity | None, model: SearchModel) -> None:
    """Refuse to compare a collection's vectors with the queries of ``model``, loaded from the
    source that made them, when it is another model now (409)."""
    source = made_by.source if made_by is not None else None
    ensure_same_model(collection, made_by, model_identity(model, source))


def resolve_statement(collection: str | BindParameter) -> Select:
    """One row for the collection: its current version's store name and model, its watermark
    and its priors' key. The watermark is a scalar subquery over ``items`` alone, so
    PostgreSQL reads ``max(id)`` from the end of the (collection_id, status, id) index (joined to
    collections it scanned every indexed row: 170 ms at one million items)."""
    watermark = (
        select(func.max(Item.id))
        .where(Item.collection_id == Collection.id, Item.status == ItemStatus.INDEXED)
        .correlate(Collection)
        .scalar_subquery()
    )
    version = (CollectionVersion.collection_id == Collection.id) & (
        CollectionVersion.number == Collection.current_version
    )
    return (
        select(
            Collection.id,
            CollectionVersion.store_name,
            CollectionVersion.model_name,
            CollectionVersion.model_version,
            CollectionVersion.model_source,
            watermark.label("watermark"),
            CollectionPriors.model_version.label("priors_version"),
            CollectionPriors.created_at.label("priors_at"),
        )
        .select_from(Collection)
        .outerjoin(CollectionVersion, version)
        .outerjoin(CollectionPriors, CollectionPriors.collection_id == Collection.id)
        .where(Collection.name == collection)
    )


class VersionResolver:
    """``resolve(collection)`` -> :class:`Resolved`, read from the metadata database in one
    statement (see the module docstring), or kept from the last read while the database's
    change token is the same; thread-safe. The statement is built once: building it per request
    cost more than running it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.statement = resolve_statement(bindparam("collection"))
        self.changes = ChangeToken(database.engine)
        self.kept: dict[str, tuple[int, Resolved]] = {}  # collection -> (token, what was read)

    def __call__(self, collection: str) -> Resolved:
        """The collection's current version; an unknown or never indexed collection is searched
        by name (the store says when it does not exist)."""
        token = self.changes()  # before the read: a commit in between makes the next call read
        kept = self.kept.get(collection)
        if token is not None and kept is not None and kept[0] == token:
            return kept[1]
        resolved, known = self._read(collection)
        if token is not None and known:  # names no collection has are not kept (unbounded)
            if len(self.kept) >= MAX_KEPT:
                self.kept.clear()
            self.kept[collection] = (token, resolved)
        return resolved

    def _read(self, collection: str) -> tuple[Resolved, bool]:
        """The collection's row as read now, and whether the collection exists."""
        with self.database.reading() as connection:
            row = connection.execute(self.statement, {"collection": collection}).first()
        if row is None:
            return Resolved(collection, collection), False
        made_by = None
        if row.model_name is not None and row.model_version is not None:
            made_by = ModelIdentity(row.model_name, row.model_version, row.model_source)
        priors = None
        if row.priors_version is not None:
            priors = PriorsKey(row.id, row.priors_version, row.priors_at)
        found = Resolved(collection, row.store_name or collection, made_by, row.watermark, priors)
        return found, True

    def close(self) -> None:
        """Release the database connections."""
        self.changes.close()
        self.database.dispose()


class NameResolver:
    """Each collection by its own name, with the default model; its watermark from
    ``snapshot`` when given (paging then leaves out items indexed after the first page)."""

    def __init__(self, snapshot: SnapshotLookup | None = None) -> None:
        self.snapshot = snapshot

    def __call__(self, collection: str) -> Resolved:
        """The collection as named, with its watermark."""
        watermark = self.snapshot(collection) if self.snapshot is not None else None
        return Resolved(collection, collection, None, watermark)

    def close(self) -> None:
        """Close the snapshot lookup's database connections, when it has them."""
        close = getattr(self.snapshot, "close", None)
        if close is not None:
            close()


Resolver = VersionResolver | NameResolver
