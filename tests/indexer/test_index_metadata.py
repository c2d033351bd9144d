"""User metadata through the indexer: from a metadata file, a sidecar and an upload, edited through
the outbox, filtered by name; on FAISS and Qdrant, SQLite and PostgreSQL, crashes included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from indexing_images import scene_png, write_good_images

from anyseek.db import repository
from anyseek.db.migrate import session_for
from anyseek.db.models import Item, PendingMetadata
from anyseek.db.session import database_for
from anyseek.indexer import Upload, index_uploads, run_index
from anyseek.indexer import metadata as item_metadata
from anyseek.indexer.errors import SourceError
from anyseek.indexer.outbox import apply_metadata
from anyseek.search.fields import FilterSpec, MetadataError, UnknownFieldError, resolve_filter
from anyseek.search.stores import open_store

COLLECTION = "meta"


def _items(settings) -> dict[str, Item]:
    """The collection's items by file name."""
    database = database_for(settings)
    try:
        with database.session() as session:
            rows = session.query(Item).all()
            session.expunge_all()
            return {Path(r.source_uri).name: r for r in rows}
    finally:
        database.dispose()


def _search(store, settings, spec: FilterSpec) -> set[int]:
    """Ids of every item the filter lets through (all of a tiny collection)."""
    with session_for(settings) as session:
        owner = repository.get_collection(session, COLLECTION)
        registry = repository.field_registry(session, owner.id)
    space = store.spaces(COLLECTION)[0]
    query = np.ones(space.dim, np.float32)
    [result] = store.search(
        COLLECTION, space.name, query, k=50, filter=resolve_filter(spec, registry)
    )
    return set(result.ids)


def test_metadata_from_file_sidecar_and_upload_then_edit_and_filter(
    paired_settings, search_model, tmp_path: Path
) -> None:
    write_good_images(tmp_path / "src", 4)  # scene0, sub/scene1, scene2, sub/scene3
    sheet = tmp_path / "meta.csv"
    sheet.write_text(
        'path,price,sold,tags,taken\nscene0.png,12.0,true,"[""red"",""big""]",2024-03-05\n'
        "sub/scene1.png,40,false,[],2024-07-01T10:00:00+02:00\nnowhere.png,1,true,,\n"
    )
    (tmp_path / "src" / "scene2.png.json").write_text(json.dumps({"price": 7, "note": "side"}))
    table = item_metadata.read_metadata_file(sheet)
    store = open_store(paired_settings)
    try:
        report = run_index(
            paired_settings,
            COLLECTION,
            tmp_path / "src",
            model=search_model,
            store=store,
            metadata=table,
        )
        assert report.done == 4 and report.failed == 0
        upload = Upload("up.png", scene_png(99), {"price": 3, "tags": ["red"]})
        index_uploads(paired_settings, COLLECTION, [upload], model=search_model, store=store)
        items = _items(paired_settings)
        ids = {name: item.id for name, item in items.items()}
        assert items["scene0.png"].meta == {
            "price": 12,
            "sold": True,
            "tags": ["red", "big"],
            "taken": "2024-03-05T00:00:00Z",
        }
        assert items["scene1.png"].meta["taken"] == "2024-07-01T08:00:00Z"  # UTC
        assert items["scene2.png"].meta == {"price": 7, "note": "side"}  # sidecar
        assert items["scene3.png"].meta is None
        assert items["up.png"].meta == {"price": 3, "tags": ["red"]}
        [stored] = store.retrieve(COLLECTION, [ids["scene0.png"]], with_vectors=False)
        assert stored.payload["metadata"] == items["scene0.png"].meta
        assert stored.payload["path"] == "scene0.png"  # the indexer's fields stay

        cheap = FilterSpec(ranges={"price": (None, 10)})
        assert _search(store, paired_settings, cheap) == {ids["scene2.png"], ids["up.png"]}
        red = FilterSpec(any_of={"tags": ["red"]})
        assert _search(store, paired_settings, red) == {ids["scene0.png"], ids["up.png"]}
        spring = FilterSpec(ranges={"taken": ("2024-03-01", "2024-03-31")})
        assert _search(store, paired_settings, spring) == {ids["scene0.png"]}
        assert _search(store, paired_settings, FilterSpec(exists=["note"])) == {ids["scene2.png"]}
        sold = FilterSpec(equals={"sold": True, "folder": ""})
        assert _search(store, paired_settings, sold) == {ids["scene0.png"]}

        database = database_for(paired_settings)
        try:
            with database.session() as session:  # PATCH: merge, null removes a key
                item_metadata.edit(
                    session, COLLECTION, ids["scene3.png"], {"price": 1, "note": "now"}
                )
                item_metadata.edit(session, COLLECTION, ids["scene2.png"], {"note": None})
            assert apply_metadata(database, store, COLLECTION) == 2
            with database.session() as session:
                assert session.query(PendingMetadata).count() == 0
                with pytest.raises(MetadataError, match="number values"):
                    item_metadata.edit(session, COLLECTION, ids["scene3.png"], {"price": "x"})
        finally:
            database.dispose()
        assert _search(store, paired_settings, cheap) == {
            ids["scene2.png"],
            ids["scene3.png"],
            ids["up.png"],
        }
        assert _search(store, paired_settings, FilterSpec(exists=["note"])) == {ids["scene3.png"]}
        with pytest.raises(UnknownFieldError, match=r"'colour'.*price \(number\)"):
            _search(store, paired_settings, FilterSpec(equals={"colour": "red"}))
    finally:
        store.close()


