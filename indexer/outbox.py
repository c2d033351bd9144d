"""The outbox: vectors staged in the database, applied to the store by its one writer.

Staging (:func:`stage_chunk`) writes items as ``pending`` with their vectors, payload and thumbnail
in one transaction. Applying (:func:`apply_pending`) writes thumbnails, upserts the vectors keyed by
item id and flushes the store, then in one transaction marks the items ``indexed`` and deletes the
staged rows. A crash before that commit only means the rows are applied again (upserts by id are
idempotent); no item is ``indexed`` without its vectors, and no vector exists without its item.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, exc, select, update
from sqlalchemy.orm import Session

from anyseek.db import repository
from anyseek.db.models import (
    ChunkStatus,
    Collection,
    IndexChunk,
    Item,
    ItemEmbedding,
    ItemStatus,
    JobFailure,
    PendingVectors,
    utc_now,
)
from anyseek.db.session import Database
from anyseek.settings import Settings
from indexer.collections import store_spaces
from indexer.decode import Decoded
from indexer.jobs import FINISHED, count_done, finish_if_complete, get_job
from indexer.sources import printable
from indexer.thumbnails import thumbnail_path, write_thumbnail
from search.stores import VectorStore

APPLY_BATCH = 512


@dataclass(frozen=True)
class Embedded:
    """One decoded item with its vectors, all spaces concatenated in space-name order."""

    decoded: Decoded
    vectors: np.ndarray  # [sum of dims] float32

    def payload(self) -> dict[str, object]:
        """The store payload search filters on."""
        fetched = self.decoded.fetched
        return {
            "path": fetched.ref.shown_path,
            "folder": printable(fetched.ref.folder),
            "ext": fetched.ref.ext,
            "bytes": len(fetched.data),
            "width": self.decoded.width,
            "height": self.decoded.height,
            "mtime": fetched.mtime,
            "sha256": fetched.sha256,
        }


@dataclass(frozen=True)
class ChunkOutcome:
    """What processing a chunk produced, before it is written."""

    embedded: tuple[Embedded, ...]
    failures: tuple[tuple[str, str], ...]  # (source uri, reason)
    skipped: int


def stage_chunk(
    session: Session, job_id: int, seq: int, collection_id: int, outcome: ChunkOutcome
) -> bool:
    """Write a chunk's items, staged vectors and failures once; False if it was already written."""
    job = get_job(session, job_id, lock=True)
    chunk = session.get(IndexChunk, (job_id, seq), with_for_update=True, populate_existing=True)
    if chunk is None or chunk.status == ChunkStatus.DONE or job.status in FINISHED:
        return False
    skipped = outcome.skipped
    for item in outcome.embedded:
        if stage_item(session, collection_id, job_id, item) is None:
            skipped += 1
    for uri, reason in outcome.failures:
        session.add(JobFailure(job_id=job_id, source_uri=uri, reason=reason))
    chunk.status = ChunkStatus.DONE
    chunk.finished_at = utc_now()
    job.failed += len(outcome.failures)
    job.skipped += skipped
    session.flush()
    finish_if_complete(session, job)
    return True


def stage_item(session: Session, collection_id: int, job_id: int, item: Embedded) -> int | None:
    """Insert a pending item with its outbox row; None when the collection already has the hash."""
    fetched, decoded = item.decoded.fetched, item.decoded
    existing = session.scalar(
        select(Item.id).where(Item.collection_id == collection_id, Item.sha256 == fetched.sha256)
    )
    if existing is not None:
        return None
    row = Item(
        collection_id=collection_id,
        sha256=fetched.sha256,
        source_uri=fetched.ref.shown,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format[:16] or None,
    )
    try:
        with session.begin_nested():  # another job may insert the same image concurrently
            session.add(row)
            session.flush()
    except exc.IntegrityError:
        return None
    session.add(
        PendingVectors(
            item_id=row.id,
            collection_id=collection_id,
            job_id=job_id,
            vectors=np.ascontiguousarray(item.vectors, dtype=np.float32).tobytes(),
            payload=json.dumps(item.payload()),
            thumbnail=decoded.thumbnail,
        )
    )
    return row.id


@dataclass(frozen=True)
class _Staged:
    """One outbox row read for applying."""

    item_id: int
    job_id: int | None
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
    if not specs:
        return 0
    store.ensure_collection(collection, specs)
    applied = 0
    while batch := _read_batch(database, collection_id):
        _write_store(store, settings, collection, specs, batch)
        applied += _mark_indexed(database, batch, space_ids)
    return applied


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


def pending_collections(database: Database) -> list[str]:
    """Names of the collections that have items a crash left ``pending``."""
    with database.session() as session:
        return list(
            session.scalars(
                select(Collection.name)
                .where(
                    Collection.id.in_(
                        select(Item.collection_id).where(Item.status == ItemStatus.PENDING)
                    )
                )
                .order_by(Collection.name)
            )
        )


def _read_batch(database: Database, collection_id: int) -> list[_Staged]:
    """The next staged rows of a collection, oldest first."""
    with database.session() as session:
        rows = session.execute(
            select(
                PendingVectors.item_id,
                PendingVectors.job_id,
                PendingVectors.vectors,
                PendingVectors.payload,
                PendingVectors.thumbnail,
            )
            .where(PendingVectors.collection_id == collection_id)
            .order_by(PendingVectors.item_id)
            .limit(APPLY_BATCH)
        ).all()
    return [_Staged(*row) for row in rows]


def _write_store(
    store: VectorStore, settings: Settings, collection: str, specs: Sequence, batch: list[_Staged]
) -> None:
    """Thumbnails to disk, then vectors and payloads to the store, flushed to be durable."""
    for row in batch:
        write_thumbnail(thumbnail_path(settings, collection, row.item_id), row.thumbnail)
    matrix = np.stack([np.frombuffer(row.vectors, dtype=np.float32) for row in batch])
    vectors, start = {}, 0
    for spec in specs:
        vectors[spec.name] = matrix[:, start : start + spec.dim]
        start += spec.dim
    store.upsert(
        collection, [row.item_id for row in batch], vectors, [json.loads(r.payload) for r in batch]
    )
    store.flush()


def _mark_indexed(database: Database, batch: list[_Staged], space_ids: list[int]) -> int:
    """Items indexed, embeddings recorded, outbox rows gone and jobs counted: one transaction."""
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
        session.add_all(
            ItemEmbedding(item_id=item_id, space_id=space_id)
            for item_id in live
            for space_id in space_ids
        )
        session.execute(delete(PendingVectors).where(PendingVectors.item_id.in_(live)))
        per_job: dict[int, int] = {}
        for _, job_id in present:
            if job_id is not None:
                per_job[job_id] = per_job.get(job_id, 0) + 1
        session.flush()
        count_done(session, per_job)
    return len(live)
