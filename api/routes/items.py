"""``/v1/collections/{name}/items``: upload images to index, list with paging, get, image and
thumbnail bytes, delete."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Sequence
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from anyseek.api import catalog, files, query_bodies
from anyseek.api.deps import READ, WRITE, AppState, DbSession, State
from anyseek.api.errors import ApiError
from anyseek.api.job_schemas import ItemModality, JobOut
from anyseek.api.routes.common import CollectionName, Wait, errors, job_out
from anyseek.api.schemas import ItemList, ItemOut, ItemPatch
from anyseek.db.models import Item, ItemStatus
from anyseek.indexer import Upload, plan_uploads
from anyseek.indexer import metadata as item_metadata
from anyseek.indexer.errors import ModalityError, SourceError
from anyseek.indexer.records import SourceForm
from anyseek.search.fields import MetadataError, normalize_metadata
from anyseek.search.stores import VectorStore

router = APIRouter(prefix="/v1/collections/{name}/items", tags=["items"])
ItemId = Annotated[int, Path(ge=0, le=2**63 - 1, description="item id")]
MAX_PAGE = 1000
MAX_FILES = 999  # per upload request: with a metadata file, the form parser's 1,000 file parts
JSON_CONTAINER = r"^\s*([{\[][\s\S]*)?$"  # empty, or a JSON object or list
IMAGE = {200: {"content": {"image/*": {}}, "description": "the image bytes"}}


#: the item columns an ItemOut carries as they are, under the same names
ITEM_COLUMNS = ("id", "sha256", "source_uri", "width", "height", "format", "error", "created_at")


def _store(state: AppState) -> VectorStore | None:
    """The store of the app's searcher, when one is up."""
    return None if state.searcher is None else state.searcher.store


def _outs(
    session: Session, store: VectorStore | None, collection: str, items: Sequence[Item]
) -> list[ItemOut]:
    """The response models of items, with their payloads from ``store`` (none without one)."""
    ids = [item.id for item in items]
    found = {} if store is None else catalog.payloads(session, store, collection, ids)
    return [
        ItemOut(
            collection=collection,
            status=item.status.value,
            metadata=item.meta or {},
            payload=found.get(item.id),
            **{name: getattr(item, name) for name in ITEM_COLUMNS},
        )
        for item in items
    ]


def _upload_metadata(text: str | None, files: int) -> list[dict[str, Any] | None]:
    """The ``metadata`` form field per file: one JSON object for every file, or a list with
    one object per file in order (422 naming the field when it is neither)."""
    if text is None or not text.strip():
        return [None] * files
    try:
        value = json.loads(text)
        given = value if isinstance(value, list) else [value] * files
        if len(given) != files:
            raise MetadataError(f"a list of {len(given)} objects for {files} files")
        return [normalize_metadata(entry) or None for entry in given]
    except json.JSONDecodeError as exc:
        raise ApiError(422, f"metadata: not JSON ({exc.msg})", "metadata") from None
    except MetadataError as exc:
        raise ApiError(422, f"metadata: {exc}", "metadata") from None


async def _metadata_file(
    upload: UploadFile | None, max_upload_mb: float
) -> dict[str, dict[str, Any]] | None:
    """The rows of an uploaded CSV/JSONL metadata file by file name, read under the size cap and
    checked as ``anyseek index --metadata`` checks them (a bad row: 422 saying NAME:LINE: why)."""
    if upload is None:
        return None
    data = await upload.read(query_bodies.max_bytes(max_upload_mb) + 1)
    query_bodies.check_size("metadata_file", len(data), max_upload_mb)
    try:
        return item_metadata.parse_metadata(data, upload.filename or "metadata_file")
    except SourceError as exc:
        raise ApiError(422, str(exc), "metadata_file") from None


