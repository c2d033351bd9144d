"""What a worker process holds: settings, database, model, decode pool, and (writer) the store.

Everything is built lazily on first use *in the process that runs tasks* (a prefork child, or the
solo worker itself), keyed by process id: nothing heavy (CUDA, the model, database connections) is
created in a parent before it forks.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from anyseek.db.deployment import installation_id
from anyseek.db.migrate import open_database
from anyseek.db.session import Database, SessionTimeouts, with_timeouts
from anyseek.indexer.pipeline import ChunkContext
from anyseek.indexer.runtime import process_model
from anyseek.search.stores import VectorStore, open_store
from anyseek.search.stores.writer_lock import WORKER, announce
from anyseek.settings import Settings, load_settings
from anyseek.workers.app import app


@dataclass
class WorkerState:
    """One process's resources: the chunk context and, when it writes, its store."""

    chunks: ChunkContext
    deployment: str
    store: VectorStore | None = None


_STATE: dict[int, WorkerState] = {}


def worker_settings() -> Settings:
    """The settings given to :func:`anyseek.workers.app.configure`, else read from the
    environment."""
    return getattr(app.conf, "anyseek_settings", None) or load_settings()


def worker_database(settings: Settings) -> Database:
    """The database as a worker (or the writer) uses it: every PostgreSQL session with the
    lock, statement and idle-in-transaction timeouts of ``ANYSEEK_WORKERS__*``, so that a
    session stuck behind a frozen one fails and is retried, and a frozen one's locks are freed."""
    limits = settings.workers
    timeouts = SessionTimeouts(
        lock_s=limits.lock_timeout_s,
        statement_s=limits.statement_timeout_s,
        idle_in_transaction_s=limits.idle_in_transaction_timeout_s,
    )
    return with_timeouts(open_database(settings), timeouts)


def deployment_of(database: Database) -> str:
    """The deployment's id (made on first use), read from its database."""
    with database.session() as session:
        return installation_id(session)


def state() -> WorkerState:
    """This process's :class:`WorkerState`, created on first use."""
    pid = os.getpid()
    if pid not in _STATE:
        settings = worker_settings()
        database = worker_database(settings)
        _STATE[pid] = WorkerState(
            ChunkContext(
                settings=settings,
                database=database,
                model=process_model(settings),
                pool=ThreadPoolExecutor(settings.indexer.decode_workers, "anyseek-decode"),
            ),
            deployment=deployment_of(database),
        )
    return _STATE[pid]


def writer_store() -> VectorStore:
    """This process's store, opened once (for FAISS it holds the folder's writer lock)."""
    current = state()
    if current.store is None:
        announce(WORKER)  # the note a command refused the writer lock reads
        current.store = open_store(current.chunks.settings)
    return current.store


def writes_directly(settings: Settings) -> bool:
    """Whether chunk workers write vectors themselves: only to a Qdrant server (many writers)."""
    return settings.store.backend == "qdrant" and bool(settings.store.qdrant_url)
