"""A collection's versions: each set of its vectors, the model that made it, and the current one.

Version 1 lives in the store collection named like the collection (what existed before versions);
version n > 1 in ``<name>@v<n>``; the store alias ``<name>@current`` follows the current one. The
database is the authority: switching is one UPDATE of ``collections.current_version`` under a row
lock, and the model and store collection a search uses come from that same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from anyseek.db.models import (
    Collection,
    CollectionSpace,
    CollectionVersion,
    EmbeddingSpace,
    VersionStatus,
    utc_now,
)
from anyseek.errors import AnyseekError, NotFoundError, at_field
from anyseek.identity import ModelIdentity


class VersionStateError(AnyseekError):
    """A version cannot do what was asked now (a re-index already running, nothing to roll
    back to): HTTP 409."""


@dataclass(frozen=True)
class VersionInfo:
    """One version as listed by ``anyseek collections versions`` and the API."""

    number: int
    model: str
    model_source: str | None
    precision: str | None
    store_name: str
    status: str
    current: bool
    job_id: int | None
    created_at: datetime
    built_at: datetime | None


def store_name(collection: str, number: int) -> str:
    """The store collection holding version ``number`` of ``collection``."""
    return collection if number == 1 else f"{collection}@v{number}"


def alias_name(collection: str) -> str:
    """The store alias that names the current version (for readers outside anyseek)."""
    return f"{collection}@current"


def _collection(session: Session, name: str, lock: bool = False) -> Collection:
    """The collection row (row-locked when asked), or NotFoundError naming it."""
    query = select(Collection).where(Collection.name == name)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query.execution_options(populate_existing=lock))
    if row is None:
        raise at_field(
            NotFoundError(f"no collection named {name!r} (see `anyseek collections list`)"), "name"
        )
    return row


def versions(session: Session, collection: Collection) -> list[CollectionVersion]:
    """Every version of a collection, oldest first."""
    return list(
        session.scalars(
            select(CollectionVersion)
            .where(CollectionVersion.collection_id == collection.id)
            .order_by(CollectionVersion.number)
        )
    )


def get_version(session: Session, collection: Collection, number: int) -> CollectionVersion:
    """Version ``number`` of a collection, or NotFoundError listing the ones there are."""
    found = session.scalar(
        select(CollectionVersion).where(
            CollectionVersion.collection_id == collection.id, CollectionVersion.number == number
        )
    )
    if found is None:
        raise NotFoundError(
            f"collection {collection.name!r} has no version {number} "
            f"(see `anyseek collections versions {collection.name}`)"
        )
    return found


def current_version(session: Session, collection: Collection) -> CollectionVersion | None:
    """The version searches use, None for a collection never indexed."""
    if collection.current_version is None:
        return None
    return get_version(session, collection, collection.current_version)


def building_version(session: Session, collection: Collection) -> CollectionVersion | None:
    """The version a re-index is building, if one is."""
    return session.scalar(
        select(CollectionVersion).where(
            CollectionVersion.collection_id == collection.id,
            CollectionVersion.status == VersionStatus.BUILDING,
        )
    )


MIXED = "mixed"  # the precision of a version that jobs in float32 and in bfloat16 added to


def store_identity(row: CollectionVersion | Collection, model: ModelIdentity) -> None:
    """Record which model made a version's vectors, and in what precision, on its row (a
    collection row keeps those of its current version's model, without the source)."""
    row.model_name, row.model_version = model.name, model.version
    row.model_precision = model.precision
    if isinstance(row, CollectionVersion):
        row.model_source = model.source


def note_precision(rows: Sequence[CollectionVersion | Collection], precision: str | None) -> None:
    """Vectors in ``precision`` were added to a version: where its rows recorded another one,
    they now say ``mixed`` (a collection indexed partly in float32, partly in bfloat16)."""
    for row in rows:  # unknown (recorded before precisions were) stays unknown
        if precision is not None and row.model_precision not in (None, precision):
            row.model_precision = MIXED


def stored_identity(row: CollectionVersion | Collection) -> ModelIdentity | None:
    """The model identity recorded on a version row (or a collection row); None when none is."""
    if row.model_name is None or row.model_version is None:
        return None
    source = row.model_source if isinstance(row, CollectionVersion) else None
    return ModelIdentity(row.model_name, row.model_version, source, row.model_precision)


