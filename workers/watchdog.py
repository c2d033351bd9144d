"""Send again what a broker lost or a task gave up on, so that no job waits forever.

A broker can lose a chunk's message: kombu's Redis transport pops a message and only then records
it as unacknowledged, so a Redis restart between the two drops it (seen on the multi-host bed,
one chunk in 125 of a job whose Redis was restarted mid-job), and a task Celery cannot
publish a retry for is dropped too. Nothing else would send that chunk again: a chunk no worker
claimed has no lease to run out, and the job stays ``running`` with a chunk ``pending`` for
ever. Likewise an apply that gave up (a disk full for longer than its retries) leaves staged
vectors in the outbox.

Every worker runs :func:`watch` in a thread. Every ``ANYSEEK_WORKERS__LEASE_SWEEP_S`` each one
frees and sends again the chunks whose lease ran out (:func:`resend_expired`: their worker died
or froze; one update frees each chunk once, whoever sweeps), so a lost worker's chunk is back
within its lease and a sweep on Redis as on RabbitMQ. The one holding the watchdog lease
(``anyseek.workers.lease``) also sweeps every :data:`SWEEP_S`: it sends again the pending chunks of
worker jobs that have chunks left, none finished for the stall window and no chunk waiting on
the index queue, and an apply for each collection whose staged vectors have waited that long
(applied here when chunk workers write a Qdrant server themselves). A chunk or an apply sent
twice is harmless: the second finds its work done.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select

from anyseek.db.models import (
    ChunkStatus,
    IndexChunk,
    IndexJob,
    JobStatus,
    PendingVectors,
    utc_now,
)
from anyseek.db.session import Database
from anyseek.indexer.chunk_lease import release_expired
from anyseek.indexer.outbox import apply_pending, collection_names
from anyseek.search.stores import open_store
from anyseek.settings import Settings
from anyseek.workers.app import AMQP_HEARTBEAT_S, REDELIVERY_SCAN_S, app, configure
from anyseek.workers.context import deployment_of, worker_database, writes_directly
from anyseek.workers.lease import WatchdogLease
from anyseek.workers.submit import enqueue_chunks, enqueue_staged
from anyseek.workers.tasks import PUBLISH_WAIT, apply_staged, index_chunk

log = logging.getLogger(__name__)
SWEEP_S = 15.0
STALL_MARGIN_S = 30


def stall_window_s(settings: Settings) -> int:
    """How long a job may go without a finished chunk before its pending chunks are sent again:
    past any redelivery the broker would still make (Redis: the visibility timeout and its scan;
    RabbitMQ: a dead consumer found by two missed heartbeats)."""
    redelivery = max(settings.indexer.visibility_timeout + REDELIVERY_SCAN_S, 2 * AMQP_HEARTBEAT_S)
    return redelivery + STALL_MARGIN_S


def stalled_jobs(database: Database, window_s: int, now: datetime | None = None) -> list[int]:
    """Worker jobs (no heartbeat) with pending chunks and no chunk finished for ``window_s``."""
    cutoff = (now or utc_now()) - timedelta(seconds=window_s)
    last_finished = (
        select(func.max(IndexChunk.finished_at))
        .where(IndexChunk.job_id == IndexJob.id)
        .scalar_subquery()
    )
    has_pending = (
        select(IndexChunk.seq)
        .where(IndexChunk.job_id == IndexJob.id, IndexChunk.status == ChunkStatus.PENDING)
        .exists()
    )
    with database.session() as session:
        jobs = session.execute(
            select(IndexJob.id, IndexJob.created_at, last_finished).where(
                IndexJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
                IndexJob.heartbeat_at.is_(None),
                has_pending,
            )
        ).all()
    return [job_id for job_id, created, finished in jobs if _aware(finished or created) < cutoff]


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes: they are UTC (the only kind the database stores)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utc_now().tzinfo)


def queued_chunks() -> int:
    """Chunks waiting on the index queue (not counting those a worker holds unacknowledged)."""
    queue = next(q for q in app.conf.task_queues if q.name == app.conf.task_default_queue)
    with app.connection_for_write() as connection:  # declared as configured: Redis has no
        # passive declare of an empty queue (an empty list is no key), RabbitMQ refuses other args
        return queue.bind(connection.default_channel).queue_declare().message_count


def resend_stalled(settings: Settings, database: Database, now: datetime | None = None) -> dict:
    """One sweep: for each stalled job, its pending chunks sent again; {job id: chunks sent}."""
    window = stall_window_s(settings)
    jobs = stalled_jobs(database, window, now)
    if not jobs or queued_chunks() > 0:  # chunks still queued: workers are busy or away
        return {}
    sent = {}
    for job_id in jobs:
        sent[job_id] = enqueue_chunks(settings, job_id)
        log.warning(
            "job %s: no chunk finished for %s s and none queued: sent its %s pending chunks "
            "again (a broker lost them)",
            job_id,
            window,
            sent[job_id],
        )
    return sent


def stale_staged(database: Database, cutoff: datetime) -> list[str]:
    """Collections with vectors staged before ``cutoff`` and not yet applied, by name."""
    staged = select(PendingVectors.collection_id).where(PendingVectors.created_at < cutoff)
    return collection_names(database, staged)


def resend_staged(
    settings: Settings,
    database: Database,
    now: datetime | None = None,
    sent: dict[str, datetime] | None = None,
) -> list[str]:
    """One sweep: an apply for each collection whose staged vectors waited past the stall window
    (an apply that gave up or was lost), at most once a window each (``sent`` remembers when);
    the collections' names."""
    now = now or utc_now()
    window = timedelta(seconds=stall_window_s(settings))
    sent = {} if sent is None else sent
    names = [
        name
        for name in stale_staged(database, now - window)
        if name not in sent or now - sent[name] >= window
    ]
    for name in names:
        if writes_directly(settings):  # no writer worker: the store takes writes from anyone
            with open_store(settings) as store:
                apply_pending(database, store, settings, name)
        else:
            named = {"deployment": deployment_of(database)}
            apply_staged.apply_async((name,), named, retry_policy=PUBLISH_WAIT)
        sent[name] = now
        log.warning(
            "the staged vectors of %r waited over %s s: their apply was sent again",
            name,
            window.total_seconds(),
        )
    return names


