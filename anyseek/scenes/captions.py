"""Captions generated from the scene graph: several phrasings, short and long, all true.

Only objects that are clearly visible are named. Every object phrase has the form
``[size] colour [material] noun`` (for example "small red metal cube" or "blue ball"); colour and
shape together identify an object, because the sampler never repeats a (colour, shape) pair. Spatial
relations come from the projected object centres (left/right) and their camera depth
(behind/in front of), so they hold in the image the caption belongs to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from anyseek.scenes.layout import ObjectView
from anyseek.scenes.scene import Draws, Scene

NOUNS: dict[str, tuple[str, ...]] = {
    "cube": ("cube", "block", "box"),
    "sphere": ("sphere", "ball"),
    "cylinder": ("cylinder",),
    "cone": ("cone",),
    "torus": ("torus", "ring", "donut"),
}
"""Words that may name each shape (the first is canonical)."""
PLURALS: dict[str, str] = {
    "cube": "cubes", "block": "blocks", "box": "boxes", "sphere": "spheres", "ball": "balls",
    "cylinder": "cylinders", "cone": "cones", "torus": "tori", "ring": "rings", "donut": "donuts",
}  # fmt: skip
MATERIAL_WORDS = {"matte": ("matte", "rubber", ""), "metal": ("metal", "metallic", "shiny")}
NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight")
LEFT_MARGIN = 0.06
"""Centres must differ by this fraction of the width for a left/right relation."""
DEPTH_MARGIN = 0.8
"""Centres must differ by this many world units for a behind/in-front relation."""


@dataclass(frozen=True)
class Relation:
    """``subject`` is ``predicate`` ``obj`` (indices into scene.objects)."""

    subject: int
    predicate: str  # "left of" | "right of" | "behind" | "in front of"
    obj: int


def relations(views: tuple[ObjectView, ...], size: int) -> list[Relation]:
    """Every clear pairwise relation between mentionable objects."""
    seen = [v for v in views if v.mentionable]
    out = []
    for a in seen:
        for b in seen:
            if a.index == b.index:
                continue
            if a.col < b.col - LEFT_MARGIN * size:
                out.append(Relation(a.index, "left of", b.index))
                out.append(Relation(b.index, "right of", a.index))
            if a.depth > b.depth + DEPTH_MARGIN:
                out.append(Relation(a.index, "behind", b.index))
                out.append(Relation(b.index, "in front of", a.index))
    return out


class _Phraser:
    """Random but reproducible word choices for one scene."""

    def __init__(self, scene: Scene, rng: Draws) -> None:
        self.scene, self.rng = scene, rng

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        """One of ``options``."""
        return self.rng.pick(options)

    def noun(self, shape: str) -> str:
        """A word for ``shape``: usually the canonical one, sometimes a synonym."""
        return NOUNS[shape][0] if self.rng.chance(0.6) else self.pick(NOUNS[shape])

    def phrase(self, k: int, full: bool) -> str:
        """``[size] colour [material] noun`` for object k (``full``: always with size, material)."""
        o = self.scene.objects[k]
        words = []
        if full or self.rng.chance(0.5):
            words.append(
                o.size if self.rng.chance(0.7) else {"small": "little", "large": "big"}[o.size]
            )
        words.append(o.color)
        if full or self.rng.chance(0.4):
            material = self.pick(
                MATERIAL_WORDS[o.material][:2] if full else MATERIAL_WORDS[o.material]
            )
            if material:
                words.append(material)
        words.append(self.noun(o.shape))
        return " ".join(words)


def _article(phrase: str) -> str:
    """ "a" or "an" before a phrase."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _join(items: list[str]) -> str:
    """ "x", "x and y", "x, y and z"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    """Capitalise and end with a full stop."""
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _counts(scene: Scene, seen: list[int], p: _Phraser) -> str:
    """Counts by shape, as in 'Three objects on a grey floor: two cubes and one cone'."""
    by_shape: dict[str, int] = {}
    for k in seen:
        by_shape[scene.objects[k].shape] = by_shape.get(scene.objects[k].shape, 0) + 1
    parts = []
    for shape, n in sorted(by_shape.items(), key=lambda kv: -kv[1]):
        noun = p.noun(shape)
        parts.append(f"{NUMBERS[n]} {PLURALS[noun] if n > 1 else noun}")
    floor = f"on a {scene.floor.name} floor"
    if len(parts) == 1:
        return _sentence(f"{parts[0]} {floor}")
    total = NUMBERS[len(seen)] if len(seen) < len(NUMBERS) else str(len(seen))
    return _sentence(f"{total} objects {floor}: {_join(parts)}")


def _relation_text(rel: Relation, p: _Phraser) -> str:
    """One relation as a clause: "the red cube is left of the blue ball"."""
    pred = rel.predicate
    if pred in ("left of", "right of") and p.rng.chance(0.5):
        pred = "to the " + pred
    verb = p.pick(("is", "is", "sits", "stands"))
    return f"the {p.phrase(rel.subject, False)} {verb} {pred} the {p.phrase(rel.obj, False)}"


def write_captions(scene: Scene, views: tuple[ObjectView, ...], size: int) -> tuple[str, ...]:
    """Four captions: a short object list, counts, a long description and a relation sentence."""
    rng = Draws(scene.seed, 0xCA9)
    p = _Phraser(scene, rng)
    seen = [v.index for v in sorted(views, key=lambda v: v.col) if v.mentionable]
    if not seen:
        empty = f"an empty {scene.floor.name} floor in front of a {scene.backdrop.name} wall"
        return (_sentence(empty),) * 4
    rels = relations(views, size)
    rels = [rels[i] for i in sorted(range(len(rels)), key=lambda _: rng.uniform(0.0, 1.0))]
    pairs: set[frozenset[int]] = set()
    unique = []
    for r in rels:  # one relation per pair of objects, so sentences do not repeat each other
        if frozenset((r.subject, r.obj)) not in pairs:
            pairs.add(frozenset((r.subject, r.obj)))
            unique.append(r)
    rels = unique

    short = _sentence(_join([_article(p.phrase(k, False)) for k in seen]))
    counts = _counts(scene, seen, p)
    full = _join([_article(p.phrase(k, True)) for k in seen])
    place = p.pick(("stand on", "rest on", "are placed on", "sit on"))
    if len(seen) == 1:
        place = {"stand on": "stands on", "rest on": "rests on", "sit on": "sits on"}.get(
            place, "is placed on"
        )
    long_parts = [
        _sentence(
            f"{full} {place} a {scene.floor.name} floor in front of a {scene.backdrop.name} wall"
        )
    ]
    chosen = rels[: min(3, len(rels))]
    long_parts += [_sentence(_relation_text(r, p)) for r in chosen]
    if scene.floor.pattern == "checker":
        long_parts.append("The floor has a checkerboard pattern.")
    relation = (
        _sentence("; ".join(_relation_text(r, p) for r in rels[3:5] or rels[:2]))
        if rels
        else _sentence(f"a single {p.phrase(seen[0], True)} on a {scene.floor.name} floor")
    )
    return (short, counts, " ".join(long_parts), relation)


def object_phrases(caption: str) -> list[str]:
    """Split a short object-list caption into one-object captions.

    "A red cube, a blue ball and a green cone." -> ["A red cube.", "A blue ball.", "A green cone."]
    """
    parts = re.split(r", | and ", caption.strip().rstrip("."))
    return [_sentence(p.strip()) for p in parts if p.strip()]
