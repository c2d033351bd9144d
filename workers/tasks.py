"""Celery tasks: index one chunk (by job id and number), apply staged vectors (the writer).

Tasks carry ids only. A chunk task stages its items once (a redelivered chunk is a no-op); the
store is then written by the writer queue's single process, or directly for a Qdrant server.
Transient errors (database, broker or store down or restarting, the writer's disk full) are
retried with exponential backoff; staged rows wait in the database meanwhile.
"""

from __future__ import annotations

import dataclasses
import logging

import psycopg
from celery import Task
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import exc

from anyseek.errors import AnyseekError, ServiceUnavailableError
from indexer.collections import attach_model, collection_model
from indexer.jobs import fail_job, start_job
from indexer.outbox import apply_pending
from indexer.pipeline import process_chunk
from indexer.runtime import process_model
from workers.app import app
from workers.context import state, worker_settings, writer_store, writes_directly

log = logging.getLogger(__name__)

#: what a retry may cure: a service away for a while, never a bug in the chunk
TRANSIENT = (
    ServiceUnavailableError,  # database or store unreachable; WriteFailedError: a full disk
    exc.OperationalError,  # PostgreSQL shut down or restarting ("terminating connection")
    exc.InterfaceError,  # "connection already closed": a connection that died with the server
    exc.IntegrityError,  # a concurrent writer staged the same row first
    exc.TimeoutError,  # no pooled connection came free: every one hangs on a silent database
    psycopg.OperationalError,  # the same, raised by the driver outside a statement
    psycopg.InterfaceError,
    BrokerError,  # publishing the apply task while the broker restarts
    ConnectionError,
)
#: how long a task's own publishes (its retry, the apply it sends) wait for the broker: about
#: 2 minutes. Celery drops a task whose retry cannot be published (``Reject(requeue=False)``),
#: so a retry published during a broker restart must outlast the restart
PUBLISH_WAIT = {"max_retries": 24, "interval_start": 1, "interval_step": 1, "interval_max": 5}
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 20,
    "retry_kwargs": {"retry_policy": PUBLISH_WAIT},
}


@app.task(name="anyseek.index_chunk", bind=True, **RETRY)
def index_chunk(self, job_id: int, seq: int) -> bool:
    """Process chunk ``seq`` of job ``job_id``; then get its vectors applied."""
    chunks = state().chunks
    try:
        with chunks.database.session() as session:
            job = start_job(session, job_id)
            model, source = collection_model(
                session, job.collection, chunks.model, lambda s: process_model(chunks.settings, s)
            )
            attach_model(session, job.collection, model, source or chunks.settings.model.source)
            collection = job.collection.name
        if model is not chunks.model:  # the collection's own model, not this worker's default
            chunks = dataclasses.replace(chunks, model=model)
        staged = process_chunk(chunks, job_id, seq)
    except TRANSIENT as error:
        waiting(self, f"job {job_id} chunk {seq}", error, GAVE_UP_CHUNK)
        raise
    except Exception as error:  # not going to get better by retrying: the job fails, visibly
        reason = (
            str(error) if isinstance(error, AnyseekError) else f"{type(error).__name__}: {error}"
        )
        with chunks.database.session() as session:
            fail_job(session, job_id, reason)
        log.exception("job %s chunk %s failed", job_id, seq)
        return False
    # also when the chunk was already staged: a worker killed after staging, before sending
    # the apply, must not leave the job's last vectors waiting for a writer forever
    if writes_directly(chunks.settings):
        apply_pending(chunks.database, writer_store(), chunks.settings, collection)
    else:
        apply_staged.apply_async((collection,), retry_policy=PUBLISH_WAIT)
    return staged


@app.task(name="anyseek.reindex", bind=True, **RETRY)
def reindex(self, job_id: int) -> str:
    """Build a collection version (``anyseek reindex --workers``) and switch to it: on the writer
    queue, the store's one writer. A redelivered task resumes where the store says it stopped,
    and so does a retry after a transient error (database, broker or disk away); only the last
    try's error fails the job and drops its version."""
    from indexer.reindex import run_reindex
    from indexer.runtime import process_model

    current = state()
    settings = current.chunks.settings
    last_try = self.request.retries >= self.max_retries
    try:  # an outage keeps the job and its version, as a kill -9 would: the retry resumes
        found = run_reindex(
            settings,
            current.chunks.database,
            writer_store(),
            job_id,
            lambda source: process_model(settings, source),
            resumable=() if last_try else TRANSIENT,
        )
    except TRANSIENT as error:
        waiting(self, f"the re-index of job {job_id}", error, GAVE_UP_REINDEX)
        raise
    return found.status


@app.task(name="anyseek.apply_pending", bind=True, **RETRY)
def apply_staged(self, collection: str) -> int:
    """Apply every staged vector of ``collection`` to the store (the writer queue's one
    process); while the database or the store's disk is away the staged rows wait for a retry."""
    try:
        current = state()
        return apply_pending(current.chunks.database, writer_store(), worker_settings(), collection)
    except TRANSIENT as error:
        staged = f"the staged vectors of {collection!r} (kept in the database)"
        waiting(self, staged, error, GAVE_UP_APPLY)
        raise


GAVE_UP_CHUNK = (
    "the writer's watchdog sends the chunk again once the job has stalled (docs/deploy.md)"
)
GAVE_UP_APPLY = (
    "the watchdog sends the apply again once the staged vectors have waited for the stall "
    "window, and a writer applies every staged vector at start (docs/deploy.md)"
)
GAVE_UP_REINDEX = (
    "the job failed and its unfinished version was dropped: run `anyseek reindex` again once "
    "the outage is over"
)


def waiting(task: Task, what: str, error: BaseException, after_last: str) -> None:
    """One line saying what waits for which outage, before the task is retried; after the last
    try, what happens next or what to do (``after_last``)."""
    reason = " ".join(str(error).split()) or type(error).__name__
    tries = f"{task.request.retries + 1} of {task.max_retries}"
    if task.request.retries >= task.max_retries:
        done = task.request.retries + 1
        log.error("gave up on %s after %s tries: %s; %s", what, done, reason, after_last)
    else:
        log.warning("retrying %s (try %s): %s", what, tries, reason)
