"""Re-embedding a collection into a new version in the background, then switching atomically.

``start_reindex`` writes the new version (building) and an index job for it; ``run_reindex``
embeds the collection's stored images with the new model into the version's own store collection,
batch by batch (with the previews a first index writes, when the model reconstructs), while
searches keep using the current version. It is resumable (the store says which items the version
already holds, so a re-run, also after ``kill -9``, does only the rest), shows progress on the
job and stops when the job is cancelled (``anyseek jobs cancel``), dropping the unfinished
version. Items added meanwhile are caught up until a pass finds none missing; deleted ones are
pruned. Then ``anyseek.indexer.version_switch.switch_version`` makes it current in one database
UPDATE, the store alias follows, and versions beyond ``ANYSEEK_INDEXER__KEEP_VERSIONS`` are dropped
(the version lifecycle: switch, rollback, retention, is ``anyseek.indexer.version_switch``'s;
filling a version, ``anyseek.indexer.catch_up``'s).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import func, select

from anyseek.db import repository, versions
from anyseek.db.models import (
    CollectionVersion,
    IndexJob,
    Item,
    ItemStatus,
    JobStatus,
    utc_now,
)
from anyseek.db.session import Database
from anyseek.db.versions import VersionStateError, stored_identity
from anyseek.identity import ensure_same_model
from anyseek.indexer.catch_up import VersionFill, version_spaces
from anyseek.indexer.collections import register_spaces
from anyseek.indexer.jobs import IndexReport, fail_job, get_job, report, start_job
from anyseek.indexer.version_switch import ModelLoader, drop_version, switch_version
from anyseek.model.service import SearchModel, model_identity
from anyseek.search.stores import VectorStore
from anyseek.settings import Settings

log = logging.getLogger(__name__)
REINDEX_PREFIX = "reindex"


def reindex_version(session, job_id: int) -> CollectionVersion | None:
    """The version a job builds, None for an ordinary index job."""
    return session.scalar(select(CollectionVersion).where(CollectionVersion.job_id == job_id))


def start_reindex(
    session, collection_name: str, model: SearchModel, source: str
) -> tuple[int, int]:
    """Write a building version for ``model`` and its job (the caller commits); (job id,
    version number). A re-index of the same model already building is resumed instead."""
    collection = repository.get_collection(session, collection_name)
    identity = model_identity(model, source)
    busy = versions.building_version(session, collection)
    if busy is not None and stored_identity(busy) == identity:
        return busy.job_id or 0, busy.number
    indexed = session.scalar(
        select(func.count())
        .select_from(Item)
        .where(Item.collection_id == collection.id, Item.status == ItemStatus.INDEXED)
    )
    job = IndexJob(
        collection_id=collection.id,
        source=f"{REINDEX_PREFIX} with {identity} ({source})",
        total=indexed or 0,
    )
    session.add(job)
    session.flush()
    version = versions.add_version(session, collection, identity, job.id)
    register_spaces(session, model)  # attached to the collection at the switch
    return job.id, version.number


def run_reindex(
    settings: Settings,
    database: Database,
    store: VectorStore,
    job_id: int,
    load_model: ModelLoader,
    *,
    progress: Callable[[int, int], None] | None = None,
    resumable: tuple[type[BaseException], ...] = (),
) -> IndexReport:
    """Build the job's version, catch up, switch and apply retention; the job's report.

    Run by the store's writer (this process, the API's indexing thread or the writer worker),
    claimed before anything changes. All or nothing: a run that fails before its switch ends its
    job failed with the reason and drops the unfinished version, except on an error of
    ``resumable`` (an outage the caller retries after) or an interrupt: then the job and its
    version are kept as a ``kill -9`` leaves them, and a second run resumes. A job that already
    succeeded, or whose version was dropped (cancelled or failed), is only reported: a task
    delivered twice must not switch back to a version a rollback left.
    """
    store.claim_writer()  # another process writing: refused here, before any change
    with database.session() as session:
        job = get_job(session, job_id, lock=True)
        version = reindex_version(session, job_id)
        if job.status == JobStatus.SUCCEEDED or (
            job.status in (JobStatus.CANCELLED, JobStatus.FAILED) and version is None
        ):  # ran before (a redelivered task): switching again would undo a later rollback
            return report(session, job_id)
        if version is None:
            raise VersionStateError(f"job {job_id} is not a re-index")
        start_job(session, job_id, resume=True)
        collection = job.collection.name
        number, made_by = version.number, stored_identity(version)
        target = version.store_name
    switched = False
    try:
        model = load_model(made_by.source)
        ensure_same_model(collection, made_by, model_identity(model, made_by.source))
        store.ensure_collection(target, version_spaces(model))
        work = VersionFill(settings, database, store, job_id, collection, target, model, progress)
        while work.catch_up():  # items added while a pass ran: another pass
            pass
        if work.cancelled():
            drop_version(database, store, collection, number)
            with database.session() as session:
                return report(session, job_id)
        switch_version(settings, database, store, collection, number)
        switched = True
        work.catch_up()  # anything staged into the old version while switching
        with database.session() as session:
            job = get_job(session, job_id, lock=True)
            if job.status == JobStatus.RUNNING:
                job.status, job.finished_at = JobStatus.SUCCEEDED, utc_now()
        with database.session() as session:
            return report(session, job_id)
    except BaseException as error:
        if not isinstance(error, (KeyboardInterrupt, *resumable)):  # else kept, to resume
            with database.session() as session:
                fail_job(session, job_id, f"{type(error).__name__}: {error}")
            if not switched:
                _discard(database, store, collection, number)
        raise


def _discard(database: Database, store: VectorStore, collection: str, number: int) -> None:
    """Drop a failed re-index's unfinished version; a drop that fails too is only logged (the
    re-index's own error is the one to report)."""
    try:
        drop_version(database, store, collection, number)
    except Exception:
        log.exception("could not drop version %s of %r after a failed re-index", number, collection)
