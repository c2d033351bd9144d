"""Enqueue an index job for workers: write the job and its chunks, then one task per chunk.

The broker is checked before anything is written; if enqueuing fails half-way the job is marked
failed with the reason, so the tasks already sent do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from anyseek.db.deployment import installation_id
from anyseek.db.migrate import open_database
from anyseek.errors import ServiceUnavailableError
from anyseek.indexer import plan_job
from anyseek.indexer.jobs import fail_job, pending_chunks
from anyseek.indexer.outbox import pending_collections
from anyseek.indexer.records import SourceForm
from anyseek.model.service import SearchModel
from anyseek.settings import Settings
from anyseek.workers.app import app, check_broker, configure
from anyseek.workers.tasks import apply_staged, index_chunk, reindex


def submit_job(
    settings: Settings,
    collection: str,
    source: str | Path | Sequence[Path],
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    form: SourceForm = SourceForm(),
    model: SearchModel | None = None,
) -> int:
    """Write a job for ``source`` (with a metadata file's rows) read as ``form`` says (files of
    one modality, a manifest of records) and enqueue its chunks; its id. With ``model`` (the
    workers' model, as this process loads it), a source holding a modality it does not take is
    refused before anything is written, naming what it takes; without, the workers fail each
    such item."""
    check_broker(configure(settings))
    job_id = plan_job(settings, collection, source, metadata=metadata, form=form, model=model)
    enqueue_chunks(settings, job_id)
    return job_id


def enqueue_chunks(settings: Settings, job_id: int) -> int:
    """Send one task per chunk not yet staged (also resumes a job); returns how many were sent."""
    configure(settings)  # queues and routes, also when called without submit_job (API uploads)
    database = open_database(settings)
    try:
        with database.session() as session:
            seqs = pending_chunks(session, job_id)
            named = {"deployment": installation_id(session)}
        try:  # one explicit connection: the settings' broker, whatever the app used before
            with app.connection_for_write(settings.broker_url) as connection:
                for seq in seqs:
                    index_chunk.apply_async(
                        (job_id, seq), named, connection=connection, retry=False
                    )
        except Exception as error:
            with database.session() as session:
                fail_job(session, job_id, f"could not enqueue the job: {error}")
            raise ServiceUnavailableError(f"could not enqueue job {job_id}: {error}") from None
    finally:
        database.dispose()
    return len(seqs)


def enqueue_reindex(settings: Settings, job_id: int) -> None:
    """Send a written re-index job to the writer queue (also resumes one)."""
    check_broker(configure(settings))
    named = {"deployment": deployment(settings)}
    try:
        with app.connection_for_write(settings.broker_url) as connection:
            reindex.apply_async((job_id,), named, connection=connection, retry=False)
    except Exception as error:
        database = open_database(settings)
        try:
            with database.session() as session:
                fail_job(session, job_id, f"could not enqueue the re-index: {error}")
        finally:
            database.dispose()
        raise ServiceUnavailableError(f"could not enqueue job {job_id}: {error}") from None


def enqueue_staged(settings: Settings) -> list[str]:
    """Send one apply per collection with staged vectors waiting; the collections' names.

    A writer worker calls it when it starts: an apply that gave up (a disk full for longer than its
    retries) or was lost with a broker leaves rows in the outbox that nothing else would send
    for until the next chunk of the same collection.
    """
    configure(settings)
    database = open_database(settings)
    try:
        names = pending_collections(database)
        with database.session() as session:
            named = {"deployment": installation_id(session)}
    finally:
        database.dispose()
    with app.connection_for_write(settings.broker_url) as connection:
        for name in names:
            apply_staged.apply_async((name,), named, connection=connection, retry=False)
    return names


def deployment(settings: Settings) -> str:
    """The id of the deployment the settings' database belongs to (tasks name it)."""
    database = open_database(settings)
    try:
        with database.session() as session:
            return installation_id(session)
    finally:
        database.dispose()
