"""Export on both stores and both databases: every indexed item with its path, payload, metadata,
vectors and model version, as JSON lines and Parquet; reading it back and importing it into a
fresh collection gives the same vectors, bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scene_gallery import Gallery

from anyseek.db import repository
from anyseek.db.models import Item, ItemStatus
from anyseek.db.session import Database
from anyseek.indexer.collections import attach_model
from anyseek.search.export import export_records, import_records, read_export, write_export
from anyseek.search.stores import SpaceSpec, VectorStore
from anyseek.search.stores.faiss_store import FaissStore
from anyseek.settings import StoreSettings

NAME = "exported"


def _copy_gallery(gallery: Gallery, database: Database, store: VectorStore, n: int) -> list[int]:
    """The gallery's first ``n`` items as an indexed collection: database rows (a pending one too,
    which is not exported) and their stored vectors under the rows' ids."""
    items = gallery.store.retrieve(gallery.collection, gallery.ids[:n], with_vectors=True)
    with database.session() as session:
        collection = repository.create_collection(session, NAME)
        attach_model(session, collection, gallery.model)
        rows = [
            Item(
                collection_id=collection.id,
                sha256=item.payload["sha256"],
                source_uri=item.payload["path"],
                status=ItemStatus.INDEXED,
            )
            for item in items
        ]
        pending = Item(collection_id=collection.id, sha256="f" * 64, source_uri="/x.png")
        session.add_all([*rows, pending])
        session.flush()
        ids = [row.id for row in rows]
    spaces = [SpaceSpec(s.name, s.dim) for s in gallery.model.spaces]
    store.ensure_collection(NAME, spaces)
    vectors = {s.name: np.stack([i.vectors[s.name] for i in items]) for s in spaces}
    store.upsert(NAME, ids, vectors, [i.payload for i in items])
    store.flush()
    return ids


@pytest.mark.parametrize("format", ["jsonl", "parquet"])
def test_export_round_trips_vectors(
    gallery: Gallery,
    migrated_database: Database,
    fresh_store: VectorStore,
    tmp_path: Path,
    format: str,
) -> None:
    if format == "parquet":
        pytest.importorskip("pyarrow", reason="the export extra (pyarrow) is not installed")
    ids = _copy_gallery(gallery, migrated_database, fresh_store, 12)
    path = tmp_path / f"out.{format}"
    records = export_records(migrated_database, fresh_store, NAME, batch=5)
    count = write_export(records, path, format)
    assert count == len(ids)
    records = list(read_export(path))
    assert [r.id for r in records] == ids  # indexed items only, oldest first, across batches
    stored = {i.id: i for i in fresh_store.retrieve(NAME, ids, with_vectors=True)}
    model = f"{gallery.model.name}@{gallery.model.version}"
    for record in records:
        assert record.model == model and record.metadata == {}
        assert record.payload == stored[record.id].payload
        assert record.path == stored[record.id].payload["path"]
        assert set(record.vectors) == {s.name for s in gallery.model.spaces}
        for space, vector in record.vectors.items():
            assert vector.dtype == np.float32
            np.testing.assert_array_equal(vector, stored[record.id].vectors[space])
    again = FaissStore(StoreSettings(path=str(tmp_path / "again")))
    again.ensure_collection("imported", fresh_store.spaces(NAME))
    assert import_records(again, "imported", read_export(path)) == len(ids)
    for item in again.retrieve("imported", ids, with_vectors=True):  # FAISS re-normalises
        assert item.payload == stored[item.id].payload  # Qdrant's unit vectors: within 1 ulp
        for space, vector in item.vectors.items():
            np.testing.assert_allclose(vector, stored[item.id].vectors[space], rtol=0, atol=1e-7)
    again.close()


def test_jsonl_lines_are_self_describing(
    gallery: Gallery, migrated_database: Database, fresh_store: VectorStore, tmp_path: Path
) -> None:
    _copy_gallery(gallery, migrated_database, fresh_store, 2)
    path = tmp_path / "out.jsonl"
    write_export(export_records(migrated_database, fresh_store, NAME), path, "jsonl")
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {
        *("id", "key", "modalities", "parts", "path", "sha256"),
        *("payload", "metadata", "model", "vectors"),
    }
    assert first["modalities"] == ["rgb"] and first["key"] == first["path"]  # a photo's item
    dims = {s.name: s.dim for s in gallery.model.spaces}
    assert {s: len(v) for s, v in first["vectors"].items()} == dims
