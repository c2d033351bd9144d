"""Heartbeats of in-process index jobs: a dead process's job is found, then resumed or failed.

While ``run_index`` works on a job, a thread stamps ``heartbeat_at`` every ``heartbeat_s``. A job
still ``running`` whose stamp is older than ``heartbeat_stale_s`` lost its process (kill -9, a
crash, a power cut): the API server resumes such jobs at start (``anyseek.api.indexing``) and
listing jobs marks the others failed, saying how to finish them. Jobs run by workers carry no
heartbeat (each chunk's worker renews a lease on it instead, ``anyseek.indexer.chunk_lease``) and
are never judged here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from anyseek.db.models import IndexJob, JobStatus, utc_now
from anyseek.db.session import Database

DEAD = (
    "the process indexing this job stopped (no heartbeat for {seconds:g} s); run the same "
    "`anyseek index` again to finish it: what was done is kept"
)


def beat(database: Database, job_id: int) -> None:
    """Stamp the job as alive now."""
    with database.session() as session:
        session.execute(
            update(IndexJob).where(IndexJob.id == job_id).values(heartbeat_at=utc_now())
        )


@contextmanager
def repeating(every_s: float, tick: Callable[[threading.Event], bool], name: str) -> Iterator[None]:
    """Call ``tick(stop)`` every ``every_s`` seconds in a thread while the block runs, until it
    returns False; the thread is stopped and joined when the block ends (heartbeats, leases)."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every_s) and tick(stop):
            pass

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def heartbeat(database: Database, job_id: int, every_s: float) -> Iterator[None]:
    """Beat for ``job_id`` now and every ``every_s`` seconds until the block ends."""
    beat(database, job_id)

    def tick(_stop: threading.Event) -> bool:
        with suppress(Exception):  # a database hiccup: the next beat tries again
            beat(database, job_id)
        return True

    with repeating(every_s, tick, f"anyseek-heartbeat-{job_id}"):
        yield


def stale_jobs(session: Session, stale_s: float) -> list[int]:
    """Ids of running in-process jobs whose heartbeat is older than ``stale_s``."""
    cutoff = utc_now() - timedelta(seconds=stale_s)
    return list(
        session.scalars(
            select(IndexJob.id)
            .where(IndexJob.status == JobStatus.RUNNING, IndexJob.heartbeat_at < cutoff)
            .order_by(IndexJob.id)
        )
    )


def fail_dead_jobs(session: Session, stale_s: float) -> list[int]:
    """Mark failed every running job whose process died; their ids."""
    dead = stale_jobs(session, stale_s)
    if dead:
        session.execute(
            update(IndexJob)
            .where(IndexJob.id.in_(dead), IndexJob.status == JobStatus.RUNNING)
            .values(
                status=JobStatus.FAILED,
                error=DEAD.format(seconds=stale_s),
                finished_at=utc_now(),
            )
        )
    return dead
