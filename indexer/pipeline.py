"""Processing one chunk: fetch and hash in a pool, skip known hashes, decode, embed, stage.

The same code runs in-process (``run_index``) and in a Celery task. Decoding runs in a thread pool
(Pillow releases the GIL) while the calling thread runs the model; :func:`prefetched` lets the
in-process loop decode the next chunk while the current one is embedded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import select

from anyseek.db.models import ChunkStatus, IndexChunk, Item
from anyseek.db.session import Database
from anyseek.errors import plain
from anyseek.indexer import reconstructions
from anyseek.indexer.decode import Decoded, DecodeLimits, decode_item, decode_limits
from anyseek.indexer.errors import ItemError
from anyseek.indexer.fetch import Fetched, fetch
from anyseek.indexer.jobs import FINISHED, chunk_refs, get_job
from anyseek.indexer.outbox import ALREADY_INDEXED, ChunkOutcome, Embedded, stage_chunk
from anyseek.indexer.priors import ensure_priors
from anyseek.indexer.sources import SourceRef
from anyseek.model.service import SearchModel, embed_items, model_identity
from anyseek.settings import Settings


@dataclass(frozen=True)
class Prepared:
    """A chunk after the CPU work: decoded items, failures and items skipped by hash."""

    job_id: int
    seq: int
    collection_id: int
    decoded: tuple[Decoded, ...]
    failures: tuple[tuple[str, str], ...]  # (source uri, reason)
    skips: tuple[tuple[str, str], ...]  # (source uri, reason)


@dataclass
class ChunkContext:
    """What processing chunks needs, built once per process (or per in-process run)."""

    settings: Settings
    database: Database
    model: SearchModel
    pool: ThreadPoolExecutor

    @cached_property
    def limits(self) -> DecodeLimits:
        """Decoding limits from the settings (one pixel limit for queries and indexing) and the
        model's input size (how small a photo may be decoded)."""
        return decode_limits(
            self.settings.api.max_image_pixels,
            self.settings.indexer.thumbnail_size,
            self.model.image_input,
        )


