"""Bulk indexing: sources -> fetch, hash, decode -> model -> vectors in the store, rows in the DB.

Entry points: :func:`run_index` (in-process, also what a Celery chunk runs through
:func:`indexer.pipeline.process_chunk`), :func:`index_uploads` for files uploaded through the API,
and :func:`plan_job` to write a job for workers (in the caller's session when it passes one).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexer.jobs import IndexReport
    from indexer.runner import Upload, index_uploads, plan_job, plan_uploads, run_index
    from indexer.thumbnails import thumbnail_path

_HOME = {
    "IndexReport": "indexer.jobs",
    "Upload": "indexer.runner",
    "index_uploads": "indexer.runner",
    "plan_job": "indexer.runner",
    "plan_uploads": "indexer.runner",
    "run_index": "indexer.runner",
    "thumbnail_path": "indexer.thumbnails",
}


def __getattr__(name: str) -> Any:
    """The entry points, imported on first use: a light module of the package (a source's
    check, ``indexer.records.check_request``) loads without torch and the model's code."""
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
