"""Re-embedding a collection into a new version in the background, then switching atomically.

``start_reindex`` writes the new version (building) and an index job for it; ``run_reindex``
embeds the collection's stored images with the new model into the version's own store collection,
batch by batch (with the previews a first index writes, when the model reconstructs), while
searches keep using the current version. It is resumable (the store says which items the version
already holds, so a re-run, also after ``kill -9``, does only the rest), shows progress on the
job and stops when the job is cancelled (``anyseek jobs cancel``), dropping the unfinished
version. Items added meanwhile are caught up until a pass finds none missing; deleted ones are
pruned. Then ``switch_version`` makes it current in one database UPDATE, the store alias
follows, and versions beyond ``ANYSEEK_INDEXER__KEEP_VERSIONS`` are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, select

from anyseek.db import repository, versions
from anyseek.db.models import (
    CollectionVersion,
    IndexJob,
    Item,
    ItemStatus,
    JobFailure,
    JobStatus,
    stored_path,
    utc_now,
)
from anyseek.db.session import Database
from anyseek.db.versions import VersionStateError, stored_identity
from anyseek.identity import ensure_same_model
from anyseek.settings import Settings
from indexer import reconstructions
from indexer.collections import register_spaces
from indexer.decode import Decoded, DecodeLimits
from indexer.errors import ItemError
from indexer.fetch import fetch
from indexer.jobs import IndexReport, fail_job, get_job, record_failures, report, start_job
from indexer.parts import decode_item
from indexer.pipeline import embed
from indexer.sources import SourceRef
from model.service import SearchModel, model_identity
from search.stores import SpaceSpec, VectorStore

log = logging.getLogger(__name__)
ModelLoader = Callable[[str | None], SearchModel]  # a version's model source -> the model
REINDEX_PREFIX = "reindex"


@dataclass(frozen=True)
class SwitchReport:
    """What a switch did: from which version to which, and the versions dropped by retention."""

    collection: str
    previous: int | None
    current: int
    model: str
    dropped: tuple[int, ...]


def version_spaces(model: SearchModel) -> list[SpaceSpec]:
    """The model's spaces as the store declares them, in name order."""
    return sorted((SpaceSpec(s.name, s.dim, s.metric) for s in model.spaces), key=lambda s: s.name)


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
        work = _Work(settings, database, store, job_id, collection, target, model, progress)
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


