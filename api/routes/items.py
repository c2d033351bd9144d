"""``/v1/collections/{name}/items``: list with paging, get, image and thumbnail bytes, delete."""

from __future__ import annotations

import mimetypes
from pathlib import Path as FilePath
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.responses import FileResponse

from anyseek.db.models import Item, ItemStatus
from api import catalog
from api.deps import AppState, get_state, read_access, write_access
from api.errors import ApiError
from api.routes.common import errors
from api.schemas import ItemList, ItemOut

router = APIRouter(prefix="/v1/collections/{name}/items", tags=["items"])
NAME = Path(min_length=1, max_length=64, description="collection name")
ITEM = Path(ge=0, le=2**63 - 1, description="item id")
MAX_PAGE = 1000
IMAGE = {200: {"content": {"image/*": {}}, "description": "the image bytes"}}


def _out(item: Item, collection: str, payload: dict | None) -> ItemOut:
    return ItemOut(
        id=item.id,
        collection=collection,
        status=item.status.value,
        sha256=item.sha256,
        source_uri=item.source_uri,
        width=item.width,
        height=item.height,
        format=item.format,
        error=item.error,
        created_at=item.created_at,
        payload=payload,
    )


@router.get(
    "",
    response_model=ItemList,
    dependencies=[Depends(read_access)],
    responses=errors(401, 404, 422),
)
def list_items(
    name: str = NAME,
    offset: int = Query(0, ge=0, le=10**9),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    status_: ItemStatus | None = Query(None, alias="status"),
    state: AppState = Depends(get_state),
) -> ItemList:
    """A page of the collection's items by id, with their payloads once indexed."""
    with state.database.session() as session:
        rows, total = catalog.list_items(session, name, offset, limit, status_)
    found = {}
    if state.searcher is not None:
        found = catalog.payloads(state.searcher.store, name, [r.id for r in rows])
    more = offset + len(rows) < total
    return ItemList(
        items=[_out(r, name, found.get(r.id)) for r in rows],
        total=total,
        offset=offset,
        next_offset=offset + len(rows) if more and rows else None,
    )


@router.get(
    "/{item_id}",
    response_model=ItemOut,
    dependencies=[Depends(read_access)],
    responses=errors(401, 404, 422),
)
def get_item(
    name: str = NAME, item_id: int = ITEM, state: AppState = Depends(get_state)
) -> ItemOut:
    """One item: its record and stored payload."""
    with state.database.session() as session:
        item = catalog.get_item(session, name, item_id)
    found = {}
    if state.searcher is not None:
        found = catalog.payloads(state.searcher.store, name, [item_id])
    return _out(item, name, found.get(item_id))


@router.get(
    "/{item_id}/image",
    response_class=FileResponse,
    dependencies=[Depends(read_access)],
    responses={**IMAGE, **errors(401, 404, 422)},
)
def get_image(name: str = NAME, item_id: int = ITEM, state: AppState = Depends(get_state)):
    """The original image bytes, when its file is on this server."""
    with state.database.session() as session:
        item = catalog.get_item(session, name, item_id)
    path = FilePath(item.source_uri)
    if "://" in item.source_uri or not path.is_file():
        raise ApiError(404, f"the image of item {item_id} is not stored on this server")
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media)


@router.get(
    "/{item_id}/thumbnail",
    response_class=FileResponse,
    dependencies=[Depends(read_access)],
    responses={**IMAGE, **errors(401, 404, 422)},
)
def get_thumbnail(
    name: str = NAME,
    item_id: int = ITEM,
    kind: Literal["image", "depth", "semseg"] = Query(
        "image",
        description="image: the JPEG thumbnail; depth (near = bright) or semseg (COCO palette): "
        "the PNG the model predicts from the image, written when it can (MultiMAE)",
    ),
    state: AppState = Depends(get_state),
):
    """The item's thumbnail written by the indexer, or the model's depth or segmentation of it."""
    with state.database.session() as session:
        catalog.get_item(session, name, item_id)
    if kind == "image":
        path = catalog.thumbnail_path(state.settings, name, item_id)
        if not path.is_file():
            raise ApiError(404, f"item {item_id} has no thumbnail (not indexed yet?)")
        return FileResponse(path, media_type="image/jpeg")
    path = catalog.reconstruction_path(state.settings, name, item_id, kind)
    if not path.is_file():
        raise ApiError(
            404,
            f"item {item_id} has no {kind} reconstruction (only a model that reconstructs, "
            "MultiMAE, writes them at index time)",
        )
    return FileResponse(path, media_type="image/png")


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[Depends(write_access)],
    responses=errors(401, 404, 422, 503),
)
def delete_item(name: str = NAME, item_id: int = ITEM, state: AppState = Depends(get_state)):
    """Remove an item from search, the database and the thumbnails."""
    catalog.delete_item(state.settings, state.database, state.ready_searcher.store, name, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