async def _uploads(
    files: list[UploadFile], max_upload_mb: float, metadata: list[dict[str, Any] | None]
) -> list[Upload]:
    """The uploaded files read under the size cap (413 naming the file), each with its
    metadata; the same file twice is one upload."""
    if len(files) > MAX_FILES:
        raise ApiError(422, f"files: at most {MAX_FILES} per request, got {len(files)}", "files")
    uploads: dict[tuple[str, bytes], Upload] = {}
    for i, upload in enumerate(files):
        data = await upload.read(query_bodies.max_bytes(max_upload_mb) + 1)
        query_bodies.check_size(f"files[{i}]", len(data), max_upload_mb)
        filename = upload.filename or f"upload{i}"
        uploads.setdefault((filename, data), Upload(filename, data, metadata[i]))
    return list(uploads.values())


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    dependencies=[WRITE],
    responses=errors(400, 401, 404, 409, 413, 422, 503),
)
async def upload_items(
    name: CollectionName,
    files: Annotated[
        list[UploadFile],
        File(
            description="images to index",
            min_length=1,
            json_schema_extra={"maxItems": MAX_FILES},  # checked by _uploads, with its message
        ),
    ],
    state: State,
    session: DbSession,
    wait: Wait = False,
    metadata: Annotated[
        str | None,
        Form(
            description="JSON metadata: one object for every file, or a list of one object per "
            "file in order",
            json_schema_extra={"pattern": JSON_CONTAINER},  # parsed by _upload_metadata
        ),
    ] = None,
    metadata_file: Annotated[
        UploadFile | None,
        File(
            description="a CSV or JSON-lines metadata file, one row per image keyed by `path` "
            "(the uploaded file's name), as `anyseek index --metadata` reads it; its rows win "
            "over `metadata` for the fields both give"
        ),
    ] = None,
    modality: Annotated[
        ItemModality,
        Form(
            description="what each uploaded file is: `rgb` (photos), `depth`, `semseg`, "
            "`sketch`...; `caption`: each file is a JSON-lines file of `{text, key, fields}`"
        ),
    ] = ItemModality("rgb"),
    manifest: Annotated[
        UploadFile | None,
        File(
            description="a CSV or JSON-lines manifest of records, a column per modality naming "
            "the uploaded files by name (text for `caption`), an optional `key`, metadata "
            "columns: as `anyseek index --manifest` reads it"
        ),
    ] = None,
) -> JobOut:
    """Upload items to index into a collection (created if missing): images, maps of one
    modality, JSON lines of captions, or records of several (``manifest``); returns their job."""
    jobs = state.ready_jobs
    max_mb = state.settings.api.max_upload_mb
    await run_in_threadpool(catalog.check_indexable, session, state.ready_models, name)
    per_file = _upload_metadata(metadata, len(files))
    table = await _metadata_file(metadata_file, max_mb)
    uploads = await _uploads(files, max_mb, per_file)
    listed = None
    if manifest is not None:
        data = await manifest.read(query_bodies.max_bytes(max_mb) + 1)
        query_bodies.check_size("manifest", len(data), max_mb)
        listed = Upload(manifest.filename or "manifest.jsonl", data)
    field = "manifest" if listed is not None else "files"
    form = _form(ItemModality(modality).value if listed is None else "rgb", listed is not None)
    try:
        job_id = await run_in_threadpool(
            lambda: plan_uploads(
                state.settings, name, uploads, session, table, form=form, manifest=listed,
                model=state.ready_searcher.model,
            )
        )  # fmt: skip
    except SourceError as exc:  # a modality the model does not take, a manifest without items
        field = "modality" if isinstance(exc, ModalityError) else field
        raise ApiError(422, f"{field}: {exc}", field) from None
    return job_out(await run_in_threadpool(jobs.launch, session, job_id, wait))


def _form(modality: str, manifest: bool) -> SourceForm:
    """What the uploaded files are, or a 422 naming the field."""
    try:
        return SourceForm(modality, manifest)
    except SourceError as exc:
        raise ApiError(422, f"modality: {exc}", "modality") from None


