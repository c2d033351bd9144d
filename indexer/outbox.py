"""The outbox: vectors and metadata edits staged in the database, applied to the store by its one
writer.

Staging (:func:`stage_chunk`) writes items as ``pending`` with their vectors, payload and thumbnail
in one transaction. Applying (:func:`apply_pending`) writes thumbnails, upserts the vectors keyed by
item id and flushes the store, then in one transaction marks the items ``indexed`` and deletes the
staged rows. A crash before that commit only means the rows are applied again (upserts by id are
idempotent); no item is ``indexed`` without its vectors, and no vector exists without its item.
Metadata edits (``PendingMetadata``, staged with the edit) are applied after the vectors the same
way (:func:`apply_metadata`): set in the store, flushed, then the staged row deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Select, delete, exc, insert, select, update
from sqlalchemy.orm import Session

from anyseek.db import repository, versions
from anyseek.db.models import (
    ChunkStatus,
    Collection,
    IndexChunk,
    IndexJob,
    Item,
    ItemEmbedding,
    ItemStatus,
    NearDuplicate,
    PendingMetadata,
    PendingVectors,
    utc_now,
)
from anyseek.db.session import Database
from anyseek.identity import ModelIdentity, ensure_same_model
from anyseek.indexer.collections import store_spaces
from anyseek.indexer.decode import Decoded
from anyseek.indexer.duplicates import DuplicateLink, find_near_duplicates
from anyseek.indexer.exif import with_photo_facts
from anyseek.indexer.jobs import (
    FINISHED,
    count_done,
    finish_if_complete,
    get_job,
    record_failures,
    record_notes,
    record_skips,
)
from anyseek.indexer.metadata import register
from anyseek.indexer.sources import printable
from anyseek.indexer.thumbnails import thumbnail_path, write_thumbnails
from anyseek.search.fields import MetadataError, normalize_metadata, payload_key
from anyseek.search.stores import VectorStore
from anyseek.settings import Settings

APPLY_BATCH = 512
ALREADY_INDEXED = "the same image (by SHA-256) is already in the collection"


@dataclass(frozen=True)
class Embedded:
    """One decoded item with its vectors, all spaces concatenated in space-name order."""

    decoded: Decoded
    vectors: np.ndarray  # [sum of dims] float32

    def metadata(self) -> dict[str, Any]:
        """The user metadata given for the image: its sidecar's, overridden by the source's
        (metadata file row, upload field); normalised, or a :class:`MetadataError`."""
        fetched = self.decoded.fetched
        return normalize_metadata({**(fetched.sidecar or {}), **(fetched.ref.metadata or {})})

    def payload(self, metadata: dict[str, Any] | None = None) -> dict[str, object]:
        """The store payload search filters on: the item's name (``key``; ``path`` as ever), the
        modalities it holds, a caption's text when it has one (what a hit shows of it)."""
        fetched = self.decoded.fetched
        extra: dict[str, object] = {"metadata": metadata} if metadata else {}
        texts = {p.modality: p.value for p in fetched.parts if isinstance(p.value, str)}
        if "caption" in texts:
            extra["caption"] = texts["caption"]
        return {
            "key": fetched.ref.shown_path,
            "modalities": sorted(fetched.ref.modalities),
            "path": fetched.ref.shown_path,
            "folder": printable(fetched.ref.folder),
            "ext": fetched.ref.ext,
            "bytes": fetched.size,
            "width": self.decoded.width,
            "height": self.decoded.height,
            "mtime": fetched.mtime,
            "sha256": fetched.sha256,
            **extra,
        }


@dataclass(frozen=True)
class ChunkOutcome:
    """What processing a chunk produced, before it is written."""

    embedded: tuple[Embedded, ...]
    failures: tuple[tuple[str, str], ...]  # (source uri, reason)
    skips: tuple[tuple[str, str], ...]  # (source uri, reason): not indexed, e.g. duplicates


