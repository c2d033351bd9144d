"""Every place that finds a collection's vectors meeting another model refuses the same way: one
error class and one message naming both models and the ways out (re-index, or serve the old
model again). Indexing, searching, the API's check before a job, staging a chunk, a re-index and a
rollback each meet the model now found at the collection's source with other weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from anyseek.api.catalog import check_indexable
from anyseek.db import repository, versions
from anyseek.db.migrate import open_database
from anyseek.errors import ModelMismatchError
from anyseek.identity import mismatch_message
from anyseek.indexer.collections import attach_model
from anyseek.indexer.outbox import staging_version
from anyseek.indexer.reindex import run_reindex, start_reindex
from anyseek.indexer.version_switch import rollback
from anyseek.model.service import SpaceInfo, model_identity
from anyseek.search.query import QueryPart, SearchQuery
from anyseek.search.searcher import Searcher
from anyseek.search.stores import open_store
from anyseek.settings import Settings

COLLECTION, SOURCE = "scenes", "/models/derived"


@dataclass(frozen=True)
class StandIn:
    """Just what identity and space registration read of a loaded model."""

    name: str
    version: str
    spaces: tuple[SpaceInfo, ...] = (SpaceInfo("clip", "tok_clip_global", 8),)
    precision: str = "float32"


INDEXED_WITH = StandIn("derived-model", "0123456789abcdef")
FOUND_NOW = StandIn("derived-model", "fedcba9876543210")  # other weights at the same source


def _refusal(refuse: Callable[[], object]) -> str:
    """The message of the ModelMismatchError that ``refuse`` raises."""
    with pytest.raises(ModelMismatchError) as refused:
        refuse()
    return str(refused.value)


def test_every_refusal_path_gives_one_error_and_message(ready_settings: Settings) -> None:
    database = open_database(ready_settings)
    registry = SimpleNamespace(get=lambda source: FOUND_NOW)
    store = open_store(ready_settings)  # rollback and re-index claim its writer before anything
    searcher = Searcher(FOUND_NOW, store, database=database, registry=registry)
    messages = {}
    try:
        with database.session() as session:
            collection = repository.create_collection(session, COLLECTION)
            attach_model(session, collection, INDEXED_WITH, SOURCE)  # version 1
        with database.session() as session:
            collection = repository.get_collection(session, COLLECTION)
            messages["index"] = _refusal(
                lambda: attach_model(session, collection, FOUND_NOW, SOURCE)
            )
        with database.session() as session:
            messages["check before a job"] = _refusal(
                lambda: check_indexable(session, registry, COLLECTION)
            )
            collection_id = repository.get_collection(session, COLLECTION).id
            found = model_identity(FOUND_NOW)
            messages["stage"] = _refusal(lambda: staging_version(session, collection_id, found))
        query = SearchQuery(COLLECTION, (QueryPart("caption", "a red cube"),), k=4)
        messages["search"] = _refusal(lambda: searcher.prepare(query))
        messages["batched search"] = _refusal(lambda: searcher.search(query))

        with database.session() as session:  # version 2 by the same model, then current
            start_reindex(session, COLLECTION, INDEXED_WITH, SOURCE)
        with database.session() as session:
            versions.switch(session, COLLECTION, 2)
        messages["rollback"] = _refusal(
            lambda: rollback(ready_settings, database, store, COLLECTION, lambda _: FOUND_NOW)
        )
        with database.session() as session:
            job_id, _ = start_reindex(session, COLLECTION, INDEXED_WITH, SOURCE)
        messages["re-index"] = _refusal(
            lambda: run_reindex(ready_settings, database, store, job_id, lambda _: FOUND_NOW)
        )
    finally:
        store.close()
        database.dispose()

    expected = mismatch_message(
        COLLECTION, model_identity(INDEXED_WITH, SOURCE), model_identity(FOUND_NOW)
    )
    assert messages == dict.fromkeys(messages, expected)
    assert len(messages) == 7
    assert f"anyseek reindex {COLLECTION} --model SOURCE" in expected
    assert f"POST /v1/collections/{COLLECTION}/reindex" in expected
    assert f"make {SOURCE} serve {INDEXED_WITH.name}@{INDEXED_WITH.version} again" in expected
