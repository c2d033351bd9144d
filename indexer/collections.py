"""A collection's model identity and embedding spaces, kept the same in the database and store."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from anyseek.db import repository, versions
from anyseek.db.models import Collection, EmbeddingSpace, Metric
from anyseek.identity import ensure_same_model
from model.service import SearchModel, model_identity
from search.stores import SpaceSpec


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
