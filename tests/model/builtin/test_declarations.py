"""What the committed built-in bundle declares is what training fed and what search applies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anyseek.model.builtin.bundle import BuiltinBundleError, load_builtin_bundle
from anyseek.model.bundle.declarations import input_transform
from anyseek.model.bundle.files import BUILTIN_DIR
from anyseek.model.families.builtin import BuiltinSearchModel
from anyseek.model.transforms import EdgesTransform, SketchTransform
from anyseek.scenes.tensors import from_samples, pixel_inputs

ROOT = Path(__file__).resolve().parents[3]


def test_the_palette_loads_without_the_scene_renderer() -> None:
    """The service (no ``scenes`` extra: no numba or scipy) builds the scene classes' palette
    without loading the renderer."""
    renderer = ("numba", "scipy", "anyseek.scenes.render", "anyseek.scenes.sample")
    code = (
        "import sys\n"
        "from anyseek.model.bundle.definition import builtin_palette\n"
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
    """The committed bundle's transforms, fed a scene's files, give exactly what training saw."""
    from anyseek.scenes.sample import generate_scene

    sample = generate_scene(424_242, 64)
    scenes = from_samples([sample])
    declared = load_builtin_bundle("builtin").declarations
    files = {
        "rgb": Image.fromarray(sample.rgb),
        "depth": sample.depth,
        "normal": Image.fromarray(sample.normals_rgb),
        "semseg": Image.fromarray(sample.semseg),
        "sketch": Image.fromarray(sample.sketch),
        "edges": Image.fromarray(sample.edges),
    }
    for base, value in files.items():
        name = f"{base}@64"
        trained = pixel_inputs(scenes, torch.tensor([0]), [name])[name][0]
        served = input_transform(declared.inputs[name], declared.palette)(value)
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
        manifest["space_names"]["bind_global"] = "scene"

    model = BuiltinSearchModel(load_builtin_bundle(_copy(tmp_path, change)))
    assert model.query_modalities["sketch"].transform == SketchTransform(
        size=64, thin=False, line_width=2, fit="stretch"
    )
    edges = model.query_modalities["edges"].transform
    assert edges == EdgesTransform(size=64, polarity="light_lines")
    assert [s.name for s in model.spaces] == ["scene"]
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
        (lambda m: m["space_names"].update(tok_x="x"), "tok_x"),
        (lambda m: m.update(palette=[{"id": 0, "name": "x"}]), "declarations"),
    ],
)
def test_declarations_that_do_not_fit_are_named(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(BuiltinBundleError, match=message):
        load_builtin_bundle(_copy(tmp_path, change))


def _wide_page() -> Image.Image:
    """A cube, a ball and a horizon on a landscape page."""
    from PIL import ImageDraw

    page = Image.new("L", (300, 160), 255)
    pen = ImageDraw.Draw(page)
    pen.rectangle((40, 30, 110, 100), outline=0, width=5)
    pen.ellipse((150, 50, 230, 130), outline=0, width=4)
    pen.line((0, 120, 299, 125), fill=0, width=3)
    return page


def test_a_bundle_that_declares_no_content_box_reads_drawings_as_before() -> None:
    """The committed bundle (its sketches read from the page, no content box) reads a sketch and an
    edge map bit for bit as the transforms did before it: the digests were taken of that code."""
    import hashlib

    declared = load_builtin_bundle("builtin").declarations
    digests = {"sketch@64": "c0cfb7455c8c795c", "edges@64": "91270bfad9684541"}
    for name, digest in digests.items():
        assert not dict(declared.inputs[name].params).get("content_box", False)
        transform = input_transform(declared.inputs[name], declared.palette)
        assert transform.content_box is False
        out = transform(_wide_page()).numpy().tobytes()
        assert hashlib.sha256(out).hexdigest()[:16] == digest


def test_a_content_box_is_declared_and_read_back(tmp_path: Path) -> None:
    """A bundle saved with a recipe's input settings declares them in ``bundle.json`` and the
    search model reads its sketches with them; other inputs are as the definition says."""
    from anyseek.model.builtin.bundle import save_builtin_bundle
    from anyseek.model.builtin.network import BuiltinConfig, BuiltinModel
    from anyseek.model.builtin.text import WordVocab
    from anyseek.model.bundle.declarations import declare
    from anyseek.model.bundle.definition import BUILTIN

    config = BuiltinConfig.load(Path("tiny"))
    vocab = WordVocab(("a", "red", "cube"), buckets=config.text_buckets)
    settings = {"sketch": {"content_box": True, "box_margin": 0.1}}
    root = save_builtin_bundle(tmp_path / "b", BuiltinModel(config), vocab, None, settings)
    params = json.loads((root / "bundle.json").read_text())["inputs"]["sketch@64"]["params"]
    assert params["content_box"] is True and params["box_margin"] == 0.1
    assert params["fit"] == "stretch" and params["thin"] is True  # the definition's own
    model = BuiltinSearchModel(load_builtin_bundle(root))
    sketch = model.query_modalities["sketch"].transform
    assert sketch == SketchTransform(size=64, fit="stretch", content_box=True, box_margin=0.1)
    assert model.query_modalities["edges"].transform == EdgesTransform(size=64)
    plain = declare(BUILTIN.domains_in(64), [])
    assert dict(plain.inputs["sketch@64"].params)["content_box"] is False
    with pytest.raises(ValueError, match="unknown inputs"):
        declare(BUILTIN.domains_in(64), [], settings={"paint": {"content_box": True}})
