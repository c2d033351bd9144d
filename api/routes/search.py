"""``/v1/collections/{name}/search``: JSON with base64 payloads, or multipart with a file per
modality plus JSON parameters. Each request hands its query to the search runner once
(``anyseek.search.runner``: prepared on its pool, predicted in a micro-batch on the inference
thread, finished on the pool) and awaits the answer; ``/search/batch`` sends up to 64 JSON
searches through one model batch."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from anyseek.api import catalog, query_bodies
from anyseek.api.deps import READ, AppState, State
from anyseek.api.errors import LOCATIONS, RETRY_AFTER, TITLES, ApiError, field_name, status_of
from anyseek.api.forms import read_search_form, search_form_body
from anyseek.api.routes.common import CollectionName, errors
from anyseek.api.schemas import (
    BatchEntryOut,
    BatchSearchRequest,
    BatchSearchResponse,
    Problem,
    SearchParams,
    SearchRequest,
    SearchResponse,
)
from anyseek.db.repository import check_collection_name
from anyseek.errors import AnyseekError
from anyseek.search.query import (
    QueryPart,
    SearchQuery,
    SearchResults,
)

router = APIRouter(prefix="/v1/collections/{name}", tags=["search"])
RESPONSES = errors(400, 401, 404, 413, 422, 503)


Places = Mapping[str, str]  # a query modality -> the request field that gave it
FORM_PARAMS = "body.params"  # where the search form's JSON parameters are


def placed(exc: AnyseekError, where: str, places: Places) -> str | None:
    """Where the request gave what ``exc`` is about: a part by its modality (``places``), else
    its field under ``where`` (``body`` for JSON, ``body.params`` in the form; the form's
    fields themselves are ``body.sketch``...), a field already placed (``path.name``) as it is."""
    modality = getattr(exc, "modality", None)
    if modality in places:
        return places[modality]
    field = getattr(exc, "field", None)
    if field is None or field.split(".")[0] in LOCATIONS:
        return field
    if field == "name":  # the collection: the path's one parameter
        return "path.name"
    if field == "parts" and where == FORM_PARAMS:  # the form's modality fields, together
        return "body"
    return f"{where}.{field}"


def _json_places(body: SearchRequest, where: str = "body") -> dict[str, str]:
    """Each JSON part's modality -> its place (``body.parts[1]``)."""
    return {part.modality: f"{where}.parts[{i}]" for i, part in enumerate(body.parts)}


async def _run(state: AppState, query: SearchQuery, where: str, places: Places) -> SearchResponse:
    """Search once through the runner (explain only when the query says so), record the stage
    timings every result carries, and render the page; what the searcher refuses is named where
    the request gave it (``body.k``, ``body.params.k``, ``body.parts[0]``, ``body.sketch``)."""
    try:
        results: SearchResults = await state.ready_runner.search(query)
    except Exception as exc:
        state.metrics.searches.labels("error").inc()
        if isinstance(exc, AnyseekError):
            raise ApiError(status_of(exc), str(exc), placed(exc, where, places)) from None
        raise
    state.metrics.searches.labels("ok").inc()
    state.metrics.observe_stages(results.timings_ms)
    return _response(results)


def _response(results: SearchResults) -> SearchResponse:
    """A page of results as the API shows it (read from the dataclasses' attributes: no copy
    of every hit into dicts first)."""
    return SearchResponse.model_validate(results, from_attributes=True)


def _failed(exc: AnyseekError, where: str, places: Places, retry_after_s: int) -> BatchEntryOut:
    """A batch entry for a query that failed, as its own request would have (status, field
    under its place ``body.queries[i]``, and a 503's Retry-After)."""
    status = status_of(exc)
    problem = Problem(
        title=TITLES.get(status, "Error"),
        status=status,
        detail=str(exc),
        field=placed(exc, where, places),
    )
    retry = retry_after_s if status == 503 else None
    return BatchEntryOut(status=status, error=problem, retry_after=retry)