def collection_identity(session: Session, collection: Collection) -> ModelIdentity | None:
    """The model that made a collection's current vectors: its current version's, or the one on
    the collection row (recorded before versions); None for a collection never indexed."""
    current = current_version(session, collection)
    return stored_identity(current if current is not None else collection)


def record_first_version(
    session: Session, collection: Collection, model: ModelIdentity
) -> CollectionVersion:
    """Version 1, current and ready, for a collection indexed for the first time."""
    row = CollectionVersion(
        collection_id=collection.id,
        number=1,
        store_name=store_name(collection.name, 1),
        status=VersionStatus.READY,
        built_at=utc_now(),
    )
    store_identity(row, model)
    store_identity(collection, model)
    session.add(row)
    collection.current_version = 1
    session.flush()
    return row


def add_version(
    session: Session, collection: Collection, model: ModelIdentity, job_id: int | None = None
) -> CollectionVersion:
    """A new version being built by a re-index; refused while another one is being built."""
    if collection.current_version is None:
        raise VersionStateError(
            f"collection {collection.name!r} has no vectors yet: index it first "
            "(`anyseek index SOURCE --collection NAME`)"
        )
    busy = building_version(session, collection)
    if busy is not None:
        raise VersionStateError(
            f"collection {collection.name!r} is already being re-indexed into version "
            f"{busy.number} (job {busy.job_id}); cancel it with `anyseek jobs cancel {busy.job_id}`"
            " or wait for it"
        )
    number = max((v.number for v in versions(session, collection)), default=0) + 1
    row = CollectionVersion(
        collection_id=collection.id,
        number=number,
        store_name=store_name(collection.name, number),
        status=VersionStatus.BUILDING,
        job_id=job_id,
    )
    store_identity(row, model)
    session.add(row)
    session.flush()
    return row


def switch(session: Session, name: str, number: int) -> CollectionVersion:
    """Make version ``number`` current in one UPDATE (row-locked), with the collection's model
    and spaces following it; returns the version."""
    collection = _collection(session, name, lock=True)
    target = get_version(session, collection, number)
    target.status = VersionStatus.READY
    target.built_at = target.built_at or utc_now()
    collection.current_version = number
    model = stored_identity(target)
    store_identity(collection, model)
    session.execute(delete(CollectionSpace).where(CollectionSpace.collection_id == collection.id))
    space_ids = session.scalars(
        select(EmbeddingSpace.id).where(
            EmbeddingSpace.model_name == model.name,
            EmbeddingSpace.model_version == model.version,
        )
    )
    session.add_all(CollectionSpace(collection_id=collection.id, space_id=i) for i in space_ids)
    session.flush()
    session.expire(collection, ["spaces"])
    return target


def rollback_target(session: Session, name: str) -> CollectionVersion:
    """The newest ready version older than the current one: what a rollback switches to."""
    collection = _collection(session, name)
    older = [
        v
        for v in versions(session, collection)
        if v.status == VersionStatus.READY and v.number < (collection.current_version or 0)
    ]
    if not older:
        raise VersionStateError(
            f"collection {name!r} has no earlier version to roll back to "
            f"(see `anyseek collections versions {name}`)"
        )
    return older[-1]


def expired(session: Session, collection: Collection, keep: int) -> list[CollectionVersion]:
    """Ready versions beyond the ``keep`` newest (the current one always kept): to be dropped."""
    ready = [v for v in versions(session, collection) if v.status == VersionStatus.READY]
    kept = {v.number for v in ready[-keep:]} | {collection.current_version}
    return [v for v in ready if v.number not in kept]


def describe(session: Session, name: str) -> list[VersionInfo]:
    """Every version of the collection ``name``, oldest first, the current one marked."""
    collection = _collection(session, name)
    return [
        VersionInfo(
            number=v.number,
            model=v.model,
            model_source=v.model_source,
            precision=v.model_precision,
            store_name=v.store_name,
            status=v.status.value,
            current=v.number == collection.current_version,
            job_id=v.job_id,
            created_at=v.created_at,
            built_at=v.built_at,
        )
        for v in versions(session, collection)
    ]
