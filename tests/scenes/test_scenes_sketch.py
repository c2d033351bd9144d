"""The sketch follows the geometry like a hand drawing: near outlines, but not a copy of edges."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation

from anyseek.scenes.render import camera_rig, render
from anyseek.scenes.sample import generate_scene
from anyseek.scenes.scene import sample_scene
from anyseek.scenes.sketch import STYLES, draw_sketch


def _outlines(instance: np.ndarray) -> np.ndarray:
    """Pixels whose instance id differs from a neighbour's."""
    edge = np.zeros_like(instance, dtype=bool)
    edge[:, 1:] |= instance[:, 1:] != instance[:, :-1]
    edge[1:] |= instance[1:] != instance[:-1]
    return edge


def test_sketch_is_not_the_edge_map():
    for seed in range(8):
        s = generate_scene(seed, 64)
        ink, edges = s.sketch > 64, s.edges > 0
        assert ink.any()
        union = (ink | edges).sum()
        assert (ink & edges).sum() / union < 0.6


def test_sketch_ink_follows_object_outlines():
    for seed in range(8):
        s = generate_scene(seed, 64)
        near = binary_dilation(_outlines(s.instance) | (s.semseg == 0), iterations=3)
        near |= s.instance > 0  # creases are drawn inside objects
        ink = s.sketch > 96
        assert ink[near].sum() / max(ink.sum(), 1) > 0.9


def test_styles_look_different_and_strokes_are_jittered():
    scene = sample_scene(11)
    rendered = render(scene, 64)
    rig = camera_rig(scene)
    drawings = [draw_sketch(scene, rendered, rig, style) for style in STYLES]
    ink = [float(d.astype(np.float32).sum()) for d in drawings]
    assert max(ink) > 1.3 * min(ink)  # marker vs pencil
    perfect = _outlines(rendered.instance)
    for d in drawings:  # a hand never lands exactly on the outline everywhere
        strokes = d > 96
        assert (strokes & ~binary_dilation(perfect)).any()


def test_sketch_is_deterministic():
    a = generate_scene(4, 64).sketch
    assert np.array_equal(a, generate_scene(4, 64).sketch)
