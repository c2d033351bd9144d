"""Index jobs started by the API: run in this process (one job at a time, on a background
thread sharing the loaded model and open store) or handed to workers when a broker is configured.

Jobs left queued or running by a killed server are resumed at start-up (in-process mode), so a
restarted server finishes what it had accepted; first, items it left ``pending`` are finished
(their staged vectors applied) or re-queued, on the indexing thread, the store's one writer.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.orm import Session

from anyseek.db.models import IndexJob, JobStatus
from anyseek.db.session import Database
from anyseek.indexer import IndexReport, run_index
from anyseek.indexer.heartbeat import stale_jobs
from anyseek.indexer.jobs import report
from anyseek.indexer.outbox import apply_metadata, pending_collections, recover_pending
from anyseek.indexer.reindex import reindex_version, run_reindex
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.searcher import Searcher
from anyseek.settings import Settings

log = logging.getLogger("anyseek.api")


class JobRunner:
    """Starts index jobs: on workers (broker set) or on one indexing thread here."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        searcher: Searcher,
        models: ModelRegistry | None = None,
    ) -> None:
        self.settings, self.database, self.searcher = settings, database, searcher
        self.models = models or ModelRegistry(settings.model, default=searcher.model)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anyseek-index")
        self.running: dict[int, Future] = {}

    @property
    def uses_workers(self) -> bool:
        """Whether jobs go to Celery workers."""
        return bool(self.settings.broker_url)

    def start(self, job_id: int) -> None:
        """Start a written job: enqueue its chunks, or schedule it on the indexing thread."""
        if self.uses_workers:
            from anyseek.workers.submit import enqueue_chunks, enqueue_reindex

            if self._is_reindex(job_id):
                enqueue_reindex(self.settings, job_id)
            else:
                enqueue_chunks(self.settings, job_id)
            return
        self.running[job_id] = self._executor.submit(self._run, job_id)

    def launch(self, session: Session, job_id: int, wait: bool = False) -> IndexReport:
        """Commit a job written in ``session`` (the indexing thread or workers read it from the
        database), start it, wait for its end when asked, and report it."""
        session.commit()
        self.start(job_id)
        if wait:
            self.wait(job_id)
        return report(session, job_id)

    def sync_metadata(self, collection: str) -> None:
        """Apply staged metadata edits to the store: here, or by the writer worker's apply task
        (which applies a collection's staged vectors, then its edits)."""
        if self.uses_workers:
            from anyseek.workers.tasks import apply_staged

            apply_staged.delay(collection)
            return
        apply_metadata(self.database, self.searcher.store, collection)

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        """Block until an in-process job ends (for ``?wait=true`` and tests)."""
        future = self.running.get(job_id)
        if future is not None:
            future.result(timeout)

    def _is_reindex(self, job_id: int) -> bool:
        """Whether the job builds a collection version (``anyseek reindex``)."""
        with self.database.session() as session:
            return reindex_version(session, job_id) is not None

    def _run(self, job_id: int) -> None:
        """Run one job to its end; failures are recorded on the job by ``run_index``."""
        try:
            if self._is_reindex(job_id):
                run_reindex(
                    self.settings, self.database, self.searcher.store, job_id, self.models.get
                )
                return
            run_index(
                self.settings,
                "",
                (),
                model=self.searcher.model,
                store=self.searcher.store,
                job_id=job_id,
                load_model=self.models.get,
            )
        except Exception as exc:  # recorded on the job; the thread lives on
            log.warning("index job %s failed: %s", job_id, exc)
        finally:
            self.running.pop(job_id, None)

    def _recover(self) -> None:
        """Finish or re-queue the items a killed server left pending, collection by collection."""
        try:
            for name in pending_collections(self.database):
                found = recover_pending(self.database, self.searcher.store, self.settings, name)
                log.info("recovered %d pending items of collection %r", found, name)
        except Exception as exc:  # the database or store is away: the next start tries again
            log.warning("could not recover pending items: %s", exc)

    def resume_unfinished(self) -> list[int]:
        """Recover pending items, then schedule the jobs a killed server left queued or running
        (in-process mode only; a running job only when its heartbeat says its process died)."""
        if self.uses_workers:
            return []
        self._executor.submit(self._recover)
        with self.database.session() as session:
            queued = session.scalars(
                select(IndexJob.id).where(IndexJob.status == JobStatus.QUEUED)
            ).all()
            # running: only those whose process died (another live process may be running one)
            dead = stale_jobs(session, self.settings.indexer.heartbeat_stale_s)
            never = session.scalars(
                select(IndexJob.id).where(
                    IndexJob.status == JobStatus.RUNNING, IndexJob.heartbeat_at.is_(None)
                )
            ).all()
            ids = sorted({*queued, *dead, *never})
        for job_id in ids:
            self.start(job_id)
        return ids

    def shutdown(self) -> None:
        """Let the current chunk finish; queued jobs stay queued in the database."""
        self._executor.shutdown(wait=True, cancel_futures=True)
