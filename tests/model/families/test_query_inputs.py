"""The built-in model's query transforms and weighted query combinations, on real scene data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anyseek.model.families.combination import CombinationError
from anyseek.model.families.interface import SearchModel
from anyseek.model.families.registry import load_search_model
from anyseek.scenes import SceneSample, generate_scene


@pytest.fixture(scope="module")
def model() -> SearchModel:
    return load_search_model("builtin")


@pytest.fixture(scope="module")
def scene() -> SceneSample:
    return generate_scene(991_234, 64)


def _transform(model: SearchModel, modality: str, value) -> torch.Tensor:
    return model.query_modalities[modality].transform(value)


def test_the_builtin_palette_is_the_scene_classes(model: SearchModel) -> None:
    names = [c.name for c in model.palette.classes]
    assert names == ["background", "floor", "cube", "sphere", "cylinder", "cone", "torus"]


def test_semseg_as_class_ids_or_painted_with_the_palette(
    model: SearchModel, scene: SceneSample, tmp_path: Path
) -> None:
    ids_png = tmp_path / "ids.png"
    Image.fromarray(scene.semseg).save(ids_png)  # greyscale class ids
    indexed = Image.fromarray(scene.semseg, "L").convert("P")
    indexed.putpalette([v for c in model.palette.classes for v in c.color])
    indexed_png = tmp_path / "indexed.png"
    indexed.save(indexed_png)  # indexed PNG, palette = the class colours
    painted = model.palette.colors.astype(np.uint8)[scene.semseg]
    painted_png = tmp_path / "painted.png"
    Image.fromarray(painted).save(painted_png)  # RGB painted with the palette
    want = torch.from_numpy(scene.semseg.astype(np.int64))
    for source in (ids_png, indexed_png, painted_png, painted_png.read_bytes()):
        assert torch.equal(_transform(model, "semseg", source), want)


def test_sketch_in_either_polarity_and_any_size(model: SearchModel, scene: SceneSample) -> None:
    ink = scene.sketch  # 0 paper .. 255 ink
    dark_on_light = Image.fromarray(255 - ink)
    light_on_dark = Image.fromarray(ink)
    first = _transform(model, "sketch", dark_on_light)
    assert torch.equal(first, _transform(model, "sketch", light_on_dark))
    assert first.shape == (1, 64, 64) and set(first.unique().tolist()) == {-1.0, 1.0}
    big = dark_on_light.resize((256, 256), Image.Resampling.NEAREST)
    assert _transform(model, "sketch", big).shape == (1, 64, 64)


def test_depth_as_16_bit_png_or_npy_at_any_scale(
    model: SearchModel, scene: SceneSample, tmp_path: Path
) -> None:
    millimetres = np.round(scene.depth * 1000).astype(np.uint16)
    png = tmp_path / "depth.png"
    Image.fromarray(millimetres).save(png)
    npy = tmp_path / "depth.npy"
    np.save(npy, scene.depth * 3.0)  # another unit: standardisation makes the scale irrelevant
    buffer = io.BytesIO()
    np.save(buffer, scene.depth)
    from_png = _transform(model, "depth", png)
    for other in (npy, buffer.getvalue()):
        torch.testing.assert_close(_transform(model, "depth", other), from_png, atol=2e-3, rtol=0)


def test_weights_of_one_are_the_joint_pass(model: SearchModel, scene: SceneSample) -> None:
    inputs = {
        "caption": _transform(model, "caption", scene.captions[0]),
        "sketch": _transform(model, "sketch", Image.fromarray(scene.sketch)),
    }
    joint = model.embed_query(inputs)
    again = model.embed_query(inputs, {"caption": 1.0, "sketch": 1.0}, "fusion")
    for space in joint:
        np.testing.assert_array_equal(joint[space].vector, again[space].vector)
    for how in ("guidance", "fusion"):
        weighted = model.embed_query(inputs, {"sketch": 0.3}, how)
        assert not np.allclose(weighted["bind"].vector, joint["bind"].vector)
        for found in weighted.values():
            assert np.linalg.norm(found.vector) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(CombinationError, match="positive weight"):
        model.embed_query(inputs, {"caption": -1.0, "sketch": -0.5}, "fusion")
