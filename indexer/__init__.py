"""Bulk indexing: sources -> fetch, hash, decode -> model -> vectors in the store, rows in the DB.

Entry points: :func:`run_index` (in-process, also what a Celery chunk runs through
:func:`indexer.pipeline.process_chunk`), :func:`index_uploads` for files uploaded through the API,
and :func:`plan_job` to write a job for workers (in the caller's session when it passes one).
"""

from __future__ import annotations

from indexer.jobs import IndexReport
from indexer.runner import (
    Upload,
    index_uploads,
    plan_job,
    plan_uploads,
    run_index,
)
from indexer.thumbnails import thumbnail_path

__all__ = [
    "IndexReport",
    "Upload",
    "index_uploads",
    "plan_job",
    "plan_uploads",
    "run_index",
    "thumbnail_path",
]
