"""The query path's stages: the resolve stage reads the database at most once per request (on
SQLite, only after a commit to the file) and sees a version switched (or rolled back) by another
process at its next request; the store stage
searches once per space and reads nothing a second time, on every store backend."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from postgres_plan import items_plan
from sqlalchemy import event, insert

from anyseek.db import repository, versions
from anyseek.db.models import Item, ItemStatus
from anyseek.db.session import Database
from anyseek.model.service import fusion_weights, model_identity, query_fusion_weights
from anyseek.scenes import generate_scene
from anyseek.search.candidates import SpaceQuery, gather
from anyseek.search.query import LikeItem, QueryPart, SearchQuery
from anyseek.search.resolve import VersionResolver, resolve_statement
from anyseek.search.searcher import Searcher
from anyseek.search.stores import SpaceSpec, VectorStore

ROOT = Path(__file__).resolve().parents[2]
SWITCH = """
import sys
from anyseek.db import versions
from anyseek.db.session import database_from_url
database = database_from_url(sys.argv[1])
with database.session() as session:
    versions.switch(session, "photos", int(sys.argv[2]))
database.dispose()
"""


def _count_calls(store: VectorStore, monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Calls of the store's ``search`` and ``retrieve`` from now on."""
    calls: Counter = Counter()
    for name in ("search", "retrieve"):
        original = getattr(store, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return calls


def _reads(database: Database) -> list[str]:
    """The SELECT statements the database is sent from now on (not BEGIN, COMMIT, pings)."""
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM" in statement.upper():
            sent.append(statement)

    event.listen(database.engine, "before_cursor_execute", note)
    return sent


def _versions(search_model, store: VectorStore, database: Database) -> None:
    """Collection "photos": version 1 current, version 2 built; each store collection holds the
    same three scenes, their payloads naming the version."""
    scenes = [generate_scene(990_000 + i, 64) for i in range(3)]
    images = torch.stack([search_model.image_input(Image.fromarray(s.rgb)) for s in scenes])
    vectors = dict(search_model.embed_images(images))
    identity = model_identity(search_model)
    with database.session() as session:
        collection = repository.create_collection(session, "photos")
        session.flush()
        first = versions.record_first_version(session, collection, identity)
        second = versions.add_version(session, collection, identity)
        names = {1: first.store_name, 2: second.store_name}
    for number, name in names.items():
        store.ensure_collection(name, [SpaceSpec(s.name, s.dim) for s in search_model.spaces])
        store.upsert(name, [1, 2, 3], vectors, [{"version": number}] * 3)
    store.flush()


def _switch_elsewhere(database: Database, number: int) -> None:
    """Make version ``number`` current from another process, as a worker or the CLI would."""
    url = database.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", SWITCH, url, str(number)], check=True, env=env)


def test_at_most_one_read_per_search_and_a_switch_by_another_process_is_seen_at_once(
    search_model, fresh_store: VectorStore, migrated_database: Database
) -> None:
    """PostgreSQL: one read per search. SQLite: one read after any commit to the file, none
    while nothing was committed (``anyseek.db.changes``); either way a switch is seen at once."""
    _versions(search_model, fresh_store, migrated_database)
    searcher = Searcher(search_model, fresh_store, database=migrated_database)
    query = SearchQuery("photos", (QueryPart("caption", "a red cube"),), k=3)
    reads = _reads(migrated_database)
    kept = migrated_database.engine.dialect.name == "sqlite"

    def versions_seen(after_a_commit: bool) -> set[int]:
        before = len(reads)
        found = searcher.search(query)
        expected = 0 if kept and not after_a_commit else 1  # version, model, watermark: one read
        assert len(reads) - before == expected, reads[before:]
        return {hit.payload["version"] for hit in found.hits}

    assert versions_seen(after_a_commit=True) == {1}
    assert versions_seen(after_a_commit=False) == {1}
    _switch_elsewhere(migrated_database, 2)
    assert versions_seen(after_a_commit=True) == {2}  # the next search is the new version's
    _switch_elsewhere(migrated_database, 1)  # and a rollback's
    assert versions_seen(after_a_commit=True) == {1}
    assert versions_seen(after_a_commit=False) == {1}
    with migrated_database.session() as session:  # this process's own commit, too
        versions.switch(session, "photos", 2)
    assert versions_seen(after_a_commit=True) == {2}


def test_a_newly_indexed_item_moves_the_watermark_at_the_next_search(
    migrated_database: Database,
) -> None:
    """What a kept row names includes the paging snapshot: an item indexed since is in it."""
    resolve = VersionResolver(migrated_database)
    with migrated_database.session() as session:
        collection = repository.create_collection(session, "photos")
        session.flush()
        collection_id = collection.id

    def index(item_id: int) -> None:
        with migrated_database.session() as session:
            row = {"id": item_id, "collection_id": collection_id, "sha256": f"{item_id:064x}"}
            session.execute(
                insert(Item), [{**row, "source_uri": "/a.jpg", "status": ItemStatus.INDEXED}]
            )

    index(1)
    assert resolve("photos").watermark == resolve("photos").watermark == 1
    index(2)
    assert resolve("photos").watermark == 2
    assert resolve("no such collection").store_name == "no such collection"
    assert "no such collection" not in resolve.kept  # names nobody has are not kept
    resolve.close()


@pytest.mark.parametrize("spaces", [1, 2])
def test_the_store_stage_searches_once_per_space_and_retrieves_nothing(
    fresh_store: VectorStore, monkeypatch: pytest.MonkeyPatch, spaces: int
) -> None:
    """Every candidate's score in every space, as brute force gives it, and its payload, from
    one search per space (the hits carry their vectors in the other spaces)."""
    names = ["a", "b"][:spaces]
    rng = np.random.default_rng(3)
    data = {name: rng.normal(size=(60, 8)).astype(np.float32) for name in names}
    fresh_store.ensure_collection("c", [SpaceSpec(name, 8) for name in names])
    fresh_store.upsert("c", list(range(1, 61)), data, [{"n": i} for i in range(1, 61)])
    queries = [SpaceQuery(name, _unit(rng.normal(size=8)), 1 / spaces) for name in names]
    calls = _count_calls(fresh_store, monkeypatch)
    candidates = gather(fresh_store, "c", queries, per_space=10)
    assert calls == Counter({"search": spaces})
    assert len(candidates.ids) >= 10
    for query in queries:
        stored = data[query.name][candidates.ids - 1]
        expected = (stored / np.linalg.norm(stored, axis=1, keepdims=True)) @ query.vector
        np.testing.assert_allclose(candidates.scores[query.name], expected, atol=1e-5)
    assert [candidates.payloads[i]["n"] for i in candidates.ids.tolist()] == candidates.ids.tolist()


def test_a_search_calls_the_store_once_and_a_liked_item_once_more(
    search_model, fresh_store: VectorStore, migrated_database: Database, monkeypatch
) -> None:
    _versions(search_model, fresh_store, migrated_database)
    searcher = Searcher(search_model, fresh_store, database=migrated_database)
    calls = _count_calls(fresh_store, monkeypatch)
    found = searcher.search(SearchQuery("photos", (QueryPart("caption", "a red cube"),), k=3))
    assert calls == Counter({"search": len(search_model.spaces)})
    assert len(found.hits) == 3 and all(hit.payload == {"version": 1} for hit in found.hits)
    assert {"resolve", "transform", "model", "store", "fuse", "page"} <= set(found.timings_ms)
    calls.clear()
    searcher.search(SearchQuery("photos", like=(LikeItem(2),), k=3))
    assert calls == Counter({"search": len(search_model.spaces), "retrieve": 1})


def test_space_weights_are_the_models_fusion_weights() -> None:
    information = {"semantic": 1.7, "layout": 0.4, "none": -0.2}
    weights = {"semantic": 1.0, "layout": 2.5, "none": 1.0}
    found = query_fusion_weights(information, weights)
    expected = fusion_weights({s: torch.tensor([i]) for s, i in information.items()}, weights)
    assert found == pytest.approx({s: float(w[0]) for s, w in expected.items()}, rel=1e-5)
    assert sum(found.values()) == pytest.approx(1.0)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x)).astype(np.float32)


def test_postgres_reads_the_resolve_stages_watermark_from_the_end_of_one_index(
    migrated_database: Database,
) -> None:
    """The resolve statement's watermark is a probe from the newest end of the items index, as
    ``anyseek.search.snapshots``' is (an aggregate over the collection's rows: 170 ms at 1M
    items)."""
    if migrated_database.engine.dialect.name != "postgresql":
        return  # SQLite's indexes end with the row id: the plan question is PostgreSQL's
    with migrated_database.session() as session:
        collection = repository.create_collection(session, "photos")
        session.flush()
        session.execute(
            insert(Item),
            [
                {
                    "id": i,
                    "collection_id": collection.id,
                    "sha256": f"{i:064x}",
                    "source_uri": f"/img/{i}.jpg",
                    "status": ItemStatus.INDEXED if i % 7 else ItemStatus.PENDING,
                }
                for i in range(1, 3004)  # the newest, 3003, still pending
            ],
        )
    plan = items_plan(migrated_database, resolve_statement("photos"))
    assert "Backward" in plan and "Aggregate" not in plan, plan
    assert VersionResolver(migrated_database)("photos").watermark == 3002
