"""Collections and items kept the same in the database and the vector store, for the routes.

The indexer owns how items get in; this module holds the few whole-collection and whole-item
changes the API makes (create and delete everywhere: `anyseek.indexer.collections`, shared with the
CLI) and the reads it serves. Each takes the request's session; the request commits it.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anyseek.db import repository, versions
from anyseek.db.models import Collection, Item, ItemStatus
from anyseek.db.session import Database
from anyseek.errors import NotFoundError, at_field
from anyseek.indexer.collections import (
    create_collection,
    delete_collection,
    store_names,
)
from anyseek.indexer.exif import item_order
from anyseek.indexer.thumbnails import reconstruction_path, thumbnail_path
from anyseek.model.service import RECONSTRUCTION_KINDS
from anyseek.search.fields import SYSTEM_FIELDS
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.resolve import check_model
from anyseek.search.stores import VectorStore
from anyseek.settings import Settings

# re-exported for the routes: the CLI creates and deletes collections with the same functions
__all__ = ["create_collection", "delete_collection", "reconstruction_path", "thumbnail_path"]


def check_indexable(session: Session, models: ModelRegistry, name: str) -> None:
    """Refuse (409) indexing into a collection whose model is no longer found at its source,
    before a job is written (a job would only fail); a name no collection can have first."""
    repository.check_collection_name(name)
    row = session.scalar(select(Collection).where(Collection.name == name))
    current = versions.current_version(session, row) if row is not None else None
    if current is None:
        return
    made_by = versions.stored_identity(current)
    check_model(name, made_by, models.get(made_by.source))


def get_item(session: Session, collection: str, item_id: int) -> Item:
    """An item of a collection, or a NotFoundError naming both."""
    owner = repository.get_collection(session, collection)
    item = session.get(Item, item_id)
    if item is None or item.collection_id != owner.id:
        raise at_field(NotFoundError(f"collection {collection!r} has no item {item_id}"), "item_id")
    return item


def list_items(
    session: Session,
    collection: str,
    offset: int,
    limit: int,
    status: ItemStatus | None,
    sort: str = "id",
) -> tuple[list[Item], int]:
    """One page of a collection's items by id or by date taken (``anyseek.indexer.exif.SORTS``), and
    how many there are in all."""
    owner = repository.get_collection(session, collection)
    where = [Item.collection_id == owner.id]
    if status is not None:
        where.append(Item.status == status)
    total = session.scalar(select(func.count()).select_from(Item).where(*where)) or 0
    order = item_order(sort)
    rows = session.scalars(select(Item).where(*where).order_by(*order).offset(offset).limit(limit))
    return list(rows), total


def payloads(
    session: Session, store: VectorStore, collection: str, ids: list[int]
) -> dict[int, dict]:
    """Stored payloads of the items the current version has (pending ones are not there yet)."""
    current = versions.current_version(session, repository.get_collection(session, collection))
    name = current.store_name if current is not None else collection
    if not ids or name not in store.collections():
        return {}
    return {s.id: s.payload for s in store.retrieve(name, ids, with_vectors=False)}


def delete_item(
    settings: Settings, session: Session, store: VectorStore, collection: str, item_id: int
) -> None:
    """Remove an item from the store first (it stops being found), then its record and thumbnail."""
    item = get_item(session, collection, item_id)
    existing = set(store.collections())
    for name in store_names(session, item.collection):
        if name in existing:
            store.delete(name, [item_id])
    store.flush()
    session.delete(item)
    session.flush()
    thumbnail_path(settings, collection, item_id).unlink(missing_ok=True)
    for kind in RECONSTRUCTION_KINDS:
        reconstruction_path(settings, collection, item_id, kind).unlink(missing_ok=True)


def field_registry(database: Database, collection: str) -> dict[str, str]:
    """A collection's metadata fields and their kinds (404 for an unknown collection)."""
    with database.session() as session:
        owner = repository.get_collection(session, collection)
        return repository.field_registry(session, owner.id)


def fields(session: Session, collection: str) -> list[tuple[str, str, str]]:
    """Every field filters may name: (name, kind, "system" or "metadata")."""
    owner = repository.get_collection(session, collection)
    registry = repository.field_registry(session, owner.id)
    return [(n, k, "system") for n, k in SYSTEM_FIELDS.items()] + [
        (n, k, "metadata") for n, k in registry.items()
    ]
