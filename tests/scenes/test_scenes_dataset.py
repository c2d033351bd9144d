"""The on-disk format: what synth writes, the reader gives back, aligned and typed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from torch.utils.data import DataLoader

from anyseek.errors import AlreadyExistsError, NotFoundError, SettingsError
from anyseek.scenes.dataset import SceneReader
from anyseek.scenes.modalities import MODALITIES
from anyseek.scenes.sample import generate_scene
from anyseek.scenes.synth import SynthRequest, scene_seed, synthesize
from anyseek.scenes.torch_dataset import GeneratedSceneDataset, SceneDataset, collate_scenes


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A five-scene dataset written once for the module."""
    out = tmp_path_factory.mktemp("scenes")
    synthesize(SynthRequest(out, n=5, size=64, seed=9), progress=False)
    return out


def test_layout_and_manifest(root):
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["size"] == 64 and manifest["splits"]["train"] == {"count": 5, "seed": 9}
    assert {c["name"] for c in manifest["classes"]} >= {"background", "floor", "torus"}
    for m in MODALITIES:
        if m.kind == "png":
            assert len(list((root / "train" / m.name).glob("*.png"))) == 5
        else:
            assert len((root / "train" / f"{m.name}.jsonl").read_text().splitlines()) == 5


def test_round_trip_equals_fresh_generation(root):
    reader = SceneReader(root, "train")
    assert len(reader) == 5
    for i, stored in enumerate(reader):
        fresh = generate_scene(scene_seed(9, i), 64)
        assert stored.scene == fresh.scene and stored.objects == fresh.objects
        for name in ("rgb", "semseg", "instance", "edges", "sketch"):
            assert np.array_equal(getattr(stored, name), getattr(fresh, name)), name
        assert np.abs(stored.depth - fresh.depth).max() <= 0.0006
        assert np.abs(stored.normals - fresh.normals).max() < 0.02
        assert stored.captions == fresh.captions
        assert stored.color_palette == fresh.color_palette
        assert stored.metadata == fresh.metadata


def test_torch_dataset_batches(root):
    loader = DataLoader(SceneDataset(root), batch_size=4, collate_fn=collate_scenes)
    batch = next(iter(loader))
    assert batch.rgb.shape == (4, 3, 64, 64) and batch.depth.shape == (4, 1, 64, 64)
    assert batch.semseg.dtype.is_floating_point is False and len(batch.captions) == 4
    assert float(batch.rgb.min()) >= 0.0 and float(batch.rgb.max()) <= 1.0


def test_generated_dataset_matches_the_files(root):
    generated = GeneratedSceneDataset(5, 64, seed=9)
    stored = SceneReader(root, "train")
    for i in (0, 4):
        assert generated[i].scene == stored[i].scene
        assert np.array_equal(generated[i].instance, stored[i].instance)
    with pytest.raises(IndexError):
        generated[5]
    with pytest.raises(SettingsError):
        GeneratedSceneDataset(0)
    with pytest.raises(SettingsError, match="not supported"):
        GeneratedSceneDataset(3, size=100)


def test_refuses_to_overwrite_and_mixing_sizes(root):
    with pytest.raises(AlreadyExistsError):
        synthesize(SynthRequest(root, n=2, size=64, seed=1), progress=False)
    with pytest.raises(SettingsError, match="64 px"):
        synthesize(SynthRequest(root, n=2, size=96, seed=1, split="val"), progress=False)


def test_second_split_with_workers(root):
    synthesize(SynthRequest(root, n=3, size=64, seed=2, split="val", workers=2), progress=False)
    reader = SceneReader(root, "val")
    assert [s.seed for s in reader] == [scene_seed(2, i) for i in range(3)]
    assert len(SceneReader(root, "train")) == 5


def test_reader_errors(tmp_path, root):
    with pytest.raises(NotFoundError, match="manifest"):
        SceneReader(tmp_path)
    with pytest.raises(NotFoundError, match="split 'test'"):
        SceneReader(root, "test")
