"""``run_index``: index a source into a collection in this process, as one resumable job.

The job and its chunks are written first; chunks are then prepared (fetch, hash, decode) one ahead
of the model, staged, and applied to the store by this process, which is the store's writer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from anyseek.db.migrate import open_database, session_for
from anyseek.db.models import JobStatus
from anyseek.errors import PATH_ERRORS, path_refused
from anyseek.indexer.collections import attach_model, collection_model
from anyseek.indexer.errors import SourceError
from anyseek.indexer.heartbeat import heartbeat
from anyseek.indexer.jobs import (
    IndexReport,
    create_job,
    fail_job,
    get_job,
    pending_chunks,
    progress,
    report,
    start_job,
)
from anyseek.indexer.metadata import UNMATCHED_SHOWN, attach, unmatched
from anyseek.indexer.outbox import apply_pending, recover_pending
from anyseek.indexer.pipeline import ChunkContext, finish_chunk, prefetched
from anyseek.indexer.records import (
    SourceForm,
    check_request,
    check_taken,
    expand_items,
    with_modality,
)
from anyseek.indexer.runtime import process_model
from anyseek.indexer.sources import Expanded, Skip, SourceRef, describe, printable
from anyseek.model.service import SearchModel, item_modalities
from anyseek.search.stores import VectorStore, open_store
from anyseek.settings import IndexerSettings, Settings


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its original name, bytes and user metadata (what the API receives)."""

    filename: str
    data: bytes
    metadata: dict[str, Any] | None = None


def plan_job(
    settings: Settings,
    collection: str,
    source: str | Path | Sequence[Path],
    *,
    refs: Sequence[SourceRef] | Expanded | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    session: Session | None = None,
    form: SourceForm = SourceForm(),
    model: SearchModel | None = None,
) -> int:
    """Expand the source (or take ``refs``) as ``form`` says and write a queued job with its
    chunks; its id. ``metadata`` (a metadata file's rows by path) goes with the items it names;
    the entries of a folder left out are listed on the job as skipped, a manifest's rows that are
    no item as failed. With ``model``, a source holding a modality it does not take is refused
    before anything is written.

    With ``session`` the job is added to it and the caller commits; without, it is written in a
    transaction of its own, committed on return. An item listed twice (the same path in a list,
    the same file uploaded twice) is indexed once.
    """
    if session is None:
        with session_for(settings) as own:
            return plan_job(
                settings, collection, source, refs=refs, metadata=metadata, session=own,
                form=form, model=model,
            )  # fmt: skip
    if refs is None:
        try:
            found = expand_items(settings.indexer, source, form)
        except PATH_ERRORS as error:  # a path the OS refuses: too long, no file name, no access
            raise SourceError(path_refused("source", describe(source), error)) from None
    else:
        found = refs if isinstance(refs, Expanded) else Expanded(list(refs))
    refs = attach(found.refs, metadata) if metadata else found.refs
    refs = list({ref.uri: ref for ref in refs}.values())  # in order of first appearance
    if model is not None:
        check_taken(refs, item_modalities(model), model.name)
    chunk_size = settings.indexer.chunk_size
    job = create_job(
        session, collection, describe(source), refs, chunk_size, found.skips, found.failures
    )
    if metadata:  # rows naming no image: counted on the job with the first few, never dropped
        missed = unmatched(refs, metadata)
        job.metadata_unmatched = len(missed)
        job.metadata_unmatched_rows = "\n".join(missed[:UNMATCHED_SHOWN]) or None
    return job.id


