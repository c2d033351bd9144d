"""Filling a collection version with the collection's items: each indexed item the version's
store collection lacks is read again from its source, embedded by the version's model and
written, batch by batch, with the payloads and previews a first index writes (a re-index builds
a version this way, a rollback catches an old one up with the items added since)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from anyseek.db import repository, versions
from anyseek.db.models import Item, ItemStatus, JobFailure, JobStatus, stored_path
from anyseek.db.session import Database
from anyseek.indexer import reconstructions
from anyseek.indexer.decode import Decoded, decode_item, decode_limits
from anyseek.indexer.errors import ItemError
from anyseek.indexer.fetch import fetch
from anyseek.indexer.jobs import get_job, record_failures
from anyseek.indexer.sources import SourceRef
from anyseek.model.service import SearchModel, embed_items
from anyseek.search.stores import SpaceSpec, VectorStore
from anyseek.settings import Settings


def version_spaces(model: SearchModel) -> list[SpaceSpec]:
    """The model's spaces as the store declares them, in name order."""
    return sorted((SpaceSpec(s.name, s.dim, s.metric) for s in model.spaces), key=lambda s: s.name)


@dataclass
class VersionFill:
    """Filling a version's store collection with the collection's indexed items, batch by batch
    (a re-index's, and a rollback's catch-up)."""

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
        limits = decode_limits(
            self.settings.api.max_image_pixels,
            self.settings.indexer.thumbnail_size,
            self.model.image_input,
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
        inputs = [d.inputs for d in decoded]
        rows = np.stack(embed_items(self.model, inputs, self.settings.model.batch_size))
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
