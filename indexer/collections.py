"""A collection's model identity and embedding spaces, kept the same in the database and store."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from anyseek.db import repository, versions
from anyseek.db.models import Collection, Metric
from anyseek.errors import ModelMismatchError
from model.service import SearchModel
from search.stores import SpaceSpec


def attach_model(
    session: Session, collection: Collection, model: SearchModel, source: str | None = None
) -> None:
    """Record the model (loaded from ``source``) and all its spaces on the collection as its
    version 1 (first use), or check that it is the model of the current version."""
    current = versions.current_version(session, collection)
    if current is None and collection.model_name is None:
        collection.model_name, collection.model_version = model.name, model.version
        versions.record_first_version(
            session, collection, versions.ModelIdentity(source, model.name, model.version)
        )
    else:
        name, version = (
            (current.model_name, current.model_version)
            if current is not None
            else (collection.model_name, collection.model_version)
        )
        if (name, version) != (model.name, model.version):
            raise ModelMismatchError(
                f"collection {collection.name!r} was indexed with {name}@{version}, not "
                f"{model.name}@{model.version}: its vectors would not compare. Index with its "
                f"own model, or move it to this one with `anyseek reindex {collection.name} "
                "--model SOURCE`"
            )
    for info in model.spaces:
        space = repository.register_space(
            session,
            info.name,
            dim=info.dim,
            metric=Metric(info.metric),
            model_name=model.name,
            model_version=model.version,
        )
        repository.attach_space(session, collection, space)


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
    if current is None or current.model_source is None:
        return default, None
    if (current.model_name, current.model_version) == (default.name, default.version):
        return default, current.model_source
    return load(current.model_source), current.model_source


def store_names(session: Session, collection: Collection) -> list[str]:
    """Every store collection holding vectors of ``collection``: one per version (an item deleted
    goes from all of them, so a rollback never brings it back)."""
    names = [v.store_name for v in versions.versions(session, collection)]
    return names or [collection.name]
