"""The service imports nothing that only an extra installs: ``pip install anyseek`` serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from anyseek.cli.extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
SERVICE = (
    "anyseek.api.app",
    "anyseek.indexer",
    "anyseek.search.searcher",
    "anyseek.workers.tasks",
    "anyseek.model.service",
    "anyseek.cli",
)
# scipy is in [scenes] because the generator imports it, but scikit-image (core) installs it too
ONLY_IN_EXTRAS = sorted({m for e in EXTRAS.values() for m in e.modules.values()} - {"scipy"})


def test_the_service_modules_import_no_module_of_an_extra() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {SERVICE!r}: importlib.import_module(name)\n"
        "names = {m.removeprefix('anyseek.').split('.')[0] for m in sys.modules}\n"
        "print(json.dumps(sorted(names)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert {"api", "torch", "fastapi"} <= loaded  # the imports did run
    assert not loaded & set(ONLY_IN_EXTRAS), sorted(loaded & set(ONLY_IN_EXTRAS))
    assert "scenes" not in loaded  # the scene world is training's and the demo's


def test_a_serving_process_loads_no_training_code_even_after_a_search() -> None:
    code = (
        "import json, sys\n"
        "from PIL import Image\n"
        "from anyseek.model.service import load_search_model\n"
        "model = load_search_model('builtin')\n"
        "model.embed_images(model.image_input(Image.new('RGB', (64, 64), 'red'))[None])\n"
        "sketch = Image.new('L', (64, 64), 255)\n"
        "sketch.paste(0, (10, 10, 50, 12))\n"
        "q = {'caption': model.query_modalities['caption'].transform('a red cube'),\n"
        "     'sketch': model.query_modalities['sketch'].transform(sketch)}\n"
        "model.embed_query(q)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    training = [
        m
        for m in loaded
        if m.split(".")[0] in ("workbench", "scenes") or m.startswith(("model.train", "model.eval"))
    ]
    assert "anyseek.model.builtin.network" in loaded and not training, training
