"""Drawings in training and evaluation are read exactly as the model reading them declares."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from model.builtin.bundle import load_builtin_bundle
from model.bundle.declarations import declare
from model.bundle.definition import BUILTIN
from model.families.builtin import BuiltinSearchModel
from workbench.cache import ChunkJob, render_chunk
from workbench.readers import declared_readers, model_readers

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
