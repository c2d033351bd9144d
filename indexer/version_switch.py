"""A collection's version lifecycle: switch, rollback, retention.

A version is current when ``collections.current_version`` names it: ``switch_version`` makes one
current in that one UPDATE (every search, in any process, reads it with its next request,
``anyseek.search.resolve``), then points the store alias at it and drops the versions beyond
``ANYSEEK_INDEXER__KEEP_VERSIONS``. ``rollback`` switches back to the newest earlier version
after catching it up (``anyseek.indexer.catch_up``) with the items added since. Building a new
version is ``anyseek.indexer.reindex``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete

from anyseek.db import repository, versions
from anyseek.db.models import CollectionVersion, IndexJob, JobStatus, utc_now
from anyseek.db.session import Database
from anyseek.db.versions import VersionStateError, stored_identity
from anyseek.identity import ensure_same_model
from anyseek.indexer.catch_up import VersionFill
from anyseek.indexer.jobs import fail_job, get_job
from anyseek.model.service import SearchModel, model_identity
from anyseek.search.stores import VectorStore
from anyseek.settings import Settings

log = logging.getLogger(__name__)
ModelLoader = Callable[[str | None], SearchModel]  # a version's model source -> the model


@dataclass(frozen=True)
class SwitchReport:
    """What a switch did: from which version to which, and the versions dropped by retention."""

    collection: str
    previous: int | None
    current: int
    model: str
    dropped: tuple[int, ...]


def switch_version(
    settings: Settings, database: Database, store: VectorStore, collection: str, number: int
) -> SwitchReport:
    """Make version ``number`` current: one UPDATE (the atomic step), then the store alias, then
    retention drops versions beyond ``keep_versions``."""
    store.flush()
    with database.session() as session:
        row = repository.get_collection(session, collection)
        previous = row.current_version
        target = versions.switch(session, collection, number)
        model, store_name = target.model, target.store_name
    try:
        store.set_alias(versions.alias_name(collection), store_name)
    except BaseException:  # the store refused: the database goes back, nothing changed
        if previous is not None:
            with database.session() as session:
                versions.switch(session, collection, previous)
        raise
    dropped = apply_retention(settings, database, store, collection)
    return SwitchReport(collection, previous, number, model, tuple(dropped))


def sync_alias(database: Database, store: VectorStore, collection: str) -> str | None:
    """Point the store alias at the current version (after a crash between the database's switch
    and the alias); the store name it points at."""
    with database.session() as session:
        current = versions.current_version(session, repository.get_collection(session, collection))
        name = current.store_name if current is not None else None
    if name is not None and store.alias_target(versions.alias_name(collection)) != name:
        store.set_alias(versions.alias_name(collection), name)
    return name


def apply_retention(
    settings: Settings, database: Database, store: VectorStore, collection: str
) -> list[int]:
    """Drop the versions past ``keep_versions`` from the database and the store; their numbers."""
    with database.session() as session:
        row = repository.get_collection(session, collection)
        old = versions.expired(session, row, settings.indexer.keep_versions)
        doomed = [(v.number, v.store_name) for v in old]
        session.execute(
            delete(CollectionVersion).where(CollectionVersion.id.in_([v.id for v in old]))
        )
    for _, name in doomed:
        store.drop(name)
    return [number for number, _ in doomed]


def drop_version(database: Database, store: VectorStore, collection: str, number: int) -> None:
    """Forget a version that is not current (a cancelled re-index) and drop its vectors."""
    with database.session() as session:
        row = repository.get_collection(session, collection)
        version = versions.get_version(session, row, number)
        if row.current_version == number:
            raise VersionStateError(f"version {number} of {collection!r} is current")
        name = version.store_name
        session.delete(version)
    store.drop(name)


def rollback(
    settings: Settings,
    database: Database,
    store: VectorStore,
    collection: str,
    load_model: ModelLoader,
) -> SwitchReport:
    """Switch back to the newest earlier version, after embedding into it (with its own model)
    the items added since it stopped being current. All or nothing: the store's writer is
    claimed first, and a rollback that fails leaves the current version and ends its job failed
    with the reason."""
    store.claim_writer()  # another process writing: refused here, before any change
    with database.session() as session:
        target = versions.rollback_target(session, collection)
        if versions.building_version(session, repository.get_collection(session, collection)):
            raise VersionStateError(
                f"collection {collection!r} is being re-indexed: cancel that job first"
            )
        number, name, made_by = target.number, target.store_name, stored_identity(target)
    model = load_model(made_by.source)
    ensure_same_model(collection, made_by, model_identity(model, made_by.source))
    with database.session() as session:  # a job to carry the catch-up's failures, if any
        job = IndexJob(
            collection_id=repository.get_collection(session, collection).id,
            source=f"rollback to version {number}",
            status=JobStatus.RUNNING,
            started_at=utc_now(),
        )
        session.add(job)
        session.flush()
        job_id = job.id
    try:
        work = VersionFill(settings, database, store, job_id, collection, name, model, None)
        work.catch_up()
        result = switch_version(settings, database, store, collection, number)
    except BaseException as error:
        with database.session() as session:
            fail_job(session, job_id, f"{type(error).__name__}: {error}")
        raise
    with database.session() as session:
        job = get_job(session, job_id, lock=True)
        job.status, job.finished_at = JobStatus.SUCCEEDED, utc_now()
    return result
