"""Queries and changes on collections and embedding spaces, with user errors for bad names.

Every function takes an open :class:`~sqlalchemy.orm.Session` (one transaction, owned by the caller)
so the CLI, the API and the workers share the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anyseek.db.models import (
    NAME_LENGTH,
    Collection,
    CollectionSpace,
    EmbeddingSpace,
    IndexJob,
    Item,
    ItemStatus,
    MetadataField,
    Metric,
)
from anyseek.db.versions import stored_identity
from anyseek.errors import AlreadyExistsError, AnyseekError, NotFoundError, at_field

# Lower case only: collection names become folder names, and "Cats" and "cats" are one folder on
# case-insensitive file systems.
COLLECTION_NAME = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{NAME_LENGTH - 1}}}")


class InvalidNameError(AnyseekError):
    """A name that cannot be used (wrong characters, too long)."""


class SpaceConflictError(AnyseekError):
    """A space is already registered with another shape for the same model version."""


@dataclass(frozen=True)
class CollectionSummary:
    """What a collection holds, for listings: counts per item status and jobs."""

    name: str
    created_at: datetime
    model: str | None
    precision: str | None  # what its current vectors were computed in (float32, bfloat16, mixed)
    spaces: tuple[str, ...]
    items: int
    indexed: int
    pending: int
    failed: int
    jobs: int


def check_collection_name(name: str) -> str:
    """Return ``name`` if it is a valid collection name, else raise :class:`InvalidNameError`."""
    if COLLECTION_NAME.fullmatch(name) is None:
        raise at_field(
            InvalidNameError(
                f"invalid collection name {name!r}: use 1-{NAME_LENGTH} lower-case letters, "
                "digits, '.', '_' or '-', starting with a letter or digit"
            ),
            "name",
        )
    return name


def create_collection(session: Session, name: str) -> Collection:
    """Add an empty collection; a taken name raises :class:`AlreadyExistsError`."""
    check_collection_name(name)
    if session.scalar(select(Collection.id).where(Collection.name == name)) is not None:
        raise at_field(AlreadyExistsError(f"a collection named {name!r} already exists"), "name")
    collection = Collection(name=name)
    session.add(collection)
    try:
        session.flush()
    except IntegrityError:  # created concurrently between the check and the insert
        raise at_field(
            AlreadyExistsError(f"a collection named {name!r} already exists"), "name"
        ) from None
    return collection


def get_collection(session: Session, name: str) -> Collection:
    """The collection called ``name``; raises :class:`NotFoundError` naming it otherwise."""
    collection = session.scalar(select(Collection).where(Collection.name == name))
    if collection is None:
        raise at_field(
            NotFoundError(f"no collection named {name!r} (see `anyseek collections list`)"), "name"
        )
    return collection


def delete_collection(session: Session, name: str) -> CollectionSummary:
    """Delete a collection with its items, embeddings records and jobs; returns what it held."""
    summary = summarize(session, [get_collection(session, name)])[0]
    session.execute(delete(Collection).where(Collection.name == name))
    return summary


def list_collections(session: Session) -> list[CollectionSummary]:
    """Every collection, by name, with its counts."""
    return summarize(session, list(session.scalars(select(Collection).order_by(Collection.name))))


def summarize(session: Session, collections: list[Collection]) -> list[CollectionSummary]:
    """Counts for several collections in two grouped queries (not two per collection)."""
    ids = [collection.id for collection in collections]
    item_counts: dict[tuple[int, ItemStatus], int] = {
        (collection_id, status): count
        for collection_id, status, count in session.execute(
            select(Item.collection_id, Item.status, func.count())
            .where(Item.collection_id.in_(ids))
            .group_by(Item.collection_id, Item.status)
        )
    }
    job_counts: dict[int, int] = {
        collection_id: count
        for collection_id, count in session.execute(
            select(IndexJob.collection_id, func.count())
            .where(IndexJob.collection_id.in_(ids))
            .group_by(IndexJob.collection_id)
        )
    }
    return [_summary(c, item_counts, job_counts.get(c.id, 0)) for c in collections]


def _summary(
    collection: Collection, item_counts: dict[tuple[int, ItemStatus], int], jobs: int
) -> CollectionSummary:
    """One collection's summary from the grouped counts."""
    by_status = {status: item_counts.get((collection.id, status), 0) for status in ItemStatus}
    identity = stored_identity(collection)
    return CollectionSummary(
        name=collection.name,
        created_at=collection.created_at,
        model=str(identity) if identity is not None else None,
        precision=collection.model_precision,
        spaces=tuple(space.name for space in collection.spaces),
        items=sum(by_status.values()),
        indexed=by_status[ItemStatus.INDEXED],
        pending=by_status[ItemStatus.PENDING],
        failed=by_status[ItemStatus.FAILED],
        jobs=jobs,
    )


def register_space(
    session: Session, name: str, *, dim: int, metric: Metric, model_name: str, model_version: str
) -> EmbeddingSpace:
    """The space ``name`` of one model version, created on first use; shapes must never change."""
    space = session.scalar(
        select(EmbeddingSpace).where(
            EmbeddingSpace.name == name,
            EmbeddingSpace.model_name == model_name,
            EmbeddingSpace.model_version == model_version,
        )
    )
    if space is None:
        space = EmbeddingSpace(
            name=name, dim=dim, metric=metric, model_name=model_name, model_version=model_version
        )
        session.add(space)
        session.flush()
    elif (space.dim, space.metric) != (dim, metric):
        raise SpaceConflictError(
            f"embedding space {name!r} of {model_name}@{model_version} is registered with "
            f"dim={space.dim}, metric={space.metric.value}, not dim={dim}, metric={metric.value}"
        )
    return space


def attach_space(session: Session, collection: Collection, space: EmbeddingSpace) -> None:
    """Record that ``collection`` is indexed in ``space`` (idempotent)."""
    key = (collection.id, space.id)
    if session.get(CollectionSpace, key) is None:
        session.add(CollectionSpace(collection_id=collection.id, space_id=space.id))
        session.flush()
        session.expire(collection, ["spaces"])


def recent_jobs(session: Session, limit: int = 10) -> list[IndexJob]:
    """The newest index jobs across all collections, newest first."""
    return list(
        session.scalars(
            select(IndexJob).order_by(IndexJob.created_at.desc(), IndexJob.id.desc()).limit(limit)
        )
    )


def field_registry(session: Session, collection_id: int) -> dict[str, str]:
    """A collection's user metadata fields and their kinds, by name."""
    rows = session.execute(
        select(MetadataField.name, MetadataField.kind)
        .where(MetadataField.collection_id == collection_id)
        .order_by(MetadataField.name)
    ).all()
    return {name: kind for name, kind in rows}


def register_fields(session: Session, collection_id: int, kinds: dict[str, str]) -> dict[str, str]:
    """Add the fields not registered yet (a concurrent writer may add the same one: both keep
    the first kind); returns the collection's registry afterwards."""
    registry = field_registry(session, collection_id)
    for name, kind in kinds.items():
        if name in registry:
            continue
        try:
            with session.begin_nested():
                session.add(MetadataField(collection_id=collection_id, name=name, kind=kind))
                session.flush()
        except IntegrityError:
            pass
    return field_registry(session, collection_id) if set(kinds) - set(registry) else registry