def staging_version(
    session: Session, collection_id: int, model: ModelIdentity | None
) -> int | None:
    """The current version the vectors of ``model`` are staged for, with the collection row
    share-locked against a switch (stagers share it); refused when a switch made another model
    current; a precision other than the version's marks it mixed."""
    collection = session.get(
        Collection, collection_id, with_for_update={"read": True}, populate_existing=True
    )
    current = versions.current_version(session, collection) if collection is not None else None
    if current is None or model is None:
        return None
    ensure_same_model(collection.name, versions.stored_identity(current), model)
    versions.note_precision([current, collection], model.precision)
    return current.number


def stage_chunk(
    session: Session,
    job_id: int,
    seq: int,
    collection_id: int,
    outcome: ChunkOutcome,
    model: ModelIdentity | None = None,
    owner: str | None = None,
) -> bool:
    """Write a chunk's items, staged vectors, failures and skips once; False if it was already
    written, its job finished, or (given ``owner``) its lease is no longer ``owner``'s. Images
    the collection already has are counted (``already_indexed``), not listed. ``model`` made
    the vectors: they are staged for the current version, which must be that model's.

    The chunk's row is locked for the transaction; the job's row only by the counters' update at
    its end, so a stager that stalls holds no one else's chunk up.
    """
    chunk = session.get(IndexChunk, (job_id, seq), with_for_update=True, populate_existing=True)
    if chunk is None or chunk.status == ChunkStatus.DONE:
        return False
    if owner is not None and chunk.owner != owner:
        return False
    if get_job(session, job_id).status in FINISHED:
        return False
    try:
        _stage_outcome(session, job_id, chunk, collection_id, outcome, model)
    except _JobFinished:  # cancelled or failed while this chunk was staged: nothing of it kept
        return False
    finish_if_complete(session, get_job(session, job_id, lock=True))
    return True


class _JobFinished(Exception):
    """The job finished while a chunk of it was being staged."""


def _stage_outcome(
    session: Session,
    job_id: int,
    chunk: IndexChunk,
    collection_id: int,
    outcome: ChunkOutcome,
    model: ModelIdentity | None,
) -> None:
    """Stage a chunk's outcome in a savepoint, counted on its job at the end; raises
    :class:`_JobFinished` (the savepoint undone) when the job finished meanwhile."""
    with session.begin_nested():
        version = staging_version(session, collection_id, model)
        listed = [skip for skip in outcome.skips if skip[1] != ALREADY_INDEXED]
        already = len(outcome.skips) - len(listed)
        failures = list(outcome.failures)
        notes: list[tuple[str, str]] = []  # indexed, with why a fact of theirs was left out
        for item in outcome.embedded:
            shown = item.decoded.fetched.ref.shown
            try:
                if stage_item(session, collection_id, job_id, item, version, notes) is None:
                    already += 1
            except MetadataError as error:  # the image is reported, nothing of it is written
                failures.append((shown, f"metadata: {error}"))
        record_failures(session, job_id, failures)
        record_notes(session, job_id, notes)
        record_skips(session, job_id, listed)  # images already there: only counted, no one acts
        chunk.status = ChunkStatus.DONE
        chunk.finished_at = utc_now()
        chunk.owner = chunk.lease_until = None
        session.flush()
        counted = session.execute(
            update(IndexJob)
            .where(IndexJob.id == job_id, IndexJob.status.not_in(FINISHED))
            .values(
                failed=IndexJob.failed + len(failures),
                skipped=IndexJob.skipped + len(listed) + already,
                already_indexed=IndexJob.already_indexed + already,
            )
        )
        if not counted.rowcount:
            raise _JobFinished


