"""The renderer: deterministic by seed, and every per-pixel map aligned with the others."""

from __future__ import annotations

import numpy as np
import pytest

from anyseek.model.vocabulary.classes import SHAPE_CLASS
from anyseek.scenes.render import camera_rig, object_centre, project
from anyseek.scenes.sample import generate_batch, generate_scene
from anyseek.scenes.scene import SHAPES, sample_scene

SEEDS = range(12)


@pytest.fixture(scope="module")
def samples():
    """Twelve generated scenes shared by the render tests."""
    return [generate_scene(seed, 64) for seed in SEEDS]


def test_same_seed_same_scene_and_pixels():
    a, b = generate_scene(3, 64), generate_scene(3, 64)
    assert a.scene == b.scene
    for name in ("rgb", "depth", "normals", "semseg", "instance", "edges", "sketch"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.captions == b.captions and a.metadata == b.metadata


def test_different_seeds_differ():
    scenes = [sample_scene(s) for s in range(20)]
    assert len({s.objects for s in scenes}) == 20
    assert len({len(s.objects) for s in scenes}) > 2
    assert {o.shape for s in scenes for o in s.objects} == set(SHAPES)


def test_objects_do_not_overlap_on_the_floor():
    for seed in range(50):
        objs = sample_scene(seed).objects
        for i, a in enumerate(objs):
            for b in objs[i + 1 :]:
                assert np.hypot(a.x - b.x, a.z - b.z) > a.footprint + b.footprint


def test_normals_are_unit_and_face_the_camera(samples):
    for s in samples:
        length = np.linalg.norm(s.normals, axis=-1)
        assert np.allclose(length, 1.0, atol=1e-3)
        assert (s.normals[..., 2] > -0.05).mean() > 0.99  # visible surfaces point at the viewer


def test_semseg_classes_match_visible_shapes(samples):
    for s in samples:
        visible = {SHAPE_CLASS[v.obj.shape] for v in s.objects if v.pixels > 0}
        present = set(np.unique(s.semseg).tolist()) - {0, 1}
        assert present == visible


def test_instance_and_semseg_agree_pixelwise(samples):
    for s in samples:
        lut = np.array([1] + [SHAPE_CLASS[o.shape] for o in s.scene.objects])
        objects = s.instance > 0
        assert np.array_equal(lut[s.instance][objects], s.semseg[objects])
        assert set(np.unique(s.semseg[~objects]).tolist()) <= {0, 1}


def test_depth_discontinuities_lie_on_instance_boundaries(samples):
    checked = 0
    for s in samples:
        tori = [k + 1 for k, o in enumerate(s.scene.objects) if o.shape == "torus"]
        facing = s.normals[..., 2] > 0.35  # a surface seen at a grazing angle changes depth fast
        for axis in (0, 1):
            first = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
            second = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
            d0, d1 = s.depth[first], s.depth[second]
            a, b = s.instance[first], s.instance[second]
            jump = (np.abs(d1 - d0) > 0.08 * np.minimum(d0, d1)) & facing[first] & facing[second]
            self_occluding = np.isin(a, tori) & (a == b)  # a torus may hide part of itself
            assert not (jump & (a == b) & ~self_occluding).any()
            checked += int(jump.sum())
    assert checked > 50  # the check saw real discontinuities


def test_depth_is_z_depth_of_the_scene(samples):
    for s in samples:
        assert s.depth.dtype == np.float32
        assert float(s.depth.min()) > 2.0 and float(s.depth.max()) < 40.0


def test_projected_centres_match_instance_masks():
    for seed in range(30):
        s = generate_scene(seed, 64)
        rig = camera_rig(s.scene)
        for v in s.objects:
            if v.obj.shape != "sphere" or v.pixels < 30:
                continue
            rows, cols = np.nonzero(s.instance == v.index + 1)
            col, row, _ = project(rig, 64, object_centre(v.obj)[None])[0]
            full = np.pi * (v.obj.scale / v.depth / rig.tan_half * 32) ** 2
            if v.pixels > 0.9 * full:  # not occluded: the mask is centred on the projection
                assert abs(cols.mean() + 0.5 - col) < 1.0 and abs(rows.mean() + 0.5 - row) < 1.0


def test_renders_at_224():
    s = generate_scene(5, 224)
    assert s.rgb.shape == (224, 224, 3) and s.depth.shape == (224, 224)
    assert s.sketch.shape == s.edges.shape == s.instance.shape == (224, 224)
    small = generate_scene(5, 64)
    assert s.scene == small.scene
    big_counts = np.bincount(s.instance.ravel(), minlength=8)[1:] / 224**2
    small_counts = np.bincount(small.instance.ravel(), minlength=8)[1:] / 64**2
    assert np.allclose(big_counts, small_counts, atol=0.01)


def test_batched_rendering_matches_one_by_one():
    seeds = [21, 22, 23, 24, 25]
    batch = generate_batch(seeds, 64)
    for seed, b in zip(seeds, batch, strict=True):
        one = generate_scene(seed, 64)
        for name in ("rgb", "depth", "normals", "semseg", "instance", "edges", "sketch"):
            assert np.array_equal(getattr(one, name), getattr(b, name)), (seed, name)
        assert one.captions == b.captions