def resend_expired(settings: Settings, database: Database) -> list[tuple[int, int]]:
    """Free the chunks whose lease ran out and send each again; their (job id, seq). The
    chunks are freed and sent in one transaction: a send that fails leaves them expired for the
    next sweep, and a concurrent sweeper finds them already freed."""
    with database.session() as session:
        expired = release_expired(session)
        if not expired:
            return []
        named = {"deployment": deployment_of(database)}
        with app.connection_for_write(settings.broker_url) as connection:
            for job_id, seq in expired:
                index_chunk.apply_async((job_id, seq), named, connection=connection, retry=False)
    for job_id, seq in expired:
        log.warning(
            "job %s chunk %s: its worker's lease ran out (the worker died or froze): sent again",
            job_id,
            seq,
        )
    return expired


def watch(settings: Settings, database: Database, stop: threading.Event) -> None:
    """Until ``stop``: every lease sweep, send chunks whose lease ran out; every
    :data:`SWEEP_S`, while this worker holds the watchdog lease, send stalled chunks and
    given-up applies again; an error is logged and the next sweep tries."""
    configure(settings)
    lease = WatchdogLease(settings, database)
    sent: dict[str, datetime] = {}
    every = settings.workers.lease_sweep_s
    next_sweep = time.monotonic() + SWEEP_S
    try:
        with contextlib.suppress(Exception):  # taken at start when free, swept from the next
            lease.held()
        while not stop.wait(every):
            try:
                resend_expired(settings, database)
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_S
                    if lease.held():
                        resend_stalled(settings, database)
                        resend_staged(settings, database, sent=sent)
            except Exception as error:  # the database or broker may be away for now
                log.info("watchdog sweep skipped: %s", error)
    finally:
        lease.release()


def start_watchdog(settings: Settings, database: Database | None = None) -> threading.Event:
    """Run :func:`watch` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(
        target=watch,
        args=(settings, database or worker_database(settings), stop),
        name="anyseek-watchdog",
        daemon=True,
    ).start()
    return stop


def start_writer_duties(settings: Settings) -> list[str]:
    """What the writer worker does at start besides consuming its queue: an apply sent for every
    collection with staged rows (their names)."""
    return enqueue_staged(settings)
