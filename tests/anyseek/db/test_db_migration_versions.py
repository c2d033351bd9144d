"""Migration 0006 on a database indexed before versions: every indexed collection gets version 1
(its model, the store collection named like it, current) and answers searches as before, on
SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from anyseek.db import migrate, versions
from anyseek.db.session import Database
from anyseek.indexer import run_index
from anyseek.scenes import generate_scene
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.query import QueryPart, SearchQuery
from anyseek.search.searcher import Searcher
from anyseek.search.stores import open_store
from anyseek.settings import Settings

BEFORE_VERSIONS = "0005"
CAPTIONS = ("a red cube", "a blue sphere and a green cone")


def answers(settings: Settings, database: Database, model) -> dict[str, tuple]:
    """Per caption: the answering model and the (id, score) hits over collection ``scenes``."""
    store = open_store(settings)
    try:
        registry = ModelRegistry(settings.model, default=model)
        searcher = Searcher(model, store, settings.search, database=database, registry=registry)
        found = {}
        for caption in CAPTIONS:
            result = searcher.search(SearchQuery("scenes", (QueryPart("caption", caption),), k=4))
            hits = tuple((h.id, round(h.score, 6)) for h in result.hits)
            found[caption] = (result.model["name"], result.model["version"], hits)
        return found
    finally:
        store.close()


def test_0006_records_version_1_of_collections_indexed_before_it(
    empty_database: Database, database_url: str, settings: Settings, search_model, tmp_path
) -> None:
    from PIL import Image

    settings = settings.model_copy(
        update={
            "database_url": database_url,
            "model": settings.model.model_copy(update={"device": "cpu"}),
        }
    )
    migrate.upgrade(empty_database)
    images = tmp_path / "images"
    images.mkdir()
    for seed in range(6):
        Image.fromarray(generate_scene(seed, 64).rgb).save(images / f"scene{seed}.png")
    assert run_index(settings, "scenes", images, model=search_model).done == 6
    before = answers(settings, empty_database, search_model)
    # back to the schema before versions: items, spaces and the collection's model stay as they
    # were then (0006's downgrade drops only what it added); one collection never indexed
    migrate.downgrade(empty_database, BEFORE_VERSIONS)
    with empty_database.engine.begin() as connection:
        assert "collection_versions" not in sa.inspect(connection).get_table_names()
        connection.exec_driver_sql(
            "INSERT INTO collections (name, created_at) VALUES ('empty', CURRENT_TIMESTAMP)"
        )
        rows = connection.exec_driver_sql(
            "SELECT name, model_name, model_version FROM collections ORDER BY name"
        ).all()
        items = connection.exec_driver_sql("SELECT count(*) FROM items").scalar()
    assert [tuple(r) for r in rows] == [
        ("empty", None, None),
        ("scenes", search_model.name, search_model.version),
    ]
    assert items == 6

    assert migrate.upgrade(empty_database).is_current

    with empty_database.session() as session:
        (first,) = versions.describe(session, "scenes")
        assert versions.describe(session, "empty") == []
    assert (first.number, first.current, first.store_name, first.status) == (
        1,
        True,
        "scenes",
        "ready",
    )
    assert first.model == f"{search_model.name}@{search_model.version}"
    assert first.model_source is None
    assert answers(settings, empty_database, search_model) == before
