"""A data directory holding a collection of generated scenes, ready for ``anyseek serve``.

The scenes are written the way the indexer writes them (image file, item record, vectors with
their payload, thumbnail) with the real built-in model, so the served page searches real vectors.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from anyseek.db import migrate
from anyseek.db.models import Item, ItemStatus
from anyseek.db.session import database_for
from anyseek.settings import Settings
from api import catalog
from model.data import SceneSample
from model.families import load_search_model
from search.stores import open_store

COLLECTION = "scenes"
FIRST_SEED = 993_000  # held out from the built-in model's training seeds
GALLERY_SIZE = 24


def png_bytes(array: np.ndarray) -> bytes:
    """An array as PNG bytes."""
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def scene_file(seed: int) -> str:
    """The file name a scene is stored under (the page shows it as the tile's alt text)."""
    return f"scene{seed}.png"


def build_gallery(settings: Settings, scenes: list[SceneSample]) -> dict[int, int]:
    """Create the collection and index the scenes into it; returns {seed: item id}."""
    model = load_search_model(settings.model)
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)
    store = open_store(settings)
    try:
        catalog.create_collection(database, store, model, COLLECTION)
        folder = settings.data_dir / "images" / COLLECTION
        folder.mkdir(parents=True, exist_ok=True)
        records: list[tuple[int, SceneSample, Path, bytes]] = []
        with database.session() as session:
            owner = catalog.repository.get_collection(session, COLLECTION)
            for scene in scenes:
                data = png_bytes(scene.rgb)
                path = folder / scene_file(scene.seed)
                path.write_bytes(data)
                item = Item(
                    collection_id=owner.id,
                    sha256=hashlib.sha256(data).hexdigest(),
                    source_uri=str(path),
                    width=scene.size,
                    height=scene.size,
                    format="png",
                    status=ItemStatus.INDEXED,
                )
                session.add(item)
                session.flush()
                records.append((item.id, scene, path, data))
        images = torch.stack([model.image_input(Image.fromarray(s.rgb)) for s in scenes])
        vectors = model.embed_images(images)
        payloads = [
            {
                "path": str(path),
                "folder": str(path.parent),
                "ext": "png",
                "bytes": len(data),
                "width": scene.size,
                "height": scene.size,
                "mtime": 1_700_000_000 + i,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for i, (_, scene, path, data) in enumerate(records)
        ]
        store.upsert(COLLECTION, [r[0] for r in records], vectors, payloads)
        store.flush()
        for item_id, scene, _, _ in records:
            thumb = catalog.thumbnail_path(settings, COLLECTION, item_id)
            thumb.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(scene.rgb).save(thumb, format="JPEG", quality=92)
        return {scene.seed: item_id for item_id, scene, _, _ in records}
    finally:
        store.close()
        database.dispose()
