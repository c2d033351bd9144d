"""A collection's model identity and embedding spaces, kept the same in the database and store."""

from __future__ import annotations

from sqlalchemy.orm import Session

from anyseek.db import repository
from anyseek.db.models import Collection, Metric
from anyseek.errors import ModelMismatchError
from model.service import SearchModel
from search.stores import SpaceSpec


def attach_model(session: Session, collection: Collection, model: SearchModel) -> None:
    """Record the model and all its spaces on the collection (first use), or check they match."""
    if collection.model_name is None:
        collection.model_name, collection.model_version = model.name, model.version
    elif (collection.model_name, collection.model_version) != (model.name, model.version):
        raise ModelMismatchError(
            f"collection {collection.name!r} was indexed with {collection.model_name}@"
            f"{collection.model_version}, not {model.name}@{model.version}; index into a new "
            "collection"
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
