"""What every router shares: the collection-name path parameter, the error responses its routes
document, and how an index job is shown."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from anyseek.api.job_schemas import FailureOut, JobOut
from anyseek.api.schemas import NAME_PATTERN, Problem
from anyseek.indexer import IndexReport

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
CollectionName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="collection name",
        json_schema_extra={"pattern": NAME_PATTERN},  # checked by the catalog, with its message
    ),
]
Wait = Annotated[
    bool, Query(description="answer when the job has ended (in-process indexing only)")
]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses, all problem+json."""
    return {status: {**PROBLEM, "description": WHY.get(status, "error")} for status in statuses}


WHY = {  # what each error status means, as the document describes it
    400: "a body that cannot be parsed (malformed JSON or multipart)",
    401: "missing or wrong API key",
    403: "a path outside ANYSEEK_INDEXER__ALLOWED_ROOTS",
    404: "unknown collection, space or item",
    409: "already exists",
    413: "upload too large",
    422: "invalid input; `field` names it",
    503: "model loading or a dependency down",
}


def job_out(found: IndexReport) -> JobOut:
    """An index job's report as the API shows it."""
    return JobOut(
        id=found.job_id,
        collection=found.collection,
        source=found.source,
        status=found.status,  # type: ignore[arg-type]
        total=found.total,
        done=found.done,
        failed=found.failed,
        skipped=found.skipped,
        processed=found.processed,
        failures=[FailureOut(source=s, reason=r) for s, r in found.failures],
        skips=[FailureOut(source=s, reason=r) for s, r in found.skips],
        notes=[FailureOut(source=s, reason=r) for s, r in found.notes],
        already_indexed=found.already_indexed,
        metadata_unmatched=found.metadata_unmatched,
        unmatched_rows=list(found.unmatched_rows),
        created_at=found.created_at,
        started_at=found.started_at,
        finished_at=found.finished_at,
        error=found.error,
    )