def stage_item(
    session: Session,
    collection_id: int,
    job_id: int,
    item: Embedded,
    version: int | None = None,
    notes: list[tuple[str, str]] | None = None,
) -> int | None:
    """Insert a pending item with its outbox row; None when the collection already has the hash.
    Why a fact of its EXIF was left out goes to ``notes`` (source uri, reasons) once it is in."""
    fetched, decoded = item.decoded.fetched, item.decoded
    existing = session.scalar(
        select(Item.id).where(Item.collection_id == collection_id, Item.sha256 == fetched.sha256)
    )
    if existing is not None:
        return None
    where = f"job {job_id}: {fetched.ref.shown}"
    metadata, left_out = with_photo_facts(
        session, collection_id, decoded.photo, item.metadata(), where
    )
    with session.begin_nested():  # a refused kind leaves no registered field behind
        register(session, collection_id, metadata)
    row = Item(
        collection_id=collection_id,
        sha256=fetched.sha256,
        source_uri=fetched.ref.shown,
        source_bytes=fetched.ref.undecodable,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format[:16] or None,
        meta=metadata or None,
        parts={name: printable(value) for name, value in fetched.ref.parts} or None,
    )
    try:
        with session.begin_nested():  # another job may insert the same image concurrently
            session.add(row)
            session.flush()
    except exc.IntegrityError:
        return None
    said = (*decoded.notes, *left_out)  # what decoding warned of, then each fact left out
    if said and notes is not None:
        notes.append((fetched.ref.shown, "; ".join(dict.fromkeys(said))))
    session.add(
        PendingVectors(
            item_id=row.id,
            collection_id=collection_id,
            job_id=job_id,
            version=version,
            vectors=np.ascontiguousarray(item.vectors, dtype=np.float32).tobytes(),
            payload=json.dumps(item.payload(metadata)),
            thumbnail=decoded.thumbnail,
        )
    )
    return row.id


@dataclass(frozen=True)
class _Staged:
    """One outbox row read for applying."""

    item_id: int
    job_id: int | None
    version: int | None
    vectors: bytes
    payload: str
    thumbnail: bytes


def apply_pending(
    database: Database, store: VectorStore, settings: Settings, collection: str
) -> int:
    """Apply every staged row of a collection to the store; returns how many items were applied.

    Only the store's single writer calls this (the in-process indexer, or the FAISS writer worker).
    """
    with database.session() as session:
        row = repository.get_collection(session, collection)
        collection_id, specs = row.id, store_spaces(row)
        space_ids = [space.id for space in row.spaces]
        threshold = row.near_duplicate_threshold
        names = {v.number: v.store_name for v in versions.versions(session, row)}
        current = names.get(row.current_version or 0, collection)
    if threshold is None:
        threshold = settings.indexer.near_duplicate_threshold
    if not specs:
        return 0
    store.ensure_collection(current, specs)
    applied = 0
    for batch in _batches_with_thumbnails(database, settings, collection, collection_id):
        links: list[DuplicateLink] = []
        for number in sorted({row.version for row in batch}, key=lambda n: n or 0):
            part = [row for row in batch if row.version == number]
            target = names.get(number, current) if number is not None else current
            # near-duplicates are linked once, when an image reaches the version searches use
            found = threshold if target == current else 0.0
            links += _write_store(store, target, specs, part, found)
        applied += _mark_indexed(database, batch, space_ids, links)
    apply_metadata(database, store, collection)  # after the vectors: edits of items just stored
    return applied


def apply_metadata(database: Database, store: VectorStore, collection: str) -> int:
    """Copy staged metadata edits of indexed items into the store's payloads, build payload
    indexes for the collection's registered fields; returns how many edits were applied.

    A row is deleted only if no newer edit replaced it meanwhile (same ``revision``); an edit of
    an item whose vectors are still staged waits until they are stored.
    """
    with database.session() as session:
        row = repository.get_collection(session, collection)
        collection_id = row.id
        registry = repository.field_registry(session, collection_id)
        names = [v.store_name for v in versions.versions(session, row)] or [collection]
    present = set(store.collections())
    targets = [name for name in names if name in present]  # every version gets the edit
    if not targets:
        return 0
    if registry:
        fields = {payload_key(n): k for n, k in registry.items()}
        for target in targets:
            store.index_fields(target, fields)  # type: ignore[arg-type]
    applied = 0
    while rows := _read_edits(database, collection_id):
        ids = [item_id for item_id, _, _ in rows]
        values = [json.loads(text) for _, text, _ in rows]
        for target in targets:
            store.set_metadata(target, ids, values)
        store.flush()
        with database.session() as session:
            for item_id, _, revision in rows:
                session.execute(
                    delete(PendingMetadata).where(
                        PendingMetadata.item_id == item_id, PendingMetadata.revision == revision
                    )
                )
        applied += len(rows)
    return applied


