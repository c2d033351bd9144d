"""``/v1/collections``: create (with the model's spaces), list, get with counts, delete."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Depends, Path, status

from anyseek.db import repository
from api import catalog
from api.deps import AppState, get_state, read_access, write_access
from api.routes.common import errors
from api.schemas import CollectionCreate, CollectionList, CollectionOut

router = APIRouter(prefix="/v1/collections", tags=["collections"])
NAME = Path(min_length=1, max_length=64, description="collection name")


def _out(summary: repository.CollectionSummary) -> CollectionOut:
    data = dataclasses.asdict(summary)
    data["spaces"] = list(summary.spaces)
    return CollectionOut(**data)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectionOut,
    dependencies=[Depends(write_access)],
    responses=errors(400, 401, 409, 422, 503),
)
def create_collection(
    body: CollectionCreate, state: AppState = Depends(get_state)
) -> CollectionOut:
    """Create an empty collection indexed in every space of the loaded model."""
    searcher = state.ready_searcher
    summary = catalog.create_collection(state.database, searcher.store, searcher.model, body.name)
    return _out(summary)


@router.get(
    "", response_model=CollectionList, dependencies=[Depends(read_access)], responses=errors(401)
)
def list_collections(state: AppState = Depends(get_state)) -> CollectionList:
    """Every collection with its item and job counts."""
    with state.database.session() as session:
        summaries = repository.list_collections(session)
    return CollectionList(collections=[_out(s) for s in summaries])


@router.get(
    "/{name}",
    response_model=CollectionOut,
    dependencies=[Depends(read_access)],
    responses=errors(401, 404, 422),
)
def get_collection(name: str = NAME, state: AppState = Depends(get_state)) -> CollectionOut:
    """One collection with its counts."""
    with state.database.session() as session:
        collection = repository.get_collection(session, name)
        return _out(repository.summarize(session, [collection])[0])


@router.delete(
    "/{name}",
    response_model=CollectionOut,
    dependencies=[Depends(write_access)],
    responses=errors(401, 404, 422, 503),
)
def delete_collection(name: str = NAME, state: AppState = Depends(get_state)) -> CollectionOut:
    """Delete a collection with its items, vectors, thumbnails and jobs; returns what it held."""
    store = state.ready_searcher.store
    return _out(catalog.delete_collection(state.settings, state.database, store, name))
