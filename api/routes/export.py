"""``GET /v1/collections/{name}/export``: every indexed item as one JSON line, streamed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from anyseek.api.deps import READ, DbSession, State
from anyseek.api.routes.common import CollectionName, errors
from anyseek.db import repository
from anyseek.search.export import export_records, jsonl_lines

router = APIRouter(prefix="/v1/collections/{name}", tags=["collections"])
JSONL = "application/x-ndjson"


@router.get(
    "/export",
    dependencies=[READ],
    responses={
        200: {
            "content": {JSONL: {}},
            "description": "one JSON object per line: id, path, sha256, payload, metadata, "
            "model (name@version) and vectors (space -> list of floats)",
        },
        **errors(401, 404, 422, 503),
    },
    response_class=StreamingResponse,
)
def export_collection(name: CollectionName, state: State, session: DbSession) -> StreamingResponse:
    """Stream the collection's indexed items as JSON lines, oldest first (constant memory)."""
    repository.get_collection(session, name)  # a 404 before the stream starts
    store = state.ready_searcher.store
    lines = jsonl_lines(export_records(state.database, store, name))
    headers = {"Content-Disposition": f'attachment; filename="{name}.jsonl"'}
    return StreamingResponse(lines, media_type=JSONL, headers=headers)
