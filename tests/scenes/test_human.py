"""The drawing model of people (``anyseek.scenes.human``): rough but faithful sketches, paintings
and
captions of a scene, reproducible from its seed, with every roughness knob doing what it says."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from anyseek.model.vocabulary.classes import CLASS_COLOURS, FLOOR, SHAPE_CLASS
from anyseek.model.vocabulary.synonyms import canonical_caption
from anyseek.scenes import generate_scene
from anyseek.scenes.human import HumanStyle, draw_human_queries
from anyseek.scenes.tensors import scene_facts
from anyseek.workbench.metrics import caption_facts, satisfies

SEEDS = [777_001 + i for i in range(8)]
EXACT = HumanStyle(position_jitter=0.0, size_jitter=0.0, wobble=0.0, p_drop_object=0.0)


@pytest.fixture(scope="module")
def samples() -> list:
    return [generate_scene(seed, 64) for seed in SEEDS]


def _draw(sample, style: HumanStyle = HumanStyle()):
    return draw_human_queries(sample.seed, sample.objects, sample.instance, sample.semseg, style)


def _classes(painting: np.ndarray) -> set[int]:
    """Class ids of the colours a painting uses (every colour must be a class colour)."""
    found = set()
    for colour in np.unique(painting.reshape(-1, 3), axis=0):
        matches = np.nonzero((colour == CLASS_COLOURS).all(1))[0]
        assert len(matches) == 1, colour
        found.add(int(matches[0]))
    return found


def test_the_same_scene_and_style_draw_the_same_queries(samples) -> None:
    a, b = _draw(samples[0]), _draw(samples[0])
    assert np.array_equal(a.sketch, b.sketch) and np.array_equal(a.painting, b.painting)
    assert a.caption == b.caption
    assert not np.array_equal(a.sketch, _draw(samples[1]).sketch)


def test_drawings_are_on_the_canvas_asked_for(samples) -> None:
    drawn = _draw(samples[0], HumanStyle(canvas=320))
    assert drawn.sketch.shape == (320, 320) and drawn.painting.shape == (320, 320, 3)
    assert set(np.unique(drawn.sketch)) <= set(range(256)) and (drawn.sketch < 128).any()


def test_a_painting_holds_exactly_the_visible_shapes_in_palette_colours(samples) -> None:
    for sample in samples:
        drawn = _draw(sample, replace(EXACT, p_paint_floor=1.0))
        visible = {SHAPE_CLASS[v.obj.shape] for v in sample.objects if v.mentionable}
        assert _classes(drawn.painting) == {0, FLOOR} | visible


def test_exact_placement_puts_each_blob_on_its_object(samples) -> None:
    sample = samples[2]
    drawn = _draw(sample, replace(EXACT, canvas=64, p_paint_floor=0.0))
    for view in (v for v in sample.objects if v.mentionable):
        rows, cols = np.nonzero(sample.instance == view.index + 1)
        centre = drawn.painting[int(np.median(rows)), int(np.median(cols))]
        cid = SHAPE_CLASS[view.obj.shape]
        # the object's own colour, or a nearer object painted over it
        nearer = {SHAPE_CLASS[v.obj.shape] for v in sample.objects if v.depth < view.depth}
        assert int(np.nonzero((centre == CLASS_COLOURS).all(1))[0][0]) in {cid} | nearer


def test_the_horizon_and_dropped_objects_follow_their_knobs(samples) -> None:
    sample = next(s for s in samples if sum(v.mentionable for v in s.objects) >= 3)
    with_line = _draw(sample, replace(EXACT, p_horizon=1.0))
    without = _draw(sample, replace(EXACT, p_horizon=0.0))
    assert (with_line.sketch < 128).sum() > (without.sketch < 128).sum()
    full = _draw(sample, replace(EXACT, p_paint_floor=0.0, p_drop_object=0.0))
    dropped = _draw(sample, replace(EXACT, p_paint_floor=0.0, p_drop_object=1.0))
    painted = lambda d: int((d.painting != CLASS_COLOURS[0]).any(-1).sum())  # noqa: E731
    assert painted(dropped) < painted(full)


def test_stroke_widths_change_the_ink(samples) -> None:
    thin = _draw(samples[3], replace(EXACT, stroke_widths=(1, 1)))
    thick = _draw(samples[3], replace(EXACT, stroke_widths=(9, 9)))
    assert (thick.sketch < 128).sum() > 3 * (thin.sketch < 128).sum()


def test_captions_say_only_true_things_in_own_words(samples) -> None:
    own_words = 0
    for seed in range(40):
        sample = samples[seed % len(samples)]
        style = replace(HumanStyle(), p_synonym=0.8)
        caption = draw_human_queries(
            seed, sample.objects, sample.instance, sample.semseg, style
        ).caption
        facts = caption_facts(canonical_caption(caption))
        assert facts and satisfies(scene_facts(sample), facts), (caption, sample.captions[0])
        own_words += canonical_caption(caption) != caption
    assert own_words > 20  # most captions use a word of the person's own


def _wobbly_point_by_point(hand, points, closed):
    """The tremor stroke one sample at a time: the definition the array version must equal."""
    import itertools
    import math

    if closed:
        points = [*points, points[0]]
    step = max(2.0, hand.style.canvas / 64)
    out = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        out += [(x0 + (x1 - x0) * t / n, y0 + (y1 - y0) * t / n) for t in range(n)]
    out.append(points[-1])
    noise = hand.rng.normal(0, hand.style.wobble * hand.style.canvas, (len(out), 2))
    kernel = np.ones(5) / 5
    noise = np.stack([np.convolve(noise[:, i], kernel, mode="same") for i in range(2)], 1)
    return [(x + dx, y + dy) for (x, y), (dx, dy) in zip(out, noise, strict=True)]


@pytest.mark.parametrize("closed", [True, False])
def test_a_stroke_is_resampled_exactly_as_point_by_point(closed) -> None:
    from anyseek.scenes.human import _Hand, shape_outline

    for seed, shape in enumerate(("cube", "sphere", "cylinder", "cone", "torus")):
        style = HumanStyle(canvas=(64, 256, 300)[seed % 3])
        for stroke in shape_outline(shape, 120.3, 90.7, 57.1 + seed, 33.9):
            stroke = [*stroke, (3.0, 3.0)]  # and a long segment back to a corner
            fast = _Hand(seed, style).wobbly(stroke, closed)
            slow = _wobbly_point_by_point(_Hand(seed, style), stroke, closed)
            assert fast == [(float(x), float(y)) for x, y in slow]
