"""``/v1/collections``: create (with the model's spaces), list, get with counts, its filterable
fields, delete."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, status

from anyseek.api import catalog
from anyseek.api.deps import READ, WRITE, DbSession, State
from anyseek.api.routes.common import CollectionName, errors
from anyseek.api.schemas import (
    CollectionCreate,
    CollectionList,
    CollectionOut,
    DuplicateGroupList,
    FieldList,
    FieldOut,
)
from anyseek.db import duplicates, repository

router = APIRouter(prefix="/v1/collections", tags=["collections"])


def _out(summary: repository.CollectionSummary) -> CollectionOut:
    data = dataclasses.asdict(summary)
    data["spaces"] = list(summary.spaces)
    return CollectionOut(**data)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectionOut,
    dependencies=[WRITE],
    responses=errors(400, 401, 409, 422, 503),
)
def create_collection(body: CollectionCreate, state: State, session: DbSession) -> CollectionOut:
    """Create an empty collection indexed in every space of the loaded model."""
    searcher = state.ready_searcher
    created = catalog.create_collection(
        session, searcher.store, searcher.model, body.name, state.settings.model.source
    )
    if body.near_duplicate_threshold is not None:
        duplicates.set_threshold(session, body.name, body.near_duplicate_threshold)
    return _out(created)


@router.get("", response_model=CollectionList, dependencies=[READ], responses=errors(401))
def list_collections(session: DbSession) -> CollectionList:
    """Every collection with its item and job counts."""
    return CollectionList(collections=[_out(s) for s in repository.list_collections(session)])


@router.get(
    "/{name}", response_model=CollectionOut, dependencies=[READ], responses=errors(401, 404, 422)
)
def get_collection(name: CollectionName, session: DbSession) -> CollectionOut:
    """One collection with its counts."""
    collection = repository.get_collection(session, name)
    return _out(repository.summarize(session, [collection])[0])


@router.get(
    "/{name}/fields",
    response_model=FieldList,
    dependencies=[READ],
    responses=errors(401, 404, 422),
)
def list_fields(name: CollectionName, session: DbSession) -> FieldList:
    """The fields filters can name: the indexer's and the items' metadata fields, with kinds."""
    return FieldList(
        fields=[
            FieldOut(name=n, kind=k, source=src)  # type: ignore[arg-type]
            for n, k, src in catalog.fields(session, name)
        ]
    )


@router.delete(
    "/{name}",
    response_model=CollectionOut,
    dependencies=[WRITE],
    responses=errors(401, 404, 422, 503),
)
def delete_collection(name: CollectionName, state: State, session: DbSession) -> CollectionOut:
    """Delete a collection with its items, vectors, thumbnails and jobs; returns what it held."""
    store = state.ready_searcher.store
    return _out(catalog.delete_collection(state.settings, session, store, name))


@router.get(
    "/{name}/duplicates",
    response_model=DuplicateGroupList,
    dependencies=[READ],
    responses=errors(401, 404, 422),
)
def list_duplicates(name: CollectionName, session: DbSession) -> DuplicateGroupList:
    """The collection's near-duplicate groups: each first item with the images linked to it."""
    groups = duplicates.duplicate_groups(session, name)
    return DuplicateGroupList.model_validate({"groups": [dataclasses.asdict(g) for g in groups]})
