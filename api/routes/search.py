"""``/v1/collections/{name}/search``: JSON with base64 payloads, or multipart with a file per
modality plus JSON parameters. Both go through the micro-batcher to ``Searcher.search_many``."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Form
from pydantic import ValidationError

from api import query as convert
from api.deps import READ, AppState, State
from api.errors import ApiError
from api.forms import form_values, with_query_fields
from api.routes.common import CollectionName, errors
from api.schemas import SearchParams, SearchRequest, SearchResponse
from search.query import SearchInputError, SearchQuery, SearchResults

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
        if isinstance(exc, SearchInputError) and exc.field is not None:
            raise ApiError(422, str(exc), f"{where}.{exc.field}") from None
        raise
    state.metrics.searches.labels("ok").inc()
    state.metrics.observe_stages(results.timings_ms)
    return SearchResponse.model_validate(dataclasses.asdict(results))


@router.post(
    "/search",
    response_model=SearchResponse,
    dependencies=[READ],
    responses=RESPONSES,
)
async def search_json(body: SearchRequest, name: CollectionName, state: State) -> SearchResponse:
    """Search with JSON: captions as ``text``, files (sketch, depth...) as base64 ``data``."""
    parts = convert.parts_from_json(body, state.settings.api.max_upload_mb)
    return await _run(state, convert.build_query(name, parts, body))


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
    params: str | None = Form(None, description="JSON of SearchParams (k, weights, filter...)"),
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
    return await _run(state, convert.build_query(name, parts, parsed), "params")