def _each(ctx: ChunkContext, function, items: Sequence) -> list[object]:
    """``function`` on every item in the pool, each result or its :class:`ItemError`; an item
    still running after ``indexer.file_timeout_s`` (counted from when all were submitted) is
    failed and left behind, so one stuck file never holds the job."""
    timeout = ctx.settings.indexer.file_timeout_s
    futures = [ctx.pool.submit(_try, function, *item) for item in items]
    deadline = time.monotonic() + timeout * max(
        1, -(-len(items) // ctx.settings.indexer.decode_workers)
    )
    out: list[object] = []
    for future in futures:
        try:
            out.append(future.result(max(0.0, deadline - time.monotonic())))
        except FutureTimeout:
            future.cancel()
            out.append(
                ItemError(f"timed out after {timeout:g} s (ANYSEEK_INDEXER__FILE_TIMEOUT_S)")
            )
    return out


def _try(function, *args) -> object:
    """Run ``function``; an :class:`ItemError` is returned (as the item's failure), not raised."""
    try:
        return function(*args)
    except ItemError as error:
        return error
    except Exception as error:  # an unexpected library error fails this item, not the job
        return ItemError(plain(f"{type(error).__name__}: {error}"))


def prepare_chunk(ctx: ChunkContext, job_id: int, seq: int) -> Prepared | None:
    """Read, hash and decode a chunk's items; None when the chunk or its job is finished."""
    with ctx.database.session() as session:
        job = get_job(session, job_id)
        chunk = session.get(IndexChunk, (job_id, seq))
        if chunk is None or chunk.status == ChunkStatus.DONE or job.status in FINISHED:
            return None
        refs, collection_id = chunk_refs(chunk), job.collection_id
    failures: list[tuple[str, str]] = []
    fetched = _fetch_all(ctx, refs, failures)
    known = _known_hashes(ctx.database, collection_id, [f.sha256 for f in fetched])
    fresh, skips, first = [], [], dict.fromkeys(known, "")
    for item in fetched:
        if item.sha256 in first:
            skips.append((item.ref.shown, _duplicate(first[item.sha256], bool(item.ref.parts))))
        else:
            first[item.sha256] = item.ref.shown
            fresh.append(item)
    limits, model = ctx.limits, ctx.model
    decoded: list[Decoded] = []
    for item, result in zip(
        fresh, _each(ctx, decode_item, [(f, limits, model) for f in fresh]), strict=True
    ):
        if isinstance(result, ItemError):
            failures.append((item.ref.shown, plain(result)))
        else:
            decoded.append(result)
    return Prepared(job_id, seq, collection_id, tuple(decoded), tuple(failures), tuple(skips))


def _duplicate(original: str, record: bool = False) -> str:
    """Why an item whose hash was seen is skipped: which entry of the chunk has the same bytes
    (an image's, or all of a record's parts), or ("") that the collection already has them."""
    what = "item (by the SHA-256 of its parts)" if record else "image (by SHA-256)"
    return f"the same {what} as {original}" if original else ALREADY_INDEXED


def _fetch_all(
    ctx: ChunkContext, refs: Sequence[SourceRef], failures: list[tuple[str, str]]
) -> list[Fetched]:
    """Fetch every item in the pool; failures are appended as (uri, reason)."""
    settings = ctx.settings.indexer
    out: list[Fetched] = []
    for ref, result in zip(refs, _each(ctx, fetch, [(r, settings) for r in refs]), strict=True):
        if isinstance(result, ItemError):
            failures.append((ref.shown, plain(result)))
        else:
            out.append(result)
    return out


def _known_hashes(database: Database, collection_id: int, hashes: list[str]) -> set[str]:
    """The hashes among ``hashes`` that the collection already has (indexed or being written)."""
    if not hashes:
        return set()
    with database.session() as session:
        return set(
            session.scalars(
                select(Item.sha256).where(
                    Item.collection_id == collection_id, Item.sha256.in_(hashes)
                )
            )
        )


def finish_chunk(ctx: ChunkContext, prepared: Prepared, owner: str | None = None) -> bool:
    """Embed a prepared chunk and stage it in one transaction; False if it was already staged
    (or, given the worker ``owner`` of its lease, the lease is no longer theirs).
    The collection's first chunk with images also estimates and stores its priors; a model that
    reconstructs also writes each item's depth and segmentation PNGs beside its thumbnail."""
    _priors(ctx, prepared)
    settings = ctx.settings
    inputs = [d.inputs for d in prepared.decoded]
    vectors = embed_items(ctx.model, inputs, settings.model.batch_size)
    pictures: reconstructions.ByHash = {}
    if settings.indexer.reconstructions:
        pictures = reconstructions.predict(
            ctx.model, prepared.decoded, settings.indexer.thumbnail_size, settings.model.batch_size
        )
    outcome = ChunkOutcome(
        embedded=tuple(Embedded(d, v) for d, v in zip(prepared.decoded, vectors, strict=True)),
        failures=prepared.failures,
        skips=prepared.skips,
    )
    with ctx.database.session() as session:
        staged = stage_chunk(
            session,
            prepared.job_id,
            prepared.seq,
            prepared.collection_id,
            outcome,
            model_identity(ctx.model),
            owner,
        )
    if staged:  # the items have ids now: their reconstructions go beside their thumbnails
        reconstructions.write(ctx.database, settings, prepared.collection_id, pictures)
    return staged


def _priors(ctx: ChunkContext, prepared: Prepared) -> None:
    """Store the collection's priors from this chunk's images if it has none yet (one small
    query per chunk; not cached: a collection deleted and made again may reuse its id)."""
    ensure_priors(
        ctx.database,
        ctx.model,
        prepared.collection_id,
        [d.rgb for d in prepared.decoded if d.rgb is not None],
        ctx.settings.indexer.prior_images,
    )


def process_chunk(ctx: ChunkContext, job_id: int, seq: int, owner: str | None = None) -> bool:
    """Prepare and stage one chunk (what a Celery task does, as ``owner`` of its lease); False
    if there was nothing to do."""
    prepared = prepare_chunk(ctx, job_id, seq)
    return prepared is not None and finish_chunk(ctx, prepared, owner)


def prefetched(ctx: ChunkContext, job_id: int, seqs: Sequence[int]) -> Iterator[Prepared | None]:
    """Prepared chunks in order, the next one decoded in the background while one is embedded."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="anyseek-prefetch") as ahead:
        pending: Future | None = None
        for index, seq in enumerate(seqs):
            current = pending or ahead.submit(prepare_chunk, ctx, job_id, seq)
            pending = (
                ahead.submit(prepare_chunk, ctx, job_id, seqs[index + 1])
                if index + 1 < len(seqs)
                else None
            )
            yield current.result()