def _read_edits(database: Database, collection_id: int) -> list[tuple[int, str, int]]:
    """The next staged metadata edits of indexed items: (item id, metadata JSON, revision)."""
    with database.session() as session:
        rows = session.execute(
            select(PendingMetadata.item_id, PendingMetadata.metadata_json, PendingMetadata.revision)
            .join(Item, Item.id == PendingMetadata.item_id)
            .where(
                PendingMetadata.collection_id == collection_id,
                Item.status == ItemStatus.INDEXED,
            )
            .order_by(PendingMetadata.item_id)
            .limit(APPLY_BATCH)
        ).all()
    return [(int(a), b, int(c)) for a, b, c in rows]


def recover_pending(
    database: Database, store: VectorStore, settings: Settings, collection: str
) -> int:
    """Finish what a crash left of a collection; how many items it found ``pending``.

    Items whose outbox row is there are applied (vectors written, marked indexed); an item
    ``pending`` without one (written apart from its vectors by a version before issue 24's fix)
    is deleted, so that its hash no longer hides it and the run that follows indexes it again.
    """
    with database.session() as session:
        row = repository.get_collection(session, collection)
        pending = select(Item.id).where(
            Item.collection_id == row.id, Item.status == ItemStatus.PENDING
        )
        found = len(session.scalars(pending).all())
        staged = select(PendingVectors.item_id).where(PendingVectors.collection_id == row.id)
        session.execute(delete(Item).where(Item.id.in_(pending), Item.id.not_in(staged)))
    if found:
        apply_pending(database, store, settings, collection)
    return found


def collection_names(database: Database, collection_ids: Select[tuple[int]]) -> list[str]:
    """Names of the collections whose id ``collection_ids`` selects, sorted: what the outbox's
    sweeps (here and the workers' watchdog) go through."""
    with database.session() as session:
        query = select(Collection.name).where(Collection.id.in_(collection_ids))
        return list(session.scalars(query.order_by(Collection.name)))


def pending_collections(database: Database) -> list[str]:
    """Names of the collections that have items a crash left ``pending``."""
    pending = select(Item.collection_id).where(Item.status == ItemStatus.PENDING)
    return collection_names(database, pending)


def _read_batch(database: Database, collection_id: int, after: int = 0) -> list[_Staged]:
    """The next staged rows of a collection with ids above ``after``, oldest first."""
    with database.session() as session:
        rows = session.execute(
            select(
                PendingVectors.item_id,
                PendingVectors.job_id,
                PendingVectors.version,
                PendingVectors.vectors,
                PendingVectors.payload,
                PendingVectors.thumbnail,
            )
            .where(PendingVectors.collection_id == collection_id, PendingVectors.item_id > after)
            .order_by(PendingVectors.item_id)
            .limit(APPLY_BATCH)
        ).all()
    return [_Staged(*row) for row in rows]


