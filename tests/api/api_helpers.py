"""API test helpers: the real built-in model, a FAISS store and an SQLite database in a tmp folder,
and a collection of generated scenes written the way the indexer writes them (record + vectors +
payload + thumbnail), served by ``create_app`` through a TestClient; and ``anyseek serve`` as a
real process (:func:`start_serve`)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from fastapi.testclient import TestClient
from PIL import Image
from server_process import ANYSEEK, HTTP, free_port, start_server  # noqa: F401 (re-exported)

from anyseek.api import catalog
from anyseek.db import migrate
from anyseek.db.models import Item, ItemStatus
from anyseek.db.session import Database, database_for
from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample
from anyseek.search.searcher import Searcher
from anyseek.search.snapshots import CollectionWatermark
from anyseek.search.stores import VectorStore, open_store
from anyseek.settings import Settings, load_settings

COLLECTION = "scenes"
FIRST_SEED = 991_000  # held out from the built-in model's training seeds
GALLERY_SIZE = 24
KEY = "test-key-1"


@dataclass
class Served:
    """An app under test and what it serves."""

    client: TestClient
    settings: Settings
    database: Database
    store: VectorStore
    scenes: list[SceneSample]
    ids: list[int]


def settings_from_args(**values: object) -> Settings:
    """``load_settings`` from nothing but arguments (the developer's ANYSEEK_* variables set
    aside while it reads the environment)."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("ANYSEEK_")}
    try:
        return load_settings(**values)
    finally:
        os.environ.update(saved)


def api_settings(data_dir: Path, **api: object) -> Settings:
    """Settings from nothing but arguments (the developer's ANYSEEK_* variables ignored)."""
    return settings_from_args(
        data_dir=data_dir,
        store={"path": str(data_dir / "faiss"), "exact_threshold": 100_000},
        api={"batch_wait_ms": 1.0, **api},
        indexer={"allowed_roots": [str(data_dir / "allowed")], "flush_interval_s": 0},
    )


def png_bytes(array: np.ndarray) -> bytes:
    """An array as PNG bytes."""
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def add_scenes(
    settings: Settings,
    database: Database,
    store: VectorStore,
    model: SearchModel,
    collection: str,
    scenes: list[SceneSample],
) -> list[int]:
    """Write scenes as the indexer does: PNG file, item record, vectors + payload, thumbnail."""
    folder = settings.data_dir / "images" / collection
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    with database.session() as session:
        owner = catalog.repository.get_collection(session, collection)
        for i, scene in enumerate(scenes):
            data = png_bytes(scene.rgb)
            path = folder / f"scene{scene.seed}.png"
            path.write_bytes(data)
            item = Item(
                collection_id=owner.id,
                sha256=hashlib.sha256(data).hexdigest(),
                source_uri=str(path),
                width=scene.rgb.shape[1],
                height=scene.rgb.shape[0],
                format="png",
                status=ItemStatus.INDEXED,
            )
            session.add(item)
            session.flush()
            records.append((item.id, i, path, len(data), item.sha256))
    images = torch.stack([model.image_input(Image.fromarray(s.rgb)) for s in scenes])
    vectors = model.embed_images(images)
    ids = [r[0] for r in records]
    payloads = [
        {
            "path": str(path),
            "folder": str(path.parent),
            "ext": "png",
            "bytes": size,
            "width": 64,
            "height": 64,
            "mtime": 1_700_000_000 + i,
            "sha256": sha,
        }
        for _, i, path, size, sha in records
    ]
    store.upsert(collection, ids, vectors, payloads)
    store.flush()
    for item_id, i, *_ in records:
        thumb = catalog.thumbnail_path(settings, collection, item_id)
        thumb.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scenes[i].rgb).save(thumb, format="JPEG")
    return ids


def prepare(
    data_dir: Path, model: SearchModel, scenes: list[SceneSample], **api: object
) -> tuple[Settings, Database, VectorStore, list[int]]:
    """Settings, a migrated database and a store holding the scenes collection."""
    settings = api_settings(data_dir, **api)
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    store = open_store(settings)
    with database.session() as session:
        catalog.create_collection(session, store, model, COLLECTION)
    ids = add_scenes(settings, database, store, model, COLLECTION, scenes)
    return settings, database, store, ids


def serve(
    data_dir: Path, model: SearchModel, scenes: list[SceneSample], **api: object
) -> Iterator[Served]:
    """A served app (TestClient) over a fresh database and store holding the scenes collection."""
    from anyseek.api.app import create_app

    settings, database, store, ids = prepare(data_dir, model, scenes, **api)
    snapshot = CollectionWatermark(database)  # as open_searcher wires it: paging snapshots
    searcher = Searcher(
        model, store, settings.search, settings.api.max_query_pixels, snapshot=snapshot
    )
    app = create_app(settings, searcher=searcher, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Served(client, settings, database, store, list(scenes), ids)
    store.close()
    database.dispose()


def migrated_data_dir(folder: Path) -> Path:
    """``folder/data`` holding a migrated metadata database, for a server process to start on."""
    data_dir = folder / "data"
    database = database_for(api_settings(data_dir), create_dirs=True)
    migrate.upgrade(database)
    database.dispose()
    return data_dir


def start_serve(
    data_dir: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """``anyseek serve`` on ``data_dir`` (its store in ``data_dir/faiss``, plus ``env``), once
    ``/readyz`` answers 200 (tests/server_process.py starts it)."""
    settings_env = {
        "ANYSEEK_DATA_DIR": str(data_dir),
        "ANYSEEK_STORE__PATH": str(data_dir / "faiss"),
    }
    return start_server(settings_env | (env or {}), port, log)
