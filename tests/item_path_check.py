"""One check every model family's test runs: a photo indexed through the one item path gets the
vectors the gallery pass (``embed_images``) gives it, as it did before photos became items of
one part (issue 70), so a collection indexed before stays searchable with what is indexed now."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from anyseek.indexer.decode import decode_item, decode_limits, open_picture
from anyseek.indexer.fetch import fetch
from anyseek.indexer.sources import SourceRef
from anyseek.model.service import SearchModel, embed_items, item_modalities
from anyseek.settings import IndexerSettings

SEEDS = (70_001, 70_002, 70_003, 70_004)


def check_photos_take_the_gallery_pass(model: SearchModel, folder: Path, side: int = 64) -> None:
    """Photo files (a PNG and JPEGs), fetched, decoded and embedded as the indexer does, around
    another kind of item (a depth map, or a caption), get the rows ``embed_images`` gives the
    same decoded photos in one batch: equal to float tolerance (1e-6) in every space, in
    space-name order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, seed in enumerate(SEEDS):
        path = folder / (f"photo{n}.png" if n == 0 else f"photo{n}.jpg")
        Image.fromarray(_picture(seed, side)).resize((4 * side, 3 * side)).save(path)
        paths.append(path)
    settings = IndexerSettings()
    limits = decode_limits(10**8, 128, model.image_input)
    refs = [SourceRef(str(p), p.name) for p in paths]
    refs.insert(2, _other_item(model, folder, side))
    fetched = [fetch(ref, settings) for ref in refs]
    photos = [f for f in fetched if not f.ref.parts]
    for item, path in zip(photos, paths, strict=True):  # a photo: an item of one part
        data = path.read_bytes()
        assert [p.modality for p in item.parts] == ["rgb"]
        assert item.sha256 == hashlib.sha256(data).hexdigest()  # its hash as ever
    decoded = [decode_item(f, limits, model) for f in fetched]
    rows = embed_items(model, [d.inputs for d in decoded], batch_size=len(decoded))
    pixels = [model.image_input(open_picture(p.read_bytes(), limits).image) for p in paths]
    with torch.inference_mode():
        gallery = model.embed_images(torch.stack(pixels))
    names = sorted(space.name for space in model.spaces)
    expected = np.concatenate([gallery[name] for name in names], axis=1)
    found = np.stack([row for row, f in zip(rows, fetched, strict=True) if not f.ref.parts])
    assert found.dtype == np.float32 and found.shape == expected.shape
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-6)


def _other_item(model: SearchModel, folder: Path, side: int) -> SourceRef:
    """An item of another kind than a photo that the model takes: a depth map, else a caption."""
    if "depth" not in item_modalities(model):
        return SourceRef("caption:1", "caption", parts=(("caption", "a red cube"),))
    depth = folder / "depth.png"
    rows = np.linspace(1.0, 5.0, side, dtype=np.float32)[:, None]  # metres, near at the top
    Image.fromarray((np.repeat(rows, side, axis=1) * 1000).astype(np.uint16)).save(depth)
    return SourceRef(str(depth), depth.name, parts=(("depth", str(depth)),))


def _picture(seed: int, side: int) -> np.ndarray:
    """A photo-like ``[side, side, 3]`` image: smooth gradients and a few boxes of colour, made
    without the scene generator (the open_clip venv has no numba)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    image = np.stack([x, y, 1 - x * y], axis=-1) * rng.uniform(0.3, 1.0, 3)
    for _ in range(4):
        top, left = rng.integers(0, side * 3 // 4, 2)
        size = int(rng.integers(side // 8, side // 3))
        image[top : top + size, left : left + size] = rng.uniform(0, 1, 3)
    return (image * 255).astype(np.uint8)