def run_index(
    settings: Settings,
    collection: str,
    source: str | Path | Sequence[Path],
    *,
    model: SearchModel | None = None,
    store: VectorStore | None = None,
    progress: bool = False,
    job_id: int | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    load_model: Callable[[str], SearchModel] | None = None,
    form: SourceForm = SourceForm(),
) -> IndexReport:
    """Index ``source`` into ``collection`` in this process and return the job's report.

    With ``job_id`` an existing job (queued, running or failed) is resumed: its staged chunks are
    not redone and ``source`` is ignored. The collection is created in the database and the
    store when missing. A collection already indexed is indexed with its current version's model
    (``load_model(source)``, by default this process's model of that source), ``model`` being
    the one new collections get. Items a crash left ``pending`` in the collection are
    finished (or re-queued) first; the report counts them as ``recovered``.
    """
    if job_id is None:
        check_request(settings.indexer, collection, source, form)  # before the model loads
    model = model or process_model(settings)  # bad model or store settings: no job written
    own_store = store is None
    store = store or open_store(settings)
    try:
        if job_id is None:
            job_id = plan_job(
                settings, collection, source, metadata=metadata, form=form, model=model
            )
    except BaseException:
        if own_store:
            store.close()
        raise
    database = open_database(settings)
    try:
        with database.session() as session:
            job = start_job(session, job_id, resume=True)
            load = load_model or (lambda model_source: process_model(settings, model_source))
            model, model_source = collection_model(session, job.collection, model, load)
            attach_model(session, job.collection, model, model_source or settings.model.source)
            collection = job.collection.name
        with ThreadPoolExecutor(settings.indexer.decode_workers, "anyseek-decode") as pool:
            ctx = ChunkContext(settings, database, model, pool)
            with heartbeat(database, job_id, settings.indexer.heartbeat_s):
                recovered = _run_chunks(ctx, store, job_id, collection, progress)
        with database.session() as session:
            return dataclasses.replace(report(session, job_id), recovered=recovered)
    except BaseException as error:
        if not isinstance(error, KeyboardInterrupt | SourceError):
            with database.session() as session:
                fail_job(session, job_id, f"{type(error).__name__}: {error}")
        raise
    finally:
        database.dispose()
        if own_store:
            store.close()


def _run_chunks(
    ctx: ChunkContext, store: VectorStore, job_id: int, collection: str, show_progress: bool
) -> int:
    """Recover what a crash left, then process the job's pending chunks in order; staged vectors
    are applied (and the store flushed) every ``flush_interval_s`` and at the end, not after
    every chunk. Returns how many items were recovered."""
    with ctx.database.session() as session:
        seqs = pending_chunks(session, job_id)
        total, already = get_job(session, job_id).total, progress(session, job_id)
    bar = _progress_bar(total, already, collection) if show_progress else None
    interval = ctx.settings.indexer.flush_interval_s
    try:
        recovered = recover_pending(ctx.database, store, ctx.settings, collection)
        last_apply = time.monotonic()
        for prepared in prefetched(ctx, job_id, seqs):
            if prepared is not None:
                finish_chunk(ctx, prepared)
            if time.monotonic() - last_apply >= interval:  # each apply flushes the store
                apply_pending(ctx.database, store, ctx.settings, collection)
                last_apply = time.monotonic()
            with ctx.database.session() as session:  # staged items count: the bar moves by chunk
                counted, status = progress(session, job_id), get_job(session, job_id).status
            if bar is not None:
                bar.update(counted - bar.n)
            if status == JobStatus.CANCELLED:
                break
        apply_pending(ctx.database, store, ctx.settings, collection)
    finally:
        if bar is not None:
            bar.close()
    return recovered


def _progress_bar(total: int, already: int, collection: str):
    """A tqdm bar on stderr counting processed items (photos, captions, maps or records)."""
    from tqdm import tqdm

    return tqdm(total=total, initial=already, unit="item", desc=f"indexing {collection}")


SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def spool_uploads(
    settings: Settings, uploads: Sequence[Upload], folder: Path | None = None
) -> list[SourceRef]:
    """Write uploads under ``<data_dir>/uploads`` (by content hash), so tasks carry paths; with
    ``folder``, all of them into that one folder under their names (a manifest and its files)."""
    if not uploads:
        raise SourceError("no files uploaded")
    root = settings.data_dir / "uploads"
    refs = []
    for upload in uploads:
        digest = hashlib.sha256(upload.data).hexdigest()
        name = SAFE_NAME.sub("_", Path(upload.filename).name)[-100:] or "upload"
        path = (folder or root / digest[:2] / digest) / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_suffix(path.suffix + ".tmp")
            temp.write_bytes(upload.data)
            temp.replace(path)
        refs.append(SourceRef(str(path), name, upload=True, metadata=upload.metadata))
    return refs


def uploaded_items(
    settings: Settings, uploads: Sequence[Upload], form: SourceForm, manifest: Upload | None
) -> Expanded:
    """Uploaded files as items: each file one item of ``form.modality``, each file a JSONL of
    captions, or (``manifest``) the records of an uploaded manifest, whose columns name the
    uploaded files by name. Spooled into the data directory, uploads are read whatever the
    allowed roots say; what is said of them (errors, rows that are no item) names the uploaded
    file, never where the server spooled it."""
    own = settings.indexer.model_copy(update={"allowed_roots": []})
    if manifest is not None:
        digest = hashlib.sha256(manifest.data)
        for upload in uploads:
            digest.update(hashlib.sha256(upload.data).digest() + upload.filename.encode())
        folder = settings.data_dir / "uploads" / "records" / digest.hexdigest()
        spool_uploads(settings, uploads, folder)
        listed = spool_uploads(settings, [manifest], folder)[0]
        return _read_spooled(own, Path(listed.uri), SourceForm(manifest=True))
    refs = spool_uploads(settings, uploads)
    if form.modality != "caption":
        return with_modality(Expanded(refs), form.modality)
    found = Expanded([])
    for ref in refs:
        texts = _read_spooled(own, Path(ref.uri), form)
        found.refs.extend(texts.refs)
        found.failures.extend(texts.failures)
    return found


def _read_spooled(settings: IndexerSettings, path: Path, form: SourceForm) -> Expanded:
    """The items of a spooled file (a manifest, a JSONL of captions), its errors and the rows
    that are no item naming it by its uploaded name: the spool folder is the server's own."""
    folder = f"{printable(str(path.parent))}/"
    try:
        found = expand_items(settings, path, form)
    except SourceError as error:
        raise SourceError(str(error).replace(folder, "")) from None
    rows = [
        Skip(row.path.replace(folder, ""), row.reason.replace(folder, "")) for row in found.failures
    ]
    return dataclasses.replace(found, failures=rows)


def plan_uploads(
    settings: Settings,
    collection: str,
    uploads: Sequence[Upload],
    session: Session | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    form: SourceForm = SourceForm(),
    manifest: Upload | None = None,
    model: SearchModel | None = None,
) -> int:
    """Spool uploaded files and write a queued job for them (run it here or enqueue it); with
    ``session`` the job is added to it and the caller commits. ``metadata`` (a metadata file's
    rows, keyed by the uploads' file names) goes with the uploads it names; ``form`` and
    ``manifest`` say what the files are (:func:`uploaded_items`)."""
    found = uploaded_items(settings, uploads, form, manifest)
    source = f"{len(uploads)} uploaded files" + (f" ({manifest.filename})" if manifest else "")
    return plan_job(
        settings, collection, source, refs=found, metadata=metadata, session=session, model=model
    )


def index_uploads(
    settings: Settings,
    collection: str,
    uploads: Sequence[Upload],
    *,
    model: SearchModel | None = None,
    store: VectorStore | None = None,
) -> IndexReport:
    """Index uploaded files (name + bytes) in this process; ``payload.path`` is the file name.

    For workers instead: ``job_id = plan_uploads(...)`` then
    ``anyseek.workers.submit.enqueue_chunks``.
    Uploads are spooled into the data directory, so the allowed roots do not apply to them.
    """
    job_id = plan_uploads(settings, collection, uploads)
    return run_index(settings, collection, (), model=model, store=store, job_id=job_id)
