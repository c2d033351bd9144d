"""A gallery of generated scenes indexed with the real built-in model into a FAISS store.

The indexer (``indexer.run_index``) is written beside this; until it lands, :func:`index_scenes`
fills the store the way it will: rgb embedded with ``embed_images``, the indexer's payload per
item, ids = scene position + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from anyseek.model.families.interface import SearchModel
from anyseek.scenes import SceneSample
from anyseek.search.stores import SpaceSpec, VectorStore

GALLERY_SIZE = 60
COLLECTION = "scenes"
FIRST_SEED = 990_000  # held out: the built-in recipe never trains on these seeds


@dataclass(frozen=True)
class Gallery:
    """The indexed scenes: model, store, collection name, samples and their item ids."""

    model: SearchModel
    store: VectorStore
    collection: str
    scenes: list[SceneSample]
    ids: list[int]


def scene_payload(index: int, sample: SceneSample) -> dict:
    """The payload the indexer writes per item, filled with plausible values."""
    return {
        "path": f"/photos/{'even' if index % 2 == 0 else 'odd'}/scene{index}.png",
        "folder": f"/photos/{'even' if index % 2 == 0 else 'odd'}",
        "ext": "png" if index % 3 else "jpg",
        "bytes": 1000 + 100 * index,
        "width": sample.size,
        "height": sample.size,
        "mtime": 1_700_000_000 + 86_400 * index,
        "sha256": f"{index:064x}",
    }


def index_scenes(
    model: SearchModel, store: VectorStore, collection: str, scenes: list[SceneSample]
) -> list[int]:
    """Embed every scene's rgb and upsert it with its payload; returns the item ids."""
    store.ensure_collection(collection, [SpaceSpec(s.name, s.dim) for s in model.spaces])
    images = torch.stack([model.image_input(Image.fromarray(s.rgb)) for s in scenes])
    vectors = model.embed_images(images)
    ids = list(range(1, len(scenes) + 1))
    payloads = [scene_payload(i, s) for i, s in enumerate(scenes)]
    store.upsert(collection, ids, vectors, payloads)
    store.flush()
    return ids


def as_png(array: np.ndarray, path: Path) -> Path:
    """Save a uint8/uint16 array as a PNG and return its path."""
    from PIL import Image

    Image.fromarray(array).save(path)
    return path
