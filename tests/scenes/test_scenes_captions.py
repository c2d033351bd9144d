"""Captions name only visible objects, and their spatial relations hold in the image."""

from __future__ import annotations

import re

import pytest

from anyseek.scenes.captions import NOUNS
from anyseek.scenes.sample import generate_scene
from anyseek.scenes.scene import COLORS

_NOUN_TO_SHAPE = {word: shape for shape, words in NOUNS.items() for word in words}
_NOUN = "|".join(sorted(_NOUN_TO_SHAPE, key=len, reverse=True))
_COLOR = "|".join(COLORS)
OBJECT = re.compile(rf"\b({_COLOR})(?: \w+)? ({_NOUN})\b")
RELATION = re.compile(
    rf"the (?:\w+ )?({_COLOR})(?: \w+)? ({_NOUN}) (?:is|sits|stands) (?:to the )?"
    rf"(left of|right of|behind|in front of) the (?:\w+ )?({_COLOR})(?: \w+)? ({_NOUN})\b"
)


@pytest.fixture(scope="module")
def samples():
    """Forty generated scenes shared by the caption tests."""
    return [generate_scene(seed, 64) for seed in range(40)]


def _view(sample, color: str, noun: str):
    """The one object a (colour, noun) phrase names."""
    shape = _NOUN_TO_SHAPE[noun]
    matches = [v for v in sample.objects if v.obj.color == color and v.obj.shape == shape]
    assert len(matches) == 1, f"{color} {noun} does not name exactly one object"
    return matches[0]


def test_every_named_object_is_visible(samples):
    named = 0
    for s in samples:
        for caption in s.captions:
            for color, noun in OBJECT.findall(caption.lower()):
                view = _view(s, color, noun)
                assert (s.instance == view.index + 1).sum() >= view.min_pixels
                named += 1
    assert named > 100


def test_relations_agree_with_projected_centres(samples):
    checked = {"left of": 0, "right of": 0, "behind": 0, "in front of": 0}
    for s in samples:
        for caption in s.captions:
            for c1, n1, pred, c2, n2 in RELATION.findall(caption.lower()):
                a, b = _view(s, c1, n1), _view(s, c2, n2)
                ok = {
                    "left of": a.col < b.col,
                    "right of": a.col > b.col,
                    "behind": a.depth > b.depth,
                    "in front of": a.depth < b.depth,
                }[pred]
                assert ok, f"{caption!r}: {c1} {n1} is not {pred} {c2} {n2}"
                checked[pred] += 1
    assert min(checked.values()) > 3, checked


def test_captions_cover_attributes_counts_and_forms(samples):
    s = samples[1]
    assert len(s.captions) == 4 and len(set(s.captions)) == 4
    short, counts, long, _ = s.captions
    assert len(long) > len(short)
    assert any(w in counts.lower() for w in ("one", "two", "three", "four", "five", "six"))
    text = " ".join(c for x in samples for c in x.captions).lower()
    for word in ("small", "large", "metal", "matte", "floor", "wall", "left of", "behind"):
        assert word in text
