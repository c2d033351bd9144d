"""``/v1/collections/{name}/search``: JSON with base64 payloads, or multipart with a file per
modality plus JSON parameters. Both go through the micro-batcher to ``Searcher.search_many``."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Form, Path
from pydantic import ValidationError

from api import query as convert
from api.deps import AppState, get_state, read_access
from api.errors import ApiError
from api.forms import form_values, with_query_fields
from api.routes.common import errors
from api.schemas import SearchParams, SearchRequest, SearchResponse
from search.query import SearchQuery, SearchResults

router = APIRouter(prefix="/v1/collections/{name}", tags=["search"])
NAME = Path(min_length=1, max_length=64, description="collection name")
RESPONSES = errors(400, 401, 404, 413, 422, 503)


async def _run(state: AppState, query: SearchQuery) -> SearchResponse:
    """Search through the batcher, record the stage timings, and render the page."""
    state.ready_searcher  # noqa: B018  (503 while loading)
    assert state.batcher is not None
    asked = query.explain
    try:
        results: SearchResults = await state.batcher.search(
            dataclasses.replace(query, explain=True, reconstruct=asked)
        )
    except Exception:
        state.metrics.searches.labels("error").inc()
        raise
    state.metrics.searches.labels("ok").inc()
    if results.explanation is not None:
        state.metrics.observe_stages(results.explanation.timings_ms)
    data = dataclasses.asdict(results)
    if not asked:
        data["explanation"] = None
    return SearchResponse.model_validate(data)


@router.post(
    "/search",
    response_model=SearchResponse,
    dependencies=[Depends(read_access)],
    responses=RESPONSES,
)
async def search_json(
    body: SearchRequest, name: str = NAME, state: AppState = Depends(get_state)
) -> SearchResponse:
    """Search with JSON: captions as ``text``, files (sketch, depth...) as base64 ``data``."""
    parts = convert.parts_from_json(body, state.settings.api.max_upload_mb)
    return await _run(state, convert.build_query(name, parts, body))


@router.post(
    "/search/upload",
    response_model=SearchResponse,
    dependencies=[Depends(read_access)],
    responses=RESPONSES,
)
@with_query_fields
async def search_upload(
    name: str = NAME,
    params: str | None = Form(None, description="JSON of SearchParams (k, weights, filter...)"),
    state: AppState = Depends(get_state),
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
    return await _run(state, convert.build_query(name, parts, parsed))
