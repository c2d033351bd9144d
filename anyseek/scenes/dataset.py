"""On-disk format of a generated scene dataset: writer, manifest and a reader of typed samples.

Layout (see docs/data.md)::

    ROOT/manifest.json                  format, version, size, splits, modalities, class table
    ROOT/<split>/<png modality>/<index>.png ROOT/<split>/<jsonl modality>.jsonl one line per sample:
    {"index": i, "<name>": value} ROOT/<split>/scenes.jsonl one line per sample: seed, scene graph,
    per-object view
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from anyseek.errors import NotFoundError, SettingsError
from anyseek.model.vocabulary.classes import CLASSES
from anyseek.scenes.layout import ObjectView
from anyseek.scenes.modalities import DEPTH_SCALE, MODALITIES
from anyseek.scenes.png import write_png
from anyseek.scenes.sample import SceneSample
from anyseek.scenes.scene import Scene

FORMAT = "anyseek-scenes"
VERSION = 1
MANIFEST = "manifest.json"
SCENES = "scenes"


def file_stem(index: int) -> str:
    """File name (without extension) of sample ``index``."""
    return f"{index:06d}"


def make_split_dirs(split_dir: Path) -> None:
    """Create the per-modality folders of a split."""
    for m in MODALITIES:
        if m.kind == "png":
            (split_dir / m.name).mkdir(parents=True, exist_ok=True)


def write_images(split_dir: Path, index: int, sample: SceneSample) -> None:
    """Write the PNG modalities of one sample."""
    stem = file_stem(index)
    for m in MODALITIES:
        if m.kind == "png":
            write_png(split_dir / m.name / f"{stem}.png", m.encode(sample))


def json_records(index: int, sample: SceneSample) -> dict[str, dict[str, Any]]:
    """The JSON line of each record file (scenes and jsonl modalities) for one sample."""
    out = {
        m.name: {"index": index, m.name: m.encode(sample)} for m in MODALITIES if m.kind == "jsonl"
    }
    out[SCENES] = {
        "index": index,
        "seed": sample.seed,
        "scene": sample.scene.to_dict(),
        "objects": [{k: v for k, v in vars(view).items() if k != "obj"} for view in sample.objects],
    }
    return out


def manifest_dict(size: int, splits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest describing a dataset root."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "size": size,
        "splits": splits,
        "modalities": {m.name: {"kind": m.kind, "description": m.description} for m in MODALITIES},
        "classes": [{"id": cid, "name": name} for cid, name in CLASSES],
        "depth": {"kind": "z", "unit": "metre", "png_scale": DEPTH_SCALE},
        "normals": {"space": "camera", "axes": "x right, y up, z towards the viewer"},
    }


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of a dataset root, or a NotFoundError/SettingsError saying what is wrong."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise NotFoundError(f"{root} is not a scene dataset: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise SettingsError(
            f"{path} describes format {manifest.get('format')!r} version "
            f"{manifest.get('version')!r}; expected {FORMAT!r} version {VERSION}"
        )
    return manifest


def _read_jsonl(path: Path) -> dict[int, dict[str, Any]]:
    """Rows of a JSON-lines file, keyed by their "index"."""
    with path.open() as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return {int(r["index"]): r for r in rows}


class SceneReader:
    """Random access to the samples of one split, as :class:`SceneSample` records."""

    def __init__(self, root: str | Path, split: str = "train") -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        if split not in self.manifest["splits"]:
            known = ", ".join(sorted(self.manifest["splits"])) or "none"
            raise NotFoundError(f"split {split!r} not in {self.root} (splits: {known})")
        self.split = split
        self.dir = self.root / split
        self.count = int(self.manifest["splits"][split]["count"])
        self._records = {
            name: _read_jsonl(self.dir / f"{name}.jsonl")
            for name in [SCENES] + [m.name for m in MODALITIES if m.kind == "jsonl"]
        }

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> SceneSample:
        if not 0 <= index < self.count:
            raise IndexError(f"sample {index} out of range 0..{self.count - 1}")
        fields: dict[str, Any] = {}
        stem = file_stem(index)
        for m in MODALITIES:
            if m.kind == "png":
                with Image.open(self.dir / m.name / f"{stem}.png") as img:
                    fields[m.name] = m.decode(np.asarray(img))
            else:
                fields[m.name] = m.decode(self._records[m.name][index][m.name])
        rec = self._records[SCENES][index]
        scene = Scene.from_dict(rec["scene"])
        views = tuple(ObjectView(obj=scene.objects[v["index"]], **v) for v in rec["objects"])
        return SceneSample(seed=int(rec["seed"]), scene=scene, objects=views, **fields)

    def __iter__(self) -> Iterator[SceneSample]:
        for i in range(self.count):
            yield self[i]