@dataclass
class _Work:
    """One re-index's state while it fills its version, batch by batch."""

    settings: Settings
    database: Database
    store: VectorStore
    job_id: int
    collection: str
    target: str
    model: SearchModel
    progress: Callable[[int, int], None] | None

    def cancelled(self) -> bool:
        """Whether the job was cancelled (checked between batches)."""
        with self.database.session() as session:
            return get_job(session, self.job_id).status == JobStatus.CANCELLED

    def catch_up(self, after: int = -1) -> int:
        """One pass over the collection's indexed items in id order, embedding those the version
        lacks; how many were added (0: the version holds every item)."""
        added, batch = 0, self.settings.indexer.reindex_batch
        while not self.cancelled():
            ids, sources = self._next_items(after, batch)
            if not ids:
                break
            after = ids[-1]
            held = {s.id for s in self.store.retrieve(self.target, ids, with_vectors=False)}
            missing = [(i, s) for i, s in zip(ids, sources, strict=True) if i not in held]
            if missing:
                added += self._embed(missing)
                self._prune([i for i, _ in missing])
            self._count()
        return added

    def _next_items(self, after: int, limit: int) -> tuple[list[int], list[SourceRef]]:
        """The next indexed items of the collection after id ``after``, each with where it is
        read again: its image file, or its parts."""
        with self.database.session() as session:
            collection_id = repository.get_collection(session, self.collection).id
            rows = session.execute(
                select(Item.id, Item.source_uri, Item.source_bytes, Item.parts)
                .where(
                    Item.collection_id == collection_id,
                    Item.status == ItemStatus.INDEXED,
                    Item.id > after,
                )
                .order_by(Item.id)
                .limit(limit)
            ).all()
        refs = []
        for _, uri, raw, parts in rows:
            path = stored_path(uri, raw)
            refs.append(SourceRef(path, path, parts=tuple((parts or {}).items())))
        return [r[0] for r in rows], refs

    def _embed(self, items: list[tuple[int, SourceRef]]) -> int:
        """Read, decode and embed items from their stored images into the version; an image that
        is gone is recorded on the job as a failure (the item keeps its old vectors only)."""
        limits = DecodeLimits(
            max_pixels=self.settings.api.max_image_pixels,
            thumbnail_size=self.settings.indexer.thumbnail_size,
        )
        decoded, ids, failures = [], [], []
        for item_id, ref in items:
            try:
                fetched = fetch(ref, self.settings.indexer)
                decoded.append(decode_item(fetched, limits, self.model))
                ids.append(item_id)
            except ItemError as error:
                failures.append((ref.shown, f"re-index: {error}"))
        if failures:
            self._fail(failures)
        if not ids:
            return 0
        rows = np.stack(embed(self.model, decoded, self.settings.model.batch_size))
        payloads = self._payloads(ids)
        vectors, start = {}, 0
        for spec in version_spaces(self.model):
            vectors[spec.name] = rows[:, start : start + spec.dim]
            start += spec.dim
        self.store.upsert(self.target, ids, vectors, [payloads.get(i, {}) for i in ids])
        self.store.flush()
        self._reconstruct(ids, decoded)
        return len(ids)

    def _reconstruct(self, ids: list[int], decoded: list[Decoded]) -> None:
        """The items' depth and segmentation previews from the new model, as a first index
        writes them (none for a model that does not reconstruct)."""
        settings = self.settings
        if not settings.indexer.reconstructions:
            return
        pictures = reconstructions.predict(
            self.model, decoded, settings.indexer.thumbnail_size, settings.model.batch_size
        )
        by_id = {
            item_id: pictures[d.fetched.sha256]
            for item_id, d in zip(ids, decoded, strict=True)
            if d.fetched.sha256 in pictures
        }
        reconstructions.write_items(settings, self.collection, by_id)

    def _payloads(self, ids: list[int]) -> dict[int, dict]:
        """The items' payloads as the current version holds them (the same filters apply)."""
        with self.database.session() as session:
            collection = repository.get_collection(session, self.collection)
            current = versions.current_version(session, collection)
            name = current.store_name if current is not None else self.collection
        return {s.id: s.payload for s in self.store.retrieve(name, ids, with_vectors=False)}

    def _prune(self, ids: list[int]) -> None:
        """Remove items deleted while they were being embedded (their delete may have missed
        the version, which did not hold them yet)."""
        with self.database.session() as session:
            alive = set(session.scalars(select(Item.id).where(Item.id.in_(ids))))
        gone = [i for i in ids if i not in alive]
        if gone:
            self.store.delete(self.target, gone)
            self.store.flush()

    def _fail(self, failures: list[tuple[str, str]]) -> None:
        """Record items that could not be re-embedded (once per source) on the job."""
        with self.database.session() as session:
            known = set(
                session.scalars(
                    select(JobFailure.source_uri).where(JobFailure.job_id == self.job_id)
                )
            )
            fresh = [(u, r) for u, r in failures if u not in known]
            record_failures(session, self.job_id, fresh)
            job = get_job(session, self.job_id, lock=True)
            job.failed += len(fresh)

    def _count(self) -> None:
        """Progress: items the version holds, of the collection's indexed items."""
        held = self.store.count(self.target)
        with self.database.session() as session:
            job = get_job(session, self.job_id, lock=True)
            collection_id = job.collection_id
            indexed = session.scalar(
                select(func.count())
                .select_from(Item)
                .where(Item.collection_id == collection_id, Item.status == ItemStatus.INDEXED)
            )
            job.total = max(job.total, indexed or 0)
            job.done = min(held, job.total)
            total, done = job.total, job.done
        if self.progress is not None:
            self.progress(done, total)


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
        work = _Work(settings, database, store, job_id, collection, name, model, None)
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
