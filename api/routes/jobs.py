"""``/v1/jobs``: index a server-side source under the allowed roots, list, status with progress,
cancel. (Uploading images is ``POST /v1/collections/{name}/items``, in ``routes.items``.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from anyseek.api import catalog
from anyseek.api.deps import READ, WRITE, DbSession, State
from anyseek.api.errors import ApiError, status_of
from anyseek.api.job_schemas import JobCreate, JobList, JobOut
from anyseek.api.routes.common import Wait, errors, job_out
from anyseek.errors import AnyseekError, at_field
from anyseek.indexer import plan_job
from anyseek.indexer.errors import ModalityError, SourceError
from anyseek.indexer.heartbeat import fail_dead_jobs
from anyseek.indexer.jobs import cancel_job, list_reports, report
from anyseek.indexer.metadata import read_allowed_metadata_file
from anyseek.indexer.records import SourceForm

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="job id")]
LISTED_FAILURES = 20  # failure reasons per job in a listing; a job's own page has them all


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    dependencies=[WRITE],
    responses=errors(400, 401, 403, 404, 409, 422, 503),
)
def create_job(body: JobCreate, state: State, session: DbSession, wait: Wait = False) -> JobOut:
    """Index a folder, file or list file on the server (inside ANYSEEK_INDEXER__ALLOWED_ROOTS),
    with the rows of a metadata file there when ``metadata`` names one."""
    if not state.settings.indexer.allowed_roots:
        raise ApiError(
            422,
            "source: indexing server-side paths over HTTP is off; set "
            "ANYSEEK_INDEXER__ALLOWED_ROOTS to the folders it may read, or upload the images",
            "source",
        )
    if "://" in body.source:
        raise ApiError(422, "source: URLs are indexed with `anyseek index` on the server", "source")
    jobs = state.ready_jobs
    try:
        catalog.check_indexable(session, state.ready_models, body.collection)
    except AnyseekError as exc:  # unknown, or made by another model: the body's collection
        raise at_field(exc, "collection") from None
    table = None
    if body.metadata is not None:
        try:
            table = read_allowed_metadata_file(state.settings.indexer, body.metadata)
        except SourceError as exc:  # outside the roots, missing, or a bad row (FILE:LINE: why)
            raise ApiError(status_of(exc), str(exc), "metadata") from None
    try:
        form = SourceForm(body.modality.value, body.manifest)
        job_id = plan_job(
            state.settings,
            body.collection,
            body.source,
            metadata=table,
            session=session,
            form=form,
            model=state.ready_searcher.model,
        )
    except ModalityError as exc:  # a modality the model does not take
        raise ApiError(422, f"modality: {exc}", "modality") from None
    except SourceError as exc:  # outside the roots (403), missing (404), unreadable (422)
        raise ApiError(status_of(exc), str(exc), "source") from None
    return job_out(jobs.launch(session, job_id, wait))


@router.get("", response_model=JobList, dependencies=[READ], responses=errors(401, 404, 422))
def get_jobs(
    session: DbSession,
    state: State,
    collection: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> JobList:
    """The newest jobs, optionally of one collection (a job whose process died shows failed)."""
    fail_dead_jobs(session, state.settings.indexer.heartbeat_stale_s)
    found = list_reports(session, collection, limit, max_failures=LISTED_FAILURES)
    return JobList(jobs=[job_out(r) for r in found])


@router.get(
    "/{job_id}", response_model=JobOut, dependencies=[READ], responses=errors(401, 404, 422)
)
def get_job(job_id: JobId, session: DbSession, state: State) -> JobOut:
    """A job's status and progress, with the reason of each failed item."""
    fail_dead_jobs(session, state.settings.indexer.heartbeat_stale_s)
    return job_out(report(session, job_id))


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    dependencies=[WRITE],
    responses=errors(401, 404, 409, 422),
)
def cancel(job_id: JobId, session: DbSession) -> JobOut:
    """Cancel a queued or running job; chunks already indexed stay searchable."""
    cancel_job(session, job_id)
    return job_out(report(session, job_id))
