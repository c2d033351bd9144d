"""People's drawing styles: reproducible, as varied as their knobs say, one held out of training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from anyseek.scenes.human import HumanStyle, draw_human_queries
from anyseek.scenes.sample import generate_scene
from anyseek.workbench.recipe import load_recipe
from anyseek.workbench.styles import HELD_OUT, STYLES, training_styles


@pytest.fixture(scope="module")
def scene():
    return generate_scene(4242, 64)


@pytest.mark.parametrize("name", list(STYLES))
def test_a_style_draws_the_same_scene_the_same_way(scene, name: str) -> None:
    first = draw_human_queries(7, scene.objects, scene.instance, scene.semseg, STYLES[name])
    again = draw_human_queries(7, scene.objects, scene.instance, scene.semseg, STYLES[name])
    assert np.array_equal(first.sketch, again.sketch) and first.caption == again.caption
    low, high = STYLES[name].aspect
    height, width = first.sketch.shape
    assert low - 0.02 <= width / height <= high + 0.02
    assert first.painting.shape[:2] == first.sketch.shape


def test_no_shipped_recipe_trains_on_a_held_out_person() -> None:
    for name in ("default", "tiny"):
        assert not set(load_recipe(name).data.styles) & set(HELD_OUT)
    with pytest.raises(ValueError, match="held out"):
        training_styles(("default", *HELD_OUT))


def test_typos_and_broken_strokes_do_what_they_say(scene) -> None:
    def draw(seed: int, **knobs):
        style = replace(HumanStyle(), **knobs)
        return draw_human_queries(seed, scene.objects, scene.instance, scene.semseg, style)

    for seed in range(10):  # typos come last, so the same seed says the same words before them
        right, wrong = draw(seed).caption.split(), draw(seed, p_typo=1.0).caption.split()
        assert len(right) == len(wrong)
        long = [(r, w) for r, w in zip(right, wrong, strict=True) if len(r) >= 3]
        assert sum(r != w for r, w in long) >= len(long) / 2
    whole = np.mean([(draw(s).sketch < 128).sum() for s in range(20)])
    broken = np.mean([(draw(s, p_broken=0.9).sketch < 128).sum() for s in range(20)])
    assert broken < 0.8 * whole
