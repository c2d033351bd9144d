"""Celery tasks: index one chunk (by job id and number), apply staged vectors (the writer).

Tasks carry ids only, and the id of the deployment that sent them: a worker of another deployment
(two sharing a broker) forwards the task to that deployment's own queue instead of running it. A
chunk task claims its chunk with a lease it renews while it works
(``anyseek.indexer.chunk_lease``), so a
chunk runs on one worker at a time without any lock held across the work; it stages its items
once (a redelivered chunk, or a late worker's whose lease ran out, is a logged no-op). The store
is then written by the writer queue's single process, or directly for a Qdrant server.
Transient errors (database, broker or store down or restarting, a row lock not granted in time,
the writer's disk full) are retried with exponential backoff; staged rows wait in the database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging

import psycopg
from celery import Task
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import exc

from anyseek.errors import AnyseekError, ServiceUnavailableError
from anyseek.indexer.chunk_lease import Claim, claim_chunk, holder, leased, release, worker_name
from anyseek.indexer.collections import attach_model, collection_model
from anyseek.indexer.jobs import fail_job, get_job, start_job
from anyseek.indexer.outbox import apply_pending
from anyseek.indexer.pipeline import ChunkContext, process_chunk
from anyseek.indexer.runtime import process_model
from anyseek.workers.app import app, forward_queue, task_role
from anyseek.workers.context import state, worker_settings, writer_store, writes_directly

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
def index_chunk(self, job_id: int, seq: int, deployment: str | None = None) -> bool:
    """Process chunk ``seq`` of job ``job_id`` under a lease on it; then get its vectors
    applied. A chunk another live worker holds is left to it; one already staged is a no-op."""
    current = state()
    if forwarded(self, deployment, (job_id, seq)):
        return False
    chunks, owner = current.chunks, worker_name()
    lease_s = chunks.settings.workers.chunk_lease_s
    try:
        with chunks.database.session() as session:
            claim = claim_chunk(session, job_id, seq, owner, lease_s)
            who, until = holder(session, job_id, seq)
        if claim is Claim.HELD:
            log.info("job %s chunk %s is %s's until %s: left to it", job_id, seq, who, until)
            return False
        staged = False
        if claim is Claim.CLAIMED:
            with leased(chunks.database, job_id, seq, owner, lease_s):
                collection, staged = run_chunk(chunks, job_id, seq, owner)
            if not staged:  # a logged no-op
                log.info(
                    "job %s chunk %s: nothing staged by this worker (its job finished, or its "
                    "lease ran out, paused or cut off, and another worker staged the chunk): "
                    "result dropped",
                    job_id,
                    seq,
                )
        else:
            log.info("job %s chunk %s: already staged, nothing to do", job_id, seq)
            with chunks.database.session() as session:
                collection = get_job(session, job_id).collection.name
    except TRANSIENT as error:
        with contextlib.suppress(Exception):  # the database may be what is away
            release(chunks.database, job_id, seq, owner)
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
        send_apply(collection, current.deployment)
    return staged


def run_chunk(chunks: ChunkContext, job_id: int, seq: int, owner: str) -> tuple[str, bool]:
    """Start the job, attach the collection's model and stage the chunk as ``owner``, each step
    a transaction of its own; the collection's name and whether the chunk was staged."""
    with chunks.database.session() as session:
        start_job(session, job_id)
    with chunks.database.session() as session:
        job = get_job(session, job_id)
        model, source = collection_model(
            session, job.collection, chunks.model, lambda s: process_model(chunks.settings, s)
        )
        attach_model(session, job.collection, model, source or chunks.settings.model.source)
        collection = job.collection.name
    if model is not chunks.model:  # the collection's own model, not this worker's default
        chunks = dataclasses.replace(chunks, model=model)
    return collection, process_chunk(chunks, job_id, seq, owner=owner)


def send_apply(collection: str, deployment: str) -> None:
    """Ask the writer to apply ``collection``'s staged vectors (a task of ``deployment``)."""
    apply_staged.apply_async((collection,), {"deployment": deployment}, retry_policy=PUBLISH_WAIT)


def forwarded(task: Task, deployment: str | None, args: tuple) -> bool:
    """Whether the task belongs to another deployment, and was sent on to that deployment's own
    queue (:func:`anyseek.workers.app.forward_queue`) rather than run against this one's database. A
    task without a deployment (sent before tasks named theirs) runs here."""
    mine = state().deployment
    if deployment is None or deployment == mine:
        return False
    queue = forward_queue(deployment, task_role(task.name))
    task.apply_async(args, {"deployment": deployment}, queue=queue, retry_policy=PUBLISH_WAIT)
    log.warning(
        "%s%s belongs to deployment %s, not this one (%s): not run here, sent to queue %s, "
        "which that deployment's workers consume",
        task.name,
        list(args),
        deployment,
        mine,
        queue,
    )
    return True


@app.task(name="anyseek.reindex", bind=True, **RETRY)
def reindex(self, job_id: int, deployment: str | None = None) -> str:
    """Build a collection version (``anyseek reindex --workers``) and switch to it: on the writer
    queue, the store's one writer. A redelivered task resumes where the store says it stopped,
    and so does a retry after a transient error (database, broker or disk away); only the last
    try's error fails the job and drops its version."""
    from anyseek.indexer.reindex import run_reindex
    from anyseek.indexer.runtime import process_model

    current = state()
    if forwarded(self, deployment, (job_id,)):
        return "forwarded"
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
def apply_staged(self, collection: str, deployment: str | None = None) -> int:
    """Apply every staged vector of ``collection`` to the store (the writer queue's one
    process); while the database or the store's disk is away the staged rows wait for a retry."""
    try:
        current = state()
        if forwarded(self, deployment, (collection,)):
            return 0
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