@router.get("", response_model=ItemList, dependencies=[READ], responses=errors(401, 404, 422))
def list_items(
    name: CollectionName,
    state: State,
    session: DbSession,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    status_: Annotated[ItemStatus | None, Query(alias="status")] = None,
    sort: Annotated[
        Literal["id", "taken", "-taken"],
        Query(
            description="id (indexing order), taken (date taken, oldest first) or -taken "
            "(newest first); items without a date taken (no EXIF date) follow, by id"
        ),
    ] = "id",
) -> ItemList:
    """A page of the collection's items by id or date taken, with their payloads once
    indexed."""
    rows, total = catalog.list_items(session, name, offset, limit, status_, sort)
    more = offset + len(rows) < total
    return ItemList(
        items=_outs(session, _store(state), name, rows),
        total=total,
        offset=offset,
        next_offset=offset + len(rows) if more and rows else None,
    )


@router.get(
    "/{item_id}", response_model=ItemOut, dependencies=[READ], responses=errors(401, 404, 422)
)
def get_item(name: CollectionName, item_id: ItemId, state: State, session: DbSession) -> ItemOut:
    """One item: its record and stored payload."""
    item = catalog.get_item(session, name, item_id)
    return _outs(session, _store(state), name, [item])[0]


@router.patch(
    "/{item_id}",
    response_model=ItemOut,
    dependencies=[WRITE],
    responses=errors(400, 401, 404, 422, 503),
)
def patch_item(
    name: CollectionName, item_id: ItemId, body: ItemPatch, state: State, session: DbSession
) -> ItemOut:
    """Edit an item's metadata: given fields are set, null ones removed (a merge); filters see
    the change when this returns."""
    jobs = state.ready_jobs
    item = item_metadata.edit(session, name, item_id, body.metadata)
    session.commit()  # staged in the outbox first: the store follows the database
    jobs.sync_metadata(name)
    return _outs(session, state.ready_searcher.store, name, [item])[0]


@router.get(
    "/{item_id}/image",
    response_class=Response,
    dependencies=[READ],
    responses={**IMAGE, **errors(401, 404, 422)},
)
def get_image(name: CollectionName, item_id: ItemId, state: State, session: DbSession) -> Response:
    """The original image bytes, when its file is on this server and is still the one indexed
    (a regular file inside the allowed roots, with the same SHA-256; see ``anyseek.api.files``)."""
    item = catalog.get_item(session, name, item_id)
    data = files.indexed_image(state.settings, item.source_path, item.sha256, item_id)
    media = mimetypes.guess_type(FilePath(item.source_uri).name)[0] or "application/octet-stream"
    return Response(data, media_type=media)


ThumbnailKind = Annotated[
    Literal["image", "depth", "semseg"],
    Query(
        description="image: the JPEG thumbnail; depth (near = bright) or semseg (COCO palette): "
        "the PNG the model predicts from the image, written when it can (MultiMAE)",
    ),
]


@router.get(
    "/{item_id}/thumbnail",
    response_class=Response,
    dependencies=[READ],
    responses={**IMAGE, **errors(401, 404, 422)},
)
def get_thumbnail(
    name: CollectionName,
    item_id: ItemId,
    state: State,
    session: DbSession,
    kind: ThumbnailKind = "image",
) -> Response:
    """The item's thumbnail written by the indexer, or the model's depth or segmentation of it."""
    catalog.get_item(session, name, item_id)
    if kind == "image":
        data = files.data_file(catalog.thumbnail_path(state.settings, name, item_id))
        if data is None:
            raise ApiError(404, f"item {item_id} has no thumbnail (not indexed yet?)", "item_id")
        return Response(data, media_type="image/jpeg")
    data = files.data_file(catalog.reconstruction_path(state.settings, name, item_id, kind))
    if data is None:
        raise ApiError(
            404,
            f"item {item_id} has no {kind} reconstruction (only a model that reconstructs, "
            "MultiMAE, writes them when it indexes or re-indexes)",
            "query.kind",
        )
    return Response(data, media_type="image/png")


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[WRITE],
    responses=errors(401, 404, 422, 503),
)
def delete_item(
    name: CollectionName, item_id: ItemId, state: State, session: DbSession
) -> Response:
    """Remove an item from search, the database and the thumbnails."""
    catalog.delete_item(state.settings, session, state.ready_searcher.store, name, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