def _batches_with_thumbnails(
    database: Database, settings: Settings, collection: str, collection_id: int
) -> Iterator[list[_Staged]]:
    """Staged batches until none is left, each given once its thumbnails are on disk (so no
    search finds an item whose thumbnail is missing); the next batch's thumbnails are written
    on a thread while the caller stores this one (creating files waits on the disk, not the
    CPU)."""

    def start(batch: list[_Staged]) -> Future[None]:
        files = [
            (thumbnail_path(settings, collection, r.item_id), r.thumbnail)
            for r in batch
            if r.thumbnail  # an item with no picture (a caption) has none
        ]
        return writer.submit(write_thumbnails, files)

    with ThreadPoolExecutor(1, thread_name_prefix="thumbnails") as writer:
        batch = _read_batch(database, collection_id)
        written = start(batch)
        while batch:
            written.result()
            ahead = _read_batch(database, collection_id, after=batch[-1].item_id)
            ahead_written = start(ahead)
            yield batch  # stored and committed by the caller before the loop goes on
            batch, written = ahead, ahead_written
            if not batch:  # rows staged meanwhile, also below the ids read so far
                written.result()
                batch = _read_batch(database, collection_id)
                written = start(batch)


def _write_store(
    store: VectorStore, target: str, specs: Sequence, batch: list[_Staged], threshold: float
) -> list[DuplicateLink]:
    """Near-duplicates found among what the version's store collection ``target`` holds so far
    (none with ``threshold`` 0), then vectors and payloads to it, flushed to be durable; the
    near-duplicate links to record."""
    matrix = np.stack([np.frombuffer(row.vectors, dtype=np.float32) for row in batch])
    vectors, start = {}, 0
    for spec in specs:
        vectors[spec.name] = matrix[:, start : start + spec.dim]
        start += spec.dim
    ids = [row.item_id for row in batch]
    payloads = [json.loads(r.payload) for r in batch]
    kinds = [tuple(p.get("modalities", ("rgb",))) for p in payloads]
    links = find_near_duplicates(store, target, ids, vectors, threshold, kinds)
    store.upsert(target, ids, vectors, payloads)
    store.flush()
    return links


def _mark_indexed(
    database: Database, batch: list[_Staged], space_ids: list[int], links: list[DuplicateLink]
) -> int:
    """Items indexed, embeddings and near-duplicates recorded, outbox rows gone and jobs
    counted: one transaction."""
    ids = [row.item_id for row in batch]
    with database.session() as session:
        present = session.execute(
            select(PendingVectors.item_id, PendingVectors.job_id)
            .where(PendingVectors.item_id.in_(ids))
            .with_for_update()
        ).all()
        live = [item_id for item_id, _ in present]
        if not live:
            return 0
        session.execute(update(Item).where(Item.id.in_(live)).values(status=ItemStatus.INDEXED))
        session.execute(delete(ItemEmbedding).where(ItemEmbedding.item_id.in_(live)))
        now = utc_now()
        session.execute(  # one executemany: ORM objects cost ~0.3 ms an item at this volume
            insert(ItemEmbedding),
            [
                {"item_id": item_id, "space_id": space_id, "created_at": now}
                for item_id in live
                for space_id in space_ids
            ],
        )
        applied = set(live)
        _record_duplicates(session, [link for link in links if link.item_id in applied])
        session.execute(delete(PendingVectors).where(PendingVectors.item_id.in_(live)))
        per_job: dict[int, int] = {}
        for _, job_id in present:
            if job_id is not None:
                per_job[job_id] = per_job.get(job_id, 0) + 1
        session.flush()
        count_done(session, per_job)
    return len(live)


def _record_duplicates(session: Session, links: list[DuplicateLink]) -> None:
    """Link each near-duplicate to the first item of its group (the original of its original,
    when that is itself a near-duplicate), replacing links of a re-applied batch."""
    if not links:
        return
    ids = [link.item_id for link in links]
    session.execute(delete(NearDuplicate).where(NearDuplicate.item_id.in_(ids)))
    known = dict(
        session.execute(
            select(NearDuplicate.item_id, NearDuplicate.original_id).where(
                NearDuplicate.item_id.in_([link.original_id for link in links])
            )
        ).all()
    )
    roots: dict[int, int] = {}
    for link in sorted(links, key=lambda x: x.item_id):  # earlier items' roots first
        root = known.get(link.original_id, roots.get(link.original_id, link.original_id))
        roots[link.item_id] = root
        session.add(
            NearDuplicate(item_id=link.item_id, original_id=root, similarity=link.similarity)
        )
