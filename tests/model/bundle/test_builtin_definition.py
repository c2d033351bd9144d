"""One definition of the built-in model feeds training, evaluation, the bundle and search."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model.bundle.declarations import declare, read_declarations
from model.bundle.definition import BUILTIN, QueryInput, Space
from model.bundle.loading import BUILTIN_DIR, BundleError, load_bundle
from model.data.tensors import from_samples, pixel_inputs
from model.eval.retrieval import QUERIES, SPACE_NAMES, definition_queries
from model.families.builtin import BundleSearchModel
from model.fourm.modalities import REGISTRY
from model.train.fm_train import FMTrainConfig
from model.transforms import EdgesTransform, SketchTransform

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = json.loads((BUILTIN_DIR / "bundle.json").read_text())
FM_CONFIG = json.loads((BUILTIN_DIR / "fm" / "config.json").read_text())


def _flow(definition) -> tuple[set[str], set[str], set[str], set[str]]:
    """What a definition gives training (FM inputs, outputs), evaluation and the bundle."""
    fm = FMTrainConfig(resolution=64).fourm_config(definition=definition)
    declared = declare(fm.domains_in, fm.domains_out, definition)
    assert set(declared.inputs) == set(fm.domains_in)
    assert set(declared.space_names) == set(fm.domains_out)
    queries = set(definition_queries(definition))
    return set(fm.domains_in), set(fm.domains_out), queries, set(declared.space_names.values())


def test_one_entry_adds_an_input_or_a_space_everywhere() -> None:
    without = replace(BUILTIN, pixel_inputs=BUILTIN.pixel_inputs[:-1])  # no edges
    grown = replace(without, spaces=(*without.spaces, Space("bind", "tok_imagebind_global")))
    inputs, outputs, queries, names = _flow(without)
    more_inputs, more_outputs, more_queries, more_names = _flow(BUILTIN)
    assert more_inputs - inputs == {"edges@64"} and outputs == more_outputs
    assert more_queries - queries == {"edges"} and names == more_names
    inputs2, outputs2, queries2, names2 = _flow(grown)
    assert outputs2 - outputs == {"tok_imagebind_global"} and names2 - names == {"bind"}
    assert inputs2 == inputs and queries2 == queries


def test_every_modality_has_one_name_the_registrys() -> None:
    assert all(q.base in REGISTRY for q in BUILTIN.inputs)
    assert all(s.output in REGISTRY for s in BUILTIN.spaces)
    assert "normal" in QUERIES and "normals" not in QUERIES
    assert QUERIES["caption+sketch"] == ("caption", "sketch")
    assert SPACE_NAMES == {"clip": "tok_clip_global", "dino": "tok_dino_global"}
    assert FMTrainConfig(resolution=64).fourm_config().domains_in == tuple(FM_CONFIG["domains_in"])


def test_the_committed_bundle_declares_exactly_the_definitions_transforms() -> None:
    """What the committed bundle.json says is what a bundle without the keys falls back to and
    what the export writes for its FM."""
    legacy = {k: v for k, v in COMMITTED.items() if k not in ("inputs", "palette", "space_names")}
    args = (FM_CONFIG["domains_in"], FM_CONFIG["domains_out"])
    assert read_declarations(COMMITTED, *args) == read_declarations(legacy, *args)
    assert read_declarations(COMMITTED, *args) == declare(*args)
    assert COMMITTED["inputs"]["semseg@64"]["transform"] == "palette_semseg"
    assert COMMITTED["space_names"] == {"tok_clip_global": "clip", "tok_dino_global": "dino"}


def test_the_fallback_palette_loads_without_the_scene_renderer() -> None:
    """A bundle without a palette gets the scene classes' one; the service (no ``scenes`` extra,
    so no numba or scipy) must be able to build it, so it may not load the renderer."""
    renderer = ("numba", "scipy", "model.data.render", "model.data.sample")
    code = (
        "import sys\n"
        "from model.bundle.definition import builtin_palette\n"
        "assert len(builtin_palette().classes) == 7\n"
        f"print([m for m in {renderer!r} if m in sys.modules])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_declared_transforms_turn_scene_files_into_the_training_tensors() -> None:
    """The bundle's transforms, fed a scene's files, give exactly what training saw."""
    from model.data.sample import generate_scene

    sample = generate_scene(424_242, 64)
    scenes = from_samples([sample])
    declared = read_declarations(COMMITTED, FM_CONFIG["domains_in"], FM_CONFIG["domains_out"])
    files = {
        "rgb": Image.fromarray(sample.rgb),
        "depth": sample.depth,
        "normal": Image.fromarray(sample.normals_rgb),
        "semseg": Image.fromarray(sample.semseg),
        "sketch": Image.fromarray(sample.sketch),
        "edges": Image.fromarray(sample.edges),
    }
    from model.bundle.declarations import input_transform

    for name in BUILTIN.pixel_modalities(64):
        trained = pixel_inputs(scenes, torch.tensor([0]), [name])[name][0]
        transform = input_transform(declared.inputs[name], declared.palette)
        served = transform(files[name.split("@")[0]])
        torch.testing.assert_close(served.to(trained.dtype), trained, atol=2e-2, rtol=0)


def _copy(tmp_path: Path, change) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(BUILTIN_DIR, root)
    manifest = json.loads((root / "bundle.json").read_text())
    change(manifest)
    (root / "bundle.json").write_text(json.dumps(manifest))
    return root


def test_the_search_model_applies_what_the_bundle_declares(tmp_path: Path) -> None:
    def change(manifest: dict) -> None:
        manifest["inputs"]["sketch@64"]["params"] |= {"thin": False, "line_width": 2}
        manifest["inputs"]["edges@64"]["params"]["polarity"] = "light_lines"
        cube, sphere = manifest["palette"][2], manifest["palette"][3]
        cube["color"], sphere["color"] = sphere["color"], cube["color"]
        manifest["space_names"]["tok_dino_global"] = "layout"

    model = BundleSearchModel(load_bundle(_copy(tmp_path, change)))
    sketch = model.query_modalities["sketch"].transform
    assert sketch == SketchTransform(size=64, thin=False, line_width=2)
    edges = model.query_modalities["edges"].transform
    assert edges == EdgesTransform(size=64, polarity="light_lines")
    assert {s.name for s in model.spaces} == {"clip", "layout"}
    assert model.palette.classes[2].color == (60, 180, 75)
    painted = np.zeros((64, 64, 3), np.uint8) + np.uint8([40, 40, 48])
    painted[:32] = (60, 180, 75)  # the colour the bundle now gives the cube
    ids = model.query_modalities["semseg"].transform(Image.fromarray(painted))
    assert set(ids[:32].unique().tolist()) == {2} and set(ids[32:].unique().tolist()) == {0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["inputs"]["sketch@64"].update(transform="crayon"), "sketch@64.*crayon"),
        (lambda m: m["inputs"]["depth@64"]["params"].update(gamma=2), "depth@64.*gamma"),
        (lambda m: m["inputs"]["rgb@64"]["params"].update(size=0), "rgb@64"),
        (lambda m: m["inputs"].pop("edges@64"), "edges@64"),
        (lambda m: m["space_names"].pop("tok_clip_global"), "tok_clip_global"),
        (lambda m: m.update(palette=[{"id": 0, "name": "x"}]), "declarations"),
    ],
)
def test_declarations_that_do_not_fit_are_named(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        load_bundle(_copy(tmp_path, change))


def test_an_undefined_input_falls_back_to_its_own_transform() -> None:
    assert BUILTIN.query_input("depth") == QueryInput("depth")
    assert BUILTIN.query_input("rgb").query_name == "image"
    assert BUILTIN.short_name("tok_imagebind_global") == "imagebind"
