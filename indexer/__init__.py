"""Bulk indexing: sources -> fetch, hash, decode -> model -> vectors in the store, rows in the DB.

Entry points: :func:`run_index` (in-process, also what a Celery chunk runs through
:func:`anyseek.indexer.pipeline.process_chunk`), :func:`index_uploads` for files uploaded through
the API, and :func:`plan_job` to write a job for workers (in the caller's session when it passes
one).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anyseek.indexer.jobs import IndexReport
    from anyseek.indexer.runner import Upload, index_uploads, plan_job, plan_uploads, run_index
    from anyseek.indexer.thumbnails import thumbnail_path

_HOME = {
    "IndexReport": "anyseek.indexer.jobs",
    "Upload": "anyseek.indexer.runner",
    "index_uploads": "anyseek.indexer.runner",
    "plan_job": "anyseek.indexer.runner",
    "plan_uploads": "anyseek.indexer.runner",
    "run_index": "anyseek.indexer.runner",
    "thumbnail_path": "anyseek.indexer.thumbnails",
}


def __getattr__(name: str) -> Any:
    """The entry points, imported on first use: a light module of the package (a source's
    check, ``anyseek.indexer.records.check_request``) loads without torch and the model's code."""
    if name not in _HOME:
        raise AttributeError(f"module 'indexer' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)


__all__ = [
    "IndexReport",
    "Upload",
    "index_uploads",
    "plan_job",
    "plan_uploads",
    "run_index",
    "thumbnail_path",
]
