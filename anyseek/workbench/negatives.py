"""Binding negatives: a caption one attribute away from the truth, for its own image to reject.

Contrastive training with whole-scene captions never asks the image vector *which* object is red:
in a batch of 256 random scenes, no other scene has the same bag of colours and shapes, so a bag
is enough to tell them apart (``lab/results/object_binding.md``: v7's top 10 for "a red cube"
hold something red 0.997 of the time, a red cube 0.629). NegCLIP's remedy (Yuksekgonul et al.,
"When and why vision-language models behave like bags-of-words", 2023) is a hard negative
caption per image: the true caption with two attributes swapped, which only a model that binds
them can tell from the true one. Here the scene graph says exactly what is true, so every
negative is checked against the scene: an edit that still fits it (the scene has that object
too) is not a negative and is never used.

Edits work on the caption's words: two words of one kind exchanged ("a red cube and a blue ball"
-> "a blue cube and a red ball"), or one replaced by another value, first by values that other
objects of the same scene have ("a small red cube" -> "a small blue cube" in a scene with a blue
ball): the confusions a bag of attributes makes.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from collections.abc import Iterator, Sequence
from typing import Any

from anyseek.model.vocabulary.synonyms import canonical_caption
from anyseek.workbench.metrics import caption_facts, satisfies

WORD = re.compile(r"[A-Za-z]+")


@functools.cache
def _kinds() -> dict[str, dict[str, str]]:
    """Attribute -> {word: the scene value it names}: the words an edit may exchange."""
    from anyseek.scenes.captions import NOUNS
    from anyseek.scenes.scene import COLORS, MATERIALS, SIZES

    return {
        "color": {c: c for c in COLORS},
        "shape": {w: shape for shape, words in NOUNS.items() for w in words},
        "size": {**{s: s for s in SIZES}, "little": "small", "big": "large"},
        "material": {
            **{m: m for m in MATERIALS},
            "rubber": "matte",
            "metallic": "metal",
            "shiny": "metal",
        },
    }


@functools.cache
def _word_of(attribute: str, value: str) -> str:
    """The plain word that names ``value`` (a shape by its canonical noun)."""
    return next(w for w, v in _kinds()[attribute].items() if v == value)


def attribute_words(caption: str) -> list[tuple[int, int, str, str]]:
    """(start, end, attribute, value) of every word of ``caption`` that names an attribute."""
    kinds = _kinds()
    out = []
    for match in WORD.finditer(caption):
        word = match.group().lower()
        for attribute, words in kinds.items():
            if word in words:
                out.append((match.start(), match.end(), attribute, words[word]))
                break
    return out


def _spliced(caption: str, edits: Sequence[tuple[int, int, str]]) -> str:
    """``caption`` with each (start, end) span replaced by its word, keeping a capital."""
    out, last = [], 0
    for start, end, word in sorted(edits):
        if caption[start].isupper():
            word = word[0].upper() + word[1:]
        out += [caption[last:start], word]
        last = end
    return "".join(out) + caption[last:]


def candidates(caption: str, scene: dict[str, Any], rng: random.Random) -> Iterator[str]:
    """Edited captions, most telling first: swaps of two words of one kind, then one word
    replaced by a value another object of the scene has, then by any other value (built
    lazily: the first edit is usually a negative already)."""
    found = attribute_words(caption)
    swaps = [
        (a, b) for i, a in enumerate(found) for b in found[i + 1 :] if a[2] == b[2] and a[3] != b[3]
    ]
    rng.shuffle(swaps)
    for (s1, e1, _, _), (s2, e2, _, _) in swaps:
        yield _spliced(
            caption, [(s1, e1, caption[s2:e2].lower()), (s2, e2, caption[s1:e1].lower())]
        )
    replacements = []
    for start, end, kind, value in found:
        in_scene = {o[kind] for o in scene["objects"]}
        for other in sorted(set(_kinds()[kind].values()) - {value}):
            replacements.append((other not in in_scene, rng.random(), start, end, kind, other))
    for *_, start, end, kind, other in sorted(replacements):
        yield _spliced(caption, [(start, end, _word_of(kind, other))])


def binding_negative(
    caption: str, scene: dict[str, Any], rng: random.Random, tries: int = 8
) -> str | None:
    """A caption one edit from ``caption`` that states an object ``scene`` does not have, or
    None when no edit of its first ``tries`` candidates is false of the scene (a caption that
    states no object, or whose every edit the scene still fits)."""
    for edited in itertools.islice(candidates(caption, scene, rng), tries):
        facts = caption_facts(canonical_caption(edited))
        if facts and not satisfies(scene, facts):
            return edited
    return None
