"""A collection's model identity and embedding spaces, kept the same in the database and store;
creating and deleting a whole collection everywhere (the API's routes and the CLI call these)."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from sqlalchemy.orm import Session

from anyseek.db import repository, versions
from anyseek.db.models import Collection, EmbeddingSpace, Metric
from anyseek.identity import ensure_same_model
from anyseek.indexer.thumbnails import thumbnail_dir
from anyseek.model.service import SearchModel, model_identity
from anyseek.search.stores import SpaceSpec, VectorStore
from anyseek.settings import Settings


def attach_model(
    session: Session, collection: Collection, model: SearchModel, source: str | None = None
) -> None:
    """Record the model (loaded from ``source``) and all its spaces on the collection as its
    version 1 (first use), or check that it is the model of the current version."""
    found = model_identity(model, source)
    made_by = versions.collection_identity(session, collection)
    if made_by is None:
        versions.record_first_version(session, collection, found)
    ensure_same_model(collection.name, made_by, found)
    for space in register_spaces(session, model):
        repository.attach_space(session, collection, space)


def register_spaces(session: Session, model: SearchModel) -> list[EmbeddingSpace]:
    """Every space of the model, registered under its identity (found when already there)."""
    identity = model_identity(model)
    return [
        repository.register_space(
            session,
            info.name,
            dim=info.dim,
            metric=Metric(info.metric),
            model_name=identity.name,
            model_version=identity.version,
        )
        for info in model.spaces
    ]


def store_spaces(collection: Collection) -> list[SpaceSpec]:
    """The collection's spaces as the vector store declares them, in name order."""
    return [SpaceSpec(space.name, space.dim, space.metric.value) for space in collection.spaces]


def collection_model(
    session: Session,
    collection: Collection,
    default: SearchModel,
    load: Callable[[str], SearchModel],
) -> tuple[SearchModel, str | None]:
    """The model to index into ``collection`` with, and its source: its current version's
    (loaded by ``load`` when it is not ``default``), or ``default`` for a new collection."""
    current = versions.current_version(session, collection)
    made_by = versions.stored_identity(current) if current is not None else None
    if made_by is None or made_by.source is None:
        return default, None
    if made_by == model_identity(default):
        return default, made_by.source
    return load(made_by.source), made_by.source


def store_names(session: Session, collection: Collection) -> list[str]:
    """Every store collection holding vectors of ``collection``: one per version (an item deleted
    goes from all of them, so a rollback never brings it back)."""
    names = [v.store_name for v in versions.versions(session, collection)]
    return names or [collection.name]


def create_collection(
    session: Session, store: VectorStore, model: SearchModel, name: str, source: str | None = None
) -> repository.CollectionSummary:
    """A new collection in the database and the store, with every space of the loaded model
    (loaded from ``source``, recorded as the collection's version 1); the caller commits."""
    collection = repository.create_collection(session, name)
    attach_model(session, collection, model, source)  # what the indexer records on first use
    store.ensure_collection(name, store_spaces(collection))
    return repository.summarize(session, [collection])[0]


def delete_collection(
    settings: Settings, session: Session, store: VectorStore, name: str
) -> repository.CollectionSummary:
    """Delete a collection's records (committed first: a failed drop leaves stray vectors, never
    records whose vectors are gone), then its vectors of every version, its alias and its
    thumbnails; what it held."""
    names = store_names(session, repository.get_collection(session, name))
    summary = repository.delete_collection(session, name)
    session.commit()
    existing = set(store.collections())
    for store_name in names:
        if store_name in existing:
            store.drop(store_name)
    store.delete_alias(versions.alias_name(name))
    shutil.rmtree(thumbnail_dir(settings, name), ignore_errors=True)
    return summary
