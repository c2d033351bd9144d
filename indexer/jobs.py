"""Index jobs in the database: creation with their chunks, progress, cancel, and the report.

Counters change only together with a state change that happens once (a chunk staged, an outbox row
applied), in the same transaction, by an update of the job's row at its end: retried or
redelivered work never counts twice, the job is marked done by whichever transaction finishes its
last piece, and the row is locked only for that last moment, never across work that may stall.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from anyseek.db import repository
from anyseek.db.models import (
    ChunkStatus,
    Collection,
    IndexChunk,
    IndexJob,
    JobFailure,
    JobStatus,
    PendingVectors,
    utc_now,
)
from anyseek.errors import AnyseekError, NotFoundError, at_field, plain
from anyseek.indexer.sources import Skip, SourceRef

FINISHED = (JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED)
#: how a job's row is locked: FOR NO KEY UPDATE on PostgreSQL, not FOR UPDATE. Staging a chunk
#: inserts rows that name the job (a key-share lock on its row) before it counts them on the job;
#: FOR UPDATE waits for every such lock, so a stager or the writer locking the job waited for a
#: second stager whose own count then waited for it: a deadlock. A job's key never changes.
JOB_LOCK = {"key_share": True}


class JobStateError(AnyseekError):
    """A job cannot do what was asked in its current state (e.g. cancel a finished job)."""


@dataclass(frozen=True)
class IndexReport:
    """Where a job stands: counts, status and the reason of each entry failed or skipped, and
    the note of each entry indexed with part of its facts left out."""

    job_id: int
    collection: str
    source: str
    status: str
    total: int
    done: int
    failed: int
    skipped: int
    failures: tuple[tuple[str, str], ...]  # (source uri, reason)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    recovered: int = 0  # items a crash had left pending, finished or re-queued by this run
    skips: tuple[tuple[str, str], ...] = ()  # (source uri, reason): entries not indexed
    already_indexed: int = 0  # of ``skipped``: images the collection had, counted, not listed
    metadata_unmatched: int = 0  # rows of the metadata file that named no image of the source
    unmatched_rows: tuple[str, ...] = ()  # the first few of them, as NAME:LINE (path)
    notes: tuple[tuple[str, str], ...] = ()  # (source uri, note): indexed, a fact left out

    @property
    def processed(self) -> int:
        """Items accounted for so far (indexed, failed or skipped)."""
        return self.done + self.failed + self.skipped


def create_job(
    session: Session,
    collection: str,
    source: str,
    refs: Sequence[SourceRef],
    chunk_size: int,
    skips: Sequence[Skip] = (),
    failures: Sequence[Skip] = (),
) -> IndexJob:
    """A queued job over ``refs`` split into chunks; the collection is created if missing. The
    source's ``skips`` and ``failures`` (rows that are no item) are counted (in ``total`` and
    ``skipped`` / ``failed``) and listed on it at once."""
    row = session.scalar(select(Collection).where(Collection.name == collection))
    if row is None:
        row = repository.create_collection(session, collection)
    job = IndexJob(
        collection_id=row.id,
        source=source,
        total=len(refs) + len(skips) + len(failures),
        skipped=len(skips),
        failed=len(failures),
    )
    session.add(job)
    session.flush()
    record_skips(session, job.id, [(skip.path, skip.reason) for skip in skips])
    record_failures(session, job.id, [(row.path, row.reason) for row in failures])
    for seq, start in enumerate(range(0, len(refs), chunk_size)):
        part = [ref.to_row() for ref in refs[start : start + chunk_size]]
        session.add(IndexChunk(job_id=job.id, seq=seq, sources=json.dumps(part)))
    session.flush()
    return job


def record_failures(session: Session, job_id: int, failures: Sequence[tuple[str, str]]) -> None:
    """List failed entries (source uri, reason) on the job (the caller counts them)."""
    session.add_all(JobFailure(job_id=job_id, source_uri=u, reason=r) for u, r in failures)


def record_skips(session: Session, job_id: int, skips: Sequence[tuple[str, str]]) -> None:
    """List skipped entries (source uri, reason) on the job (the caller counts them)."""
    session.add_all(
        JobFailure(job_id=job_id, source_uri=u, reason=r, skipped=True) for u, r in skips
    )


def record_notes(session: Session, job_id: int, notes: Sequence[tuple[str, str]]) -> None:
    """List the notes (source uri, why a fact was left out) of entries the job indexed."""
    session.add_all(JobFailure(job_id=job_id, source_uri=u, reason=r, noted=True) for u, r in notes)


def get_job(session: Session, job_id: int, *, lock: bool = False, fresh: bool = False) -> IndexJob:
    """The job ``job_id`` (row-locked when asked, read again when ``fresh``);
    :class:`NotFoundError` otherwise."""
    job = session.get(
        IndexJob,
        job_id,
        with_for_update=JOB_LOCK if lock else None,
        populate_existing=lock or fresh,
    )
    if job is None:
        raise at_field(NotFoundError(f"no index job {job_id} (see `anyseek jobs list`)"), "job_id")
    return job


def chunk_refs(chunk: IndexChunk) -> list[SourceRef]:
    """The source items of a chunk."""
    return [SourceRef.from_row(entry) for entry in json.loads(chunk.sources)]


def pending_chunks(session: Session, job_id: int) -> list[int]:
    """Sequence numbers of the chunks of a job not yet staged, in order."""
    return list(
        session.scalars(
            select(IndexChunk.seq)
            .where(IndexChunk.job_id == job_id, IndexChunk.status == ChunkStatus.PENDING)
            .order_by(IndexChunk.seq)
        )
    )


def start_job(session: Session, job_id: int, *, resume: bool = False) -> IndexJob:
    """Mark a queued job running (idempotent); ``resume`` also restarts a failed job. One
    conditional update: a job already running is read, not locked, so every chunk's start
    leaves the job's row free for the others (issue 74)."""
    startable = (JobStatus.QUEUED, JobStatus.FAILED) if resume else (JobStatus.QUEUED,)
    session.execute(
        update(IndexJob)
        .where(IndexJob.id == job_id, IndexJob.status.in_(startable))
        .values(
            status=JobStatus.RUNNING,
            started_at=func.coalesce(IndexJob.started_at, utc_now()),
            error=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return get_job(session, job_id, lock=False, fresh=True)


def cancel_job(session: Session, job_id: int) -> IndexJob:
    """Cancel a queued or running job: chunks not yet staged are dropped by whoever picks them."""
    job = get_job(session, job_id, lock=True)
    if job.status in FINISHED:
        raise at_field(JobStateError(f"job {job_id} is already {job.status.value}"), "job_id")
    job.status = JobStatus.CANCELLED
    job.finished_at = utc_now()
    session.flush()  # a report in the same session reads the row again
    return job


def fail_job(session: Session, job_id: int, error: str) -> None:
    """Mark a job failed with the one-line reason (unless it already finished)."""
    job = get_job(session, job_id, lock=True)
    if job.status not in FINISHED:
        job.status = JobStatus.FAILED
        job.error = plain(error)
        job.finished_at = utc_now()


def finish_if_complete(session: Session, job: IndexJob) -> None:
    """Mark a running job done when every chunk is staged and every staged vector applied."""
    if job.status != JobStatus.RUNNING:
        return
    if pending_chunks(session, job.id):
        return
    staged = session.scalar(
        select(func.count()).select_from(PendingVectors).where(PendingVectors.job_id == job.id)
    )
    if staged == 0:
        job.status = finished_status(job)
        job.finished_at = utc_now()


def finished_status(job: IndexJob) -> JobStatus:
    """The one rule for a job whose every entry is accounted for (README, "How an index job
    ends"): no failed item is ``succeeded``; failed items and none of the source in the collection
    (neither indexed now nor already there) ``failed``; failed items beside the others ``partial``.
    """
    if not job.failed:
        return JobStatus.SUCCEEDED
    return JobStatus.PARTIAL if job.done or job.already_indexed else JobStatus.FAILED


def count_done(session: Session, job_counts: dict[int, int]) -> None:
    """Add applied items to their jobs' ``done`` and finish the jobs that are complete."""
    for job_id in sorted(job_counts):  # a fixed lock order: no deadlock between writers
        job = session.get(IndexJob, job_id, with_for_update=JOB_LOCK, populate_existing=True)
        if job is None:
            continue
        session.execute(
            update(IndexJob)
            .where(IndexJob.id == job_id)
            .values(done=IndexJob.done + job_counts[job_id])
        )
        session.refresh(job)
        finish_if_complete(session, job)


def progress(session: Session, job_id: int) -> int:
    """Items of a job accounted for, counting those staged but not yet applied to the store: what a
    progress bar shows, moving chunk by chunk while ``done`` waits for the next apply."""
    job = get_job(session, job_id)
    session.refresh(job)
    staged = session.scalar(
        select(func.count()).select_from(PendingVectors).where(PendingVectors.job_id == job_id)
    )
    return job.done + job.failed + job.skipped + (staged or 0)


def report(session: Session, job_id: int, max_failures: int = 1000) -> IndexReport:
    """The job's report, with up to ``max_failures`` failure reasons and as many skips and
    notes."""
    job = get_job(session, job_id)
    session.refresh(job)  # counters move in other transactions (workers, the indexing thread)
    return _reports(session, [job], max_failures)[0]


def list_jobs(session: Session, collection: str | None = None, limit: int = 20) -> list[IndexJob]:
    """The newest jobs with their collection, optionally of one collection (which must exist)."""
    query = (
        select(IndexJob)
        .options(joinedload(IndexJob.collection))  # the name, in the same query
        .order_by(IndexJob.id.desc())
        .limit(limit)
    )
    if collection is not None:
        query = query.where(
            IndexJob.collection_id == repository.get_collection(session, collection).id
        )
    return list(session.scalars(query))


def list_reports(
    session: Session, collection: str | None = None, limit: int = 20, max_failures: int = 20
) -> list[IndexReport]:
    """The newest jobs' reports in a fixed number of queries, however many jobs (not per job)."""
    return _reports(session, list_jobs(session, collection, limit), max_failures)


ROW_KINDS = ("failed", "skipped", "noted")  # what a row of index_job_failures lists, by its flags


def _reports(session: Session, jobs: list[IndexJob], max_failures: int) -> list[IndexReport]:
    """Reports of loaded jobs, their failure and skip reasons and notes fetched together in
    one query."""
    listed = _failures(session, [job.id for job in jobs], max_failures)
    return [_report(job, *(listed.get((job.id, kind), ()) for kind in ROW_KINDS)) for job in jobs]


def _failures(
    session: Session, job_ids: list[int], max_failures: int
) -> dict[tuple[int, str], list[tuple[str, str]]]:
    """Up to ``max_failures`` (source uri, reason) per job and kind (failed, skipped, noted),
    oldest first, in one query; keyed by (job id, kind)."""
    if not job_ids:
        return {}
    numbered = (
        select(
            JobFailure.job_id,
            JobFailure.skipped,
            JobFailure.noted,
            JobFailure.source_uri,
            JobFailure.reason,
            func.row_number()
            .over(
                partition_by=(JobFailure.job_id, JobFailure.skipped, JobFailure.noted),
                order_by=JobFailure.id,
            )
            .label("n"),
        )
        .where(JobFailure.job_id.in_(job_ids))
        .subquery()
    )
    rows = session.execute(
        select(
            numbered.c.job_id,
            numbered.c.skipped,
            numbered.c.noted,
            numbered.c.source_uri,
            numbered.c.reason,
        )
        .where(numbered.c.n <= max_failures)
        .order_by(numbered.c.job_id, numbered.c.n)
    )
    found: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for job_id, skipped, noted, uri, reason in rows:
        kind = "noted" if noted else "skipped" if skipped else "failed"
        found.setdefault((job_id, kind), []).append((uri, reason))
    return found


def _report(
    job: IndexJob,
    failures: Sequence[tuple[str, str]],
    skips: Sequence[tuple[str, str]],
    notes: Sequence[tuple[str, str]] = (),
) -> IndexReport:
    """One job's report from its row (collection loaded), its failure and skip reasons and its
    notes."""
    return IndexReport(
        job_id=job.id,
        collection=job.collection.name,
        source=job.source,
        status=job.status.value,
        total=job.total,
        done=job.done,
        failed=job.failed,
        skipped=job.skipped,
        failures=tuple(failures),
        skips=tuple(skips),
        notes=tuple(notes),
        already_indexed=job.already_indexed,
        metadata_unmatched=job.metadata_unmatched,
        unmatched_rows=tuple((job.metadata_unmatched_rows or "").splitlines()),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
    )
