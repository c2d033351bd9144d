"""Versions of a collection's vectors: re-index with another model, list versions, roll back.

``POST /reindex`` writes a new version and its job and starts it (on the indexing thread or the
workers) while searches keep using the current version; the job's progress and cancel are the
usual ``/v1/jobs/{id}`` routes. ``POST /rollback`` switches back to the previous version.
"""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from anyseek.api.deps import READ, WRITE, DbSession, State
from anyseek.api.errors import ApiError
from anyseek.api.job_schemas import JobOut, ReindexRequest, SwitchOut, VersionList, VersionOut
from anyseek.api.routes.common import CollectionName, errors, job_out
from anyseek.db import versions
from anyseek.indexer.reindex import start_reindex
from anyseek.indexer.version_switch import rollback
from anyseek.model.service import ModelError

router = APIRouter(prefix="/v1/collections/{name}", tags=["versions"])


@router.post(
    "/reindex",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    dependencies=[WRITE],
    responses=errors(400, 401, 404, 409, 422, 503),
)
async def reindex(
    name: CollectionName, body: ReindexRequest, state: State, session: DbSession
) -> JobOut:
    """Re-embed the collection with ``model`` into a new version, then switch to it atomically;
    a re-index of the same model already running is resumed (its job returned)."""
    jobs = state.ready_jobs
    source = state.ready_models.source_of(body.model)  # a model's name@digest: its source
    try:
        model = await run_in_threadpool(state.ready_models.get, source)
    except ModelError as exc:  # not a model, or a path the OS refuses: the body's field at fault
        raise ApiError(422, f"model: {exc}", "model") from None
    job_id, _ = start_reindex(session, name, model, source)
    return job_out(await run_in_threadpool(jobs.launch, session, job_id, False))


@router.get(
    "/versions", response_model=VersionList, dependencies=[READ], responses=errors(401, 404)
)
def list_versions(name: CollectionName, session: DbSession) -> VersionList:
    """The collection's versions, oldest first, the current one marked."""
    found = versions.describe(session, name)
    return VersionList(
        collection=name, versions=[VersionOut(**dataclasses.asdict(v)) for v in found]
    )


@router.post(
    "/rollback",
    response_model=SwitchOut,
    dependencies=[WRITE],
    responses=errors(401, 404, 409, 503),
)
def roll_back(name: CollectionName, state: State) -> SwitchOut:
    """Switch back to the previous version (kept by ANYSEEK_INDEXER__KEEP_VERSIONS)."""
    store = state.ready_searcher.store
    done = rollback(state.settings, state.database, store, name, state.ready_models.get)
    return SwitchOut(**{**dataclasses.asdict(done), "dropped": list(done.dropped)})