def test_a_crash_between_store_and_database_leaves_them_consistent(
    paired_settings, search_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_good_images(tmp_path / "src", 2)
    store = open_store(paired_settings)
    database = database_for(paired_settings)
    try:
        run_index(paired_settings, COLLECTION, tmp_path / "src", model=search_model, store=store)
        item_id = _items(paired_settings)["scene0.png"].id
        with database.session() as session:  # crash 1: committed, never applied
            item_metadata.edit(session, COLLECTION, item_id, {"price": 5})
        with database.session() as session:
            assert session.query(PendingMetadata).count() == 1

        real_execute = type(session).execute

        def crash_on_delete(self, statement, *args, **kwargs):  # crash 2: store written, row kept
            if "DELETE" in str(statement).upper() and "pending_metadata" in str(statement):
                raise RuntimeError("killed after the store write")
            return real_execute(self, statement, *args, **kwargs)

        monkeypatch.setattr(type(session), "execute", crash_on_delete)
        with pytest.raises(RuntimeError, match="killed"):
            apply_metadata(database, store, COLLECTION)
        monkeypatch.undo()
        with database.session() as session:  # an edit after the crash, before the retry
            item_metadata.edit(session, COLLECTION, item_id, {"price": 6})
        assert apply_metadata(database, store, COLLECTION) == 1  # the retry applies the newest
        with database.session() as session:
            assert session.query(PendingMetadata).count() == 0
            assert session.get(Item, item_id).meta == {"price": 6}
        [stored] = store.retrieve(COLLECTION, [item_id], with_vectors=False)
        assert stored.payload["metadata"] == {"price": 6}
    finally:
        database.dispose()
        store.close()


def test_bad_metadata_is_a_clear_error_or_an_item_failure(
    paired_settings, search_model, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"path": "a.png", "price": 1}\n{"path": "b.png", "path2": {"x": 1}}\n')
    with pytest.raises(SourceError, match=r"bad.jsonl:2: .*'path2'"):
        item_metadata.read_metadata_file(bad)
    reserved = tmp_path / "reserved.jsonl"
    reserved.write_text('{"path": "a.png", "width": 3}\n')
    with pytest.raises(SourceError, match="recorded by the indexer"):
        item_metadata.read_metadata_file(reserved)
    write_good_images(tmp_path / "src", 2)
    (tmp_path / "src" / "scene0.json").write_text('{"price": "free"}')
    (tmp_path / "src" / "sub").mkdir(exist_ok=True)
    (tmp_path / "src" / "sub" / "scene1.json").write_text('{"price": 2}')
    store = open_store(paired_settings)
    try:
        report = run_index(
            paired_settings, COLLECTION, tmp_path / "src", model=search_model, store=store
        )
    finally:
        store.close()
    assert report.done + report.failed == 2  # scene0 first: "free" registers price as string
    assert report.failed == 1 and "metadata" in report.failures[0][1]
