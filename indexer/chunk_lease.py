"""Chunk leases: a worker claims its chunk for a while and renews the claim as it works.

A chunk is worked on by one worker at a time, and that is held by a lease, an owner and a
deadline on the chunk's row, each written in a transaction of its own that commits at once: no
lock on a shared row (the job, the collection) outlives a statement or two. A worker that dies or
freezes stops renewing; once its deadline passes any worker's sweep (:func:`release_expired`)
frees the chunk and sends it again, and the late worker, should it wake, finds the chunk no longer
its own and stages nothing (:func:`anyseek.indexer.outbox.stage_chunk` checks the owner).
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from anyseek.db.models import ChunkStatus, IndexChunk, IndexJob, utc_now
from anyseek.db.session import Database
from anyseek.indexer.heartbeat import repeating
from anyseek.indexer.jobs import FINISHED

log = logging.getLogger(__name__)


class Claim(enum.StrEnum):
    """What claiming a chunk found."""

    CLAIMED = "claimed"  # this worker holds it now
    FINISHED = "finished"  # staged already, or its job finished: nothing to do
    HELD = "held"  # another live worker holds it: left to that one


def worker_name() -> str:
    """This process as a chunk's owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pending(job_id: int, seq: int) -> tuple:
    """The conditions naming one chunk still to be staged (every lease update's)."""
    return (
        IndexChunk.job_id == job_id,
        IndexChunk.seq == seq,
        IndexChunk.status == ChunkStatus.PENDING,
    )


def claim_chunk(session: Session, job_id: int, seq: int, owner: str, lease_s: float) -> Claim:
    """Claim a pending chunk for ``lease_s`` seconds when it is free, expired or already
    ``owner``'s (one conditional update: no lock waits beyond it)."""
    now = utc_now()
    claimed = session.execute(
        update(IndexChunk)
        .where(
            *_pending(job_id, seq),
            or_(
                IndexChunk.owner.is_(None),
                IndexChunk.owner == owner,
                IndexChunk.lease_until < now,
            ),
        )
        .values(owner=owner, lease_until=now + timedelta(seconds=lease_s))
    )
    if claimed.rowcount:
        return Claim.CLAIMED
    chunk = session.get(IndexChunk, (job_id, seq))
    if chunk is None or chunk.status == ChunkStatus.DONE:
        return Claim.FINISHED
    return Claim.HELD


def holder(session: Session, job_id: int, seq: int) -> tuple[str | None, object]:
    """Who holds a chunk and until when (for log lines)."""
    row = session.execute(
        select(IndexChunk.owner, IndexChunk.lease_until).where(
            IndexChunk.job_id == job_id, IndexChunk.seq == seq
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


def renew(database: Database, job_id: int, seq: int, owner: str, lease_s: float) -> bool:
    """Push ``owner``'s lease on a pending chunk ``lease_s`` seconds on; False when it is no
    longer theirs (it ran out and another worker claimed it, or it was staged meanwhile)."""
    with database.session() as session:
        renewed = session.execute(
            update(IndexChunk)
            .where(*_pending(job_id, seq), IndexChunk.owner == owner)
            .values(lease_until=utc_now() + timedelta(seconds=lease_s))
        )
        return bool(renewed.rowcount)


def staged(database: Database, job_id: int, seq: int) -> bool:
    """Whether the chunk is staged (by whichever worker)."""
    with database.session() as session:
        chunk = session.get(IndexChunk, (job_id, seq))
        return chunk is None or chunk.status == ChunkStatus.DONE


def release(database: Database, job_id: int, seq: int, owner: str) -> None:
    """Give up ``owner``'s lease (before a retry, so that whoever gets the retry may claim it)."""
    with database.session() as session:
        session.execute(
            update(IndexChunk)
            .where(IndexChunk.job_id == job_id, IndexChunk.seq == seq, IndexChunk.owner == owner)
            .values(owner=None, lease_until=None)
        )


def release_expired(session: Session) -> list[tuple[int, int]]:
    """Free the pending chunks of unfinished jobs whose lease ran out; their (job id, seq).

    The caller sends them again before committing: with the rows locked by this update, a
    second sweeper waits for the commit and then finds nothing left to free.
    """
    live_jobs = select(IndexJob.id).where(IndexJob.status.not_in(FINISHED))
    rows = session.execute(
        update(IndexChunk)
        .where(
            IndexChunk.status == ChunkStatus.PENDING,
            IndexChunk.owner.is_not(None),
            IndexChunk.lease_until < utc_now(),
            IndexChunk.job_id.in_(live_jobs),
        )
        .values(owner=None, lease_until=None)
        .returning(IndexChunk.job_id, IndexChunk.seq)
    ).all()
    return sorted((job_id, seq) for job_id, seq in rows)


@contextmanager
def leased(database: Database, job_id: int, seq: int, owner: str, lease_s: float) -> Iterator[None]:
    """Renew ``owner``'s lease every quarter of ``lease_s`` while the block runs; a renewal
    that finds the lease lost is logged (the chunk's result will be dropped at staging)."""

    def tick(stop: threading.Event) -> bool:
        try:
            if renew(database, job_id, seq, owner, lease_s):
                return True
            if not (stop.is_set() or staged(database, job_id, seq)):
                log.warning(
                    "job %s chunk %s: this worker's lease ran out (it was paused or cut off) "
                    "and the chunk went to another; its result will be dropped",
                    job_id,
                    seq,
                )
            return False  # staged: by this worker just now, or by another (said at staging)
        except Exception as error:  # a database hiccup: the next beat tries again
            log.info("job %s chunk %s: lease not renewed: %s", job_id, seq, error)
            return True

    with repeating(lease_s / 4, tick, f"anyseek-lease-{job_id}-{seq}"):
        yield
