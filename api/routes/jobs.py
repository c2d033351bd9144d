"""Index jobs: ``POST /v1/collections/{name}/items`` (upload images), ``/v1/jobs`` (create from
a server-side source under the allowed roots, list, status with progress, cancel)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile, status

from anyseek.db.models import IndexJob
from api import query as convert
from api.deps import AppState, get_state, read_access, write_access
from api.errors import ApiError
from api.indexing import JobRunner
from api.routes.common import errors
from api.schemas import FailureOut, JobCreate, JobList, JobOut
from indexer import Upload, plan_job, plan_uploads
from indexer.jobs import IndexReport, cancel_job, list_jobs, report

router = APIRouter(tags=["jobs"])
MAX_FILES = 1000
JOB = Path(ge=1, le=2**31 - 1, description="job id")
WAIT = Query(False, description="answer when the job has ended (in-process indexing only)")


def _out(found: IndexReport) -> JobOut:
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
        created_at=found.created_at,
        started_at=found.started_at,
        finished_at=found.finished_at,
        error=found.error,
    )


def _runner(state: AppState) -> JobRunner:
    runner = state.extra.get("jobs")
    if not isinstance(runner, JobRunner):
        raise ApiError(503, "the model is still loading; retry in a few seconds")
    return runner


def _started(state: AppState, job_id: int, wait: bool) -> JobOut:
    """Start a written job, wait for it when asked, and report it."""
    runner = _runner(state)
    runner.start(job_id)
    if wait:
        runner.wait(job_id)
    with state.database.session() as session:
        return _out(report(session, job_id))


@router.post(
    "/v1/collections/{name}/items",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    dependencies=[Depends(write_access)],
    responses=errors(400, 401, 404, 413, 422, 503),
    tags=["items"],
)
async def upload_items(
    name: str = Path(min_length=1, max_length=64, description="collection name"),
    files: list[UploadFile] = File(..., description="images to index"),
    wait: bool = WAIT,
    state: AppState = Depends(get_state),
) -> JobOut:
    """Upload images to index into a collection (created if missing); returns their job."""
    if len(files) > MAX_FILES:
        raise ApiError(422, f"files: at most {MAX_FILES} per request, got {len(files)}", "files")
    limit = state.settings.api.max_upload_mb
    uploads: dict[tuple[str, bytes], Upload] = {}  # the same file twice is one upload
    for i, upload in enumerate(files):
        data = await upload.read(convert.max_bytes(limit) + 1)
        convert.check_size(f"files[{i}]", len(data), limit)
        filename = upload.filename or f"upload{i}"
        uploads.setdefault((filename, data), Upload(filename, data))
    from starlette.concurrency import run_in_threadpool

    job_id = await run_in_threadpool(plan_uploads, state.settings, name, list(uploads.values()))
    return await run_in_threadpool(_started, state, job_id, wait)


@router.post(
    "/v1/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    dependencies=[Depends(write_access)],
    responses=errors(400, 401, 404, 422, 503),
)
def create_job(body: JobCreate, wait: bool = WAIT, state: AppState = Depends(get_state)) -> JobOut:
    """Index a folder, file or list file on the server (inside ANYSEEK_INDEXER__ALLOWED_ROOTS)."""
    if not state.settings.indexer.allowed_roots:
        raise ApiError(
            422,
            "source: indexing server-side paths over HTTP is off; set "
            "ANYSEEK_INDEXER__ALLOWED_ROOTS to the folders it may read, or upload the images",
            "source",
        )
    if "://" in body.source:
        raise ApiError(422, "source: URLs are indexed with `anyseek index` on the server", "source")
    job_id = plan_job(state.settings, body.collection, body.source)
    return _started(state, job_id, wait)


@router.get(
    "/v1/jobs",
    response_model=JobList,
    dependencies=[Depends(read_access)],
    responses=errors(401, 404, 422),
)
def get_jobs(
    collection: str | None = Query(None, min_length=1, max_length=64),
    limit: int = Query(20, ge=1, le=1000),
    state: AppState = Depends(get_state),
) -> JobList:
    """The newest jobs, optionally of one collection."""
    with state.database.session() as session:
        rows: list[IndexJob] = list_jobs(session, collection, limit)
        return JobList(jobs=[_out(report(session, job.id, max_failures=20)) for job in rows])


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobOut,
    dependencies=[Depends(read_access)],
    responses=errors(401, 404, 422),
)
def get_job(job_id: int = JOB, state: AppState = Depends(get_state)) -> JobOut:
    """A job's status and progress, with the reason of each failed item."""
    with state.database.session() as session:
        return _out(report(session, job_id))


@router.post(
    "/v1/jobs/{job_id}/cancel",
    response_model=JobOut,
    dependencies=[Depends(write_access)],
    responses=errors(401, 404, 409, 422),
)
def cancel(job_id: int = JOB, state: AppState = Depends(get_state)) -> JobOut:
    """Cancel a queued or running job; chunks already indexed stay searchable."""
    with state.database.session() as session:
        cancel_job(session, job_id)
    with state.database.session() as session:
        return _out(report(session, job_id))
