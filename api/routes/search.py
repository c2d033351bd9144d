"""``/v1/collections/{name}/search``: JSON with base64 payloads, or multipart with a file per
modality plus JSON parameters. Both go through the micro-batcher to ``Searcher.search_many``;
``/search/batch`` sends up to 64 JSON searches to it as one model batch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from anyseek.db.repository import check_collection_name
from anyseek.errors import AnyseekError
from api import catalog
from api import query as convert
from api.deps import READ, AppState, State
from api.errors import RETRY_AFTER, TITLES, ApiError, status_of
from api.forms import form_values, with_query_fields
from api.routes.common import CollectionName, errors
from api.schemas import (
    BatchEntryOut,
    BatchSearchRequest,
    BatchSearchResponse,
    Problem,
    SearchParams,
    SearchRequest,
    SearchResponse,
)
from search.query import (
    CursorError,
    QueryPart,
    SearchQuery,
    SearchResults,
)

router = APIRouter(prefix="/v1/collections/{name}", tags=["search"])
RESPONSES = errors(400, 401, 404, 413, 422, 503)


async def _run(state: AppState, query: SearchQuery, where: str = "body") -> SearchResponse:
    """Decode the query's files for this request alone, then search through the batcher as asked
    (explain only when the query says so), record the stage timings every result carries, and
    render the page; a field the searcher refuses is named where the request gave it
    (``body.k``, ``params.k``)."""
    try:
        prepared = await state.ready_decoder.prepare(query)
        results: SearchResults = await state.ready_batcher.search(prepared)
    except Exception as exc:
        state.metrics.searches.labels("error").inc()
        if isinstance(exc, CursorError):  # another query's or a forged cursor: a bad request
            raise ApiError(400, str(exc), f"{where}.cursor") from None
        field = getattr(exc, "field", None)  # k, offset, spaces, like...: keep the error's status
        if isinstance(exc, AnyseekError) and field is not None:
            raise ApiError(status_of(exc), str(exc), f"{where}.{field}") from None
        raise
    state.metrics.searches.labels("ok").inc()
    state.metrics.observe_stages(results.timings_ms)
    return _response(results)


def _response(results: SearchResults) -> SearchResponse:
    """A page of results as the API shows it (read from the dataclasses' attributes: no copy
    of every hit into dicts first)."""
    return SearchResponse.model_validate(results, from_attributes=True)


def _failed(exc: AnyseekError, where: str, retry_after_s: int) -> BatchEntryOut:
    """A batch entry for a query that failed, as its own request would have (status, field,
    and a 503's Retry-After)."""
    status = status_of(exc)
    field = getattr(exc, "field", None)
    problem = Problem(
        title=TITLES.get(status, "Error"),
        status=status,
        detail=str(exc),
        field=f"{where}.{field}" if field is not None else None,
    )
    retry = retry_after_s if status == 503 else None
    return BatchEntryOut(status=status, error=problem, retry_after=retry)


async def _query(
    state: AppState, name: str, parts: list[QueryPart], params: SearchParams
) -> SearchQuery:
    """The query, its filter's fields checked against the collection's (read only if filtered)."""
    registry = None
    if convert.filter_spec(params):
        registry = await run_in_threadpool(catalog.field_registry, state.database, name)
    return convert.build_query(name, parts, params, registry)


@router.post(
    "/search",
    response_model=SearchResponse,
    dependencies=[READ],
    responses=RESPONSES,
)
async def search_json(body: SearchRequest, name: CollectionName, state: State) -> SearchResponse:
    """Search with JSON: captions as ``text``, files (sketch, depth...) as base64 ``data``."""
    parts = convert.parts_from_json(body, state.settings.api.max_upload_mb)
    return await _run(state, await _query(state, name, parts, body))


@router.post(
    "/search/upload",
    response_model=SearchResponse,
    dependencies=[READ],
    responses=RESPONSES,
)
@with_query_fields
async def search_upload(
    name: CollectionName,
    state: State,
    params: str | None = Form(
        None,
        description="JSON of SearchParams (k, weights, filter...)",
        json_schema_extra={"pattern": r"^\s*\{"},  # a JSON object, parsed as SearchParams
    ),
    **fields: Any,
) -> SearchResponse:
    """Search with a multipart form: a field per query modality (a file, a caption, JSON), and
    JSON parameters."""
    try:
        parsed = SearchParams.model_validate_json(params) if params else SearchParams()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("params", *first["loc"]))
        raise ApiError(422, f"{where}: {first['msg']}", where) from None
    values = await form_values(fields, state.settings.api.max_upload_mb)
    parts = convert.parts_from_form(values, parsed.weights)
    return await _run(state, await _query(state, name, parts, parsed), "params")


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
    if any(convert.filter_spec(request) for request in body.queries):
        registry = await run_in_threadpool(catalog.field_registry, state.database, name)
    entries: list[BatchEntryOut | None] = []
    queries: list[SearchQuery] = []
    for i, request in enumerate(body.queries):
        try:
            parts = convert.parts_from_json(request, max_mb)
            queries.append(convert.build_query(name, parts, request, registry))
            entries.append(None)
        except AnyseekError as exc:
            entries.append(_failed(exc, f"queries[{i}]", retry_after_s))
    answers = iter(await state.ready_batcher.search_all(queries))
    out = []
    for i, entry in enumerate(entries):
        if entry is None:
            answer = next(answers)
            if isinstance(answer, AnyseekError):
                state.metrics.searches.labels("error").inc()
                entry = _failed(answer, f"queries[{i}]", retry_after_s)
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