async def _query(
    state: AppState, name: str, parts: list[QueryPart], params: SearchParams
) -> SearchQuery:
    """The query, its filter's fields checked against the collection's (read only if filtered)."""
    registry = None
    if query_bodies.filter_spec(params):
        registry = await run_in_threadpool(catalog.field_registry, state.database, name)
    return query_bodies.build_query(name, parts, params, registry)


@router.post(
    "/search",
    response_model=SearchResponse,
    dependencies=[READ],
    responses=RESPONSES,
)
async def search_json(body: SearchRequest, name: CollectionName, state: State) -> SearchResponse:
    """Search with JSON: captions as ``text``, files (sketch, depth...) as base64 ``data``."""
    places = _json_places(body)
    try:
        parts = query_bodies.parts_from_json(body, state.settings.api.max_upload_mb)
        query = await _query(state, name, parts, body)
    except AnyseekError as exc:
        raise ApiError(status_of(exc), str(exc), placed(exc, "body", places)) from None
    return await _run(state, query, "body", places)


@router.post(
    "/search/upload",
    response_model=SearchResponse,
    dependencies=[READ],
    responses=RESPONSES,
    openapi_extra=search_form_body(),
)
async def search_upload(name: CollectionName, state: State, request: Request) -> SearchResponse:
    """Search with a multipart form: a field per query modality (a file, a caption, JSON), and
    JSON parameters."""
    form = await read_search_form(request, state.settings.api.max_upload_mb)  # body.sketch...
    try:
        parsed = SearchParams.model_validate_json(form.params) if form.params else SearchParams()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = field_name(("body", "params", *first["loc"]))
        raise ApiError(422, f"{where.removeprefix('body.')}: {first['msg']}", where) from None
    places = {name: f"body.{name}" for name in form.values}
    try:
        parts = query_bodies.parts_from_form(form.values, parsed.weights)
        query = await _query(state, name, parts, parsed)
    except AnyseekError as exc:
        raise ApiError(status_of(exc), str(exc), placed(exc, FORM_PARAMS, places)) from None
    return await _run(state, query, FORM_PARAMS, places)


@router.post(
    "/search/batch",
    response_model=BatchSearchResponse,
    dependencies=[READ],
    responses=RESPONSES,
)
async def search_batch(
    body: BatchSearchRequest, name: CollectionName, state: State, response: Response
) -> BatchSearchResponse:
    """Up to 64 JSON searches (each a body of ``/search``) answered through one model batch; a
    query that fails gets its error in its entry and spoils nothing for the others."""
    check_collection_name(name)  # the path at fault, not each query
    max_mb, retry_after_s = state.settings.api.max_upload_mb, state.settings.api.retry_after_s
    registry = None
    if any(query_bodies.filter_spec(request) for request in body.queries):
        registry = await run_in_threadpool(catalog.field_registry, state.database, name)
    entries: list[BatchEntryOut | None] = []
    queries: list[SearchQuery] = []
    places = [_json_places(request, f"body.queries[{i}]") for i, request in enumerate(body.queries)]
    for i, request in enumerate(body.queries):
        try:
            parts = query_bodies.parts_from_json(request, max_mb)
            queries.append(query_bodies.build_query(name, parts, request, registry))
            entries.append(None)
        except AnyseekError as exc:
            entries.append(_failed(exc, f"body.queries[{i}]", places[i], retry_after_s))
    answers = iter(await state.ready_runner.search_all(queries))
    out = []
    for i, entry in enumerate(entries):
        if entry is None:
            answer = next(answers)
            if isinstance(answer, AnyseekError):
                state.metrics.searches.labels("error").inc()
                entry = _failed(answer, f"body.queries[{i}]", places[i], retry_after_s)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                state.metrics.searches.labels("ok").inc()
                state.metrics.observe_stages(answer.timings_ms)
                entry = BatchEntryOut(status=200, result=_response(answer))
        out.append(entry)
    if any(entry.status == 503 for entry in out):  # when to ask again for those queries
        response.headers[RETRY_AFTER] = str(retry_after_s)
    return BatchSearchResponse(results=out)
