"""What a worker process holds: settings, database, model, decode pool, and (writer) the store.

Everything is built lazily on first use *in the process that runs tasks* (a prefork child, or the
solo worker itself), keyed by process id: nothing heavy (CUDA, the model, database connections) is
created in a parent before it forks.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from anyseek.db.migrate import open_database
from anyseek.settings import Settings, load_settings
from indexer.pipeline import ChunkContext
from indexer.runtime import process_model
from search.stores import VectorStore, open_store
from search.stores.writer_lock import WORKER, announce
from workers.app import app


@dataclass
class WorkerState:
    """One process's resources: the chunk context and, when it writes, its store."""

    chunks: ChunkContext
    store: VectorStore | None = None


_STATE: dict[int, WorkerState] = {}


def worker_settings() -> Settings:
    """The settings given to :func:`workers.app.configure`, else read from the environment."""
    return getattr(app.conf, "anyseek_settings", None) or load_settings()


def state() -> WorkerState:
    """This process's :class:`WorkerState`, created on first use."""
    pid = os.getpid()
    if pid not in _STATE:
        settings = worker_settings()
        _STATE[pid] = WorkerState(
            ChunkContext(
                settings=settings,
                database=open_database(settings),
                model=process_model(settings),
                pool=ThreadPoolExecutor(settings.indexer.decode_workers, "anyseek-decode"),
            )
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
