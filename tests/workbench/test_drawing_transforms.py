"""Drawings in training and evaluation are read exactly as the model reading them declares."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from anyseek.model.builtin.bundle import load_builtin_bundle
from anyseek.model.bundle.declarations import declare
from anyseek.model.bundle.definition import BUILTIN
from anyseek.model.families.builtin import BuiltinSearchModel
from anyseek.workbench.cache import ChunkJob, render_chunk
from anyseek.workbench.drawing_transforms import declared_readers, model_readers

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "model" / "builtin" / "weights"


def test_a_new_bundle_reads_whole_pages_of_drawings_and_crops_other_inputs() -> None:
    inputs = declare(BUILTIN.domains_in(64), []).inputs
    fits = {t.query: dict(t.params).get("fit") for t in inputs.values()}
    assert fits["sketch"] == fits["semseg"] == "stretch"
    assert fits["edges"] == "crop"  # an edge map comes from a photo, cropped like the photo
    readers = declared_readers(64)
    assert readers.sketch.fit == readers.semseg.fit == "stretch"


def test_evaluation_reads_drawings_the_way_the_evaluated_model_does(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    shutil.copytree(BUILTIN_DIR, root)
    manifest = json.loads((root / "bundle.json").read_text())
    for name in ("sketch@64", "semseg@64"):
        manifest["inputs"][name]["params"]["fit"] = "crop"
    (root / "bundle.json").write_text(json.dumps(manifest))
    cropping = model_readers(BuiltinSearchModel(load_builtin_bundle(root)))
    assert cropping.sketch.fit == cropping.semseg.fit == "crop"

    tall = Image.new("L", (40, 80), 255)
    tall.paste(0, (5, 2, 35, 6))  # a stroke near the top: outside the centre square
    stretching = declared_readers(64)
    assert (stretching.sketch(tall)[0] > 0)[:8].any()
    assert not (cropping.sketch(tall)[0] > 0).any()  # the centre square holds no line

    crop_set = render_chunk(ChunkJob(31, 0, 4, 64, ("rough",), cropping))
    stretch_set = render_chunk(ChunkJob(31, 0, 4, 64, ("rough",), stretching))
    assert not np.array_equal(  # the rough person's landscape pages read differently
        crop_set.drawings["rough"].sketch.numpy(), stretch_set.drawings["rough"].sketch.numpy()
    )


def test_a_recipe_s_content_box_reads_training_drawings_as_its_bundle_serves_them() -> None:
    """With ``input_settings`` the training set's sketches (people's and the generator's) come
    from the very transform the bundle declares, and a page without the setting is unchanged."""
    from anyseek.scenes.sample import generate_scene
    from anyseek.scenes.synth import scene_seed
    from anyseek.workbench.drawing_transforms import generator_sketch

    settings = {"sketch": {"content_box": True, "box_margin": 0.06}}
    boxed = declared_readers(64, settings)
    assert boxed.sketch.content_box and not declared_readers(64).sketch.content_box
    assert generator_sketch(declared_readers(64)) is None  # no box: the generator's as before
    declared = declare(BUILTIN.domains_in(64), [], settings=settings)
    assert model_readers_of(declared).sketch == boxed.sketch  # what search will apply

    chunk = render_chunk(ChunkJob(31, 0, 4, 64, ("rough",), boxed))
    plain = render_chunk(ChunkJob(31, 0, 4, 64, ("rough",)))
    sample = generate_scene(scene_seed(31, 2), 64)
    served = boxed.sketch(Image.fromarray(sample.sketch))[0] > 0
    assert np.array_equal(chunk.scenes.sketch[2].numpy(), served.numpy())
    assert not np.array_equal(chunk.scenes.sketch.numpy(), plain.scenes.sketch.numpy())
    for lines in (*chunk.scenes.sketch, *chunk.drawings["rough"].sketch):  # each fills its page
        assert extent(lines) >= 52  # 64 px less two 6 % margins and the stroke ends thinned
    assert torch_equal_rest(chunk, plain)


def extent(lines) -> int:
    """The longer side of the box around a line map's lines, in pixels."""
    sides = [axis.nonzero().flatten() for axis in (lines.any(0), lines.any(1))]
    return max(int(side[-1] - side[0]) + 1 for side in sides)


def model_readers_of(declared) -> object:
    """The readers a bundle of these declarations gives search."""
    from anyseek.model.bundle.declarations import input_transform
    from anyseek.workbench.drawing_transforms import Readers

    read = {t.query: input_transform(t, declared.palette) for t in declared.inputs.values()}
    return Readers(read["sketch"], read["semseg"])


def torch_equal_rest(a, b) -> bool:
    """Everything but the sketches is rendered alike."""
    same = [np.array_equal(getattr(a.scenes, k).numpy(), getattr(b.scenes, k).numpy())
            for k in ("rgb", "depth", "normal", "semseg", "edges")]  # fmt: skip
    return all(same) and np.array_equal(
        a.drawings["rough"].semseg.numpy(), b.drawings["rough"].semseg.numpy()
    )
