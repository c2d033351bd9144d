"""A drawing model of people: rough sketches, painted segmentations, own-words captions of scenes.

The generator's sketch renderer (``anyseek.scenes.sketch``) traces the true silhouettes of a render;
people do not. Asked to draw a scene they remember, they put each object roughly where it was
(shifted, resized), as a schematic outline of its shape (a square for a cube, a triangle for a
cone), with whatever pen width they have, usually without the horizon, sometimes leaving an object
out, on a canvas larger than the model's 64 px. Asked to paint a segmentation, they fill rough
blobs in the class colours. Asked to describe it, they name some of the objects in their own
words ("a teal pyramid next to a big ball"). :func:`draw_human_queries` makes all three from a
scene's description (its scene graph and where each object appears), under
:class:`HumanStyle`'s settings; the same settings are the recipe's human-style augmentations
(``anyseek/workbench/styles.py`` names several people: some trained on, one held out).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from anyseek.model.vocabulary.classes import CLASS_COLOURS, FLOOR, SHAPE_CLASS
from anyseek.model.vocabulary.synonyms import paraphrase_words
from anyseek.scenes.captions import NOUNS
from anyseek.scenes.layout import ObjectView

Point = tuple[float, float]
PAPER, INK = 255, 0


@dataclass(frozen=True)
class HumanStyle:
    """How rough the person is: every knob of the drawing model (fractions are of the canvas)."""

    canvas: int = 256  # side of the drawing, px (the page's pad is 256)
    stroke_widths: tuple[int, int] = (1, 9)  # pen width range at 256 px, scaled with the canvas
    position_jitter: float = 0.06  # std of an object's shift
    size_jitter: float = 0.25  # std of the log of an object's scale
    wobble: float = 0.012  # std of the hand's tremor along a stroke
    p_horizon: float = 0.3  # the horizon is drawn (else left out)
    p_drop_object: float = 0.25  # one object is left out (of scenes with two or more)
    p_paint_floor: float = 0.6  # the painting fills the floor (else only the objects)
    p_synonym: float = 0.5  # a colour or shape word is said in the person's own words
    p_some_objects: float = 0.4  # the caption names only some of the objects
    aspect: tuple[float, float] = (1.0, 1.0)  # canvas width / height, log-uniform in this range
    proportion_jitter: float = 0.0  # std of the log of an object's width / height distortion
    p_broken: float = 0.0  # a piece of a stroke is left out (the pen skips)
    p_extra_object: float = 0.0  # an object that is not in the scene is drawn too
    paint_spill: float = 0.0  # painted blobs grow past the object's edges by up to this share
    p_typo: float = 0.0  # a word of the caption is misspelt


@dataclass(frozen=True)
class HumanQueries:
    """One scene as a person gives it: a sketch, a painted segmentation, a caption."""

    sketch: np.ndarray  # (C, C) uint8, dark lines (0) on white paper (255)
    painting: np.ndarray  # (C, C, 3) uint8 in the class colours; unpainted = class 0's colour
    caption: str


class _Hand:
    """One person's random but reproducible choices for one scene."""

    def __init__(self, seed: int, style: HumanStyle) -> None:
        self.rng = np.random.default_rng([seed, 0x4A3D])
        self.style = style
        self.width = self.height = float(style.canvas)
        low, high = style.aspect
        if (low, high) != (1.0, 1.0):  # no extra draw for a square canvas: old seeds stay
            ratio = math.exp(self.rng.uniform(math.log(low), math.log(high)))
            self.width, self.height = (
                style.canvas * math.sqrt(ratio),
                style.canvas / math.sqrt(ratio),
            )

    @property
    def size(self) -> tuple[int, int]:
        """The canvas, (width, height) px."""
        return round(self.width), round(self.height)

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return bool(self.rng.random() < p)

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        """One of ``options``, uniformly."""
        return options[int(self.rng.integers(len(options)))]

    def wobbly(self, points: list[Point], closed: bool) -> list[Point]:
        """A stroke through ``points`` resampled every few pixels, with a smooth tremor."""
        if closed:
            points = [*points, points[0]]
        step = max(2.0, self.style.canvas / 64)
        corners = np.array(points, dtype=np.float64).reshape(-1, 2)
        spans = corners[1:] - corners[:-1]
        counts = np.array([max(1, int(math.hypot(dx, dy) / step)) for dx, dy in spans.tolist()])
        # every segment's samples at once: start + (end - start) * t / n for t < n, the same
        # float64 operations in the same order as one point at a time
        segment = np.repeat(np.arange(len(counts)), counts)  # (P,) the segment of each sample
        t = np.arange(len(segment)) - (np.cumsum(counts) - counts)[segment]
        n = counts[segment]
        samples = corners[segment] + spans[segment] * t[:, None] / n[:, None]
        out = np.concatenate([samples, corners[-1:]])  # (P + 1, 2)
        noise = self.rng.normal(0, self.style.wobble * self.style.canvas, (len(out), 2))
        kernel = np.ones(5) / 5  # smooth: a tremor, not salt and pepper
        noise = np.stack([np.convolve(noise[:, i], kernel, mode="same") for i in range(2)], 1)
        return [tuple(p) for p in (out + noise).tolist()]

    def pieces(self, stroke: list[Point]) -> list[list[Point]]:
        """A stroke as the pen draws it: whole, or in pieces with gaps when it skips."""
        if self.style.p_broken <= 0 or len(stroke) < 4:
            return [stroke]
        out: list[list[Point]] = [[]]
        for point in stroke:
            if self.chance(self.style.p_broken / 3):  # a gap starts here
                out.append([])
            elif out[-1] or self.chance(0.5):
                out[-1].append(point)
        return [p for p in out if len(p) >= 2]


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 24) -> list[Point]:
    """Points around an ellipse."""
    return [(cx + rx * c, cy + ry * s) for c, s in _unit_circle(n)]


@functools.cache
def _unit_circle(n: int) -> tuple[Point, ...]:
    """(cos, sin) of n equal steps around the circle, computed once per n."""
    return tuple((math.cos(2 * math.pi * t / n), math.sin(2 * math.pi * t / n)) for t in range(n))


def shape_outline(shape: str, cx: float, cy: float, w: float, h: float) -> list[list[Point]]:
    """The schematic strokes a person draws for ``shape`` in the box centred (cx, cy), w x h.

    The first stroke is the closed silhouette (what a painting fills); the others are inner lines.
    """
    left, right, top, bottom = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    if shape == "cube":
        d = 0.25 * w  # the top and the side face of a box drawn in perspective
        front = [(left, top + d), (right - d, top + d), (right - d, bottom), (left, bottom)]
        silhouette = [(left, top + d), (left + d, top), (right, top), (right, bottom - d),
                      (right - d, bottom), (left, bottom)]  # fmt: skip
        return [silhouette, front]
    if shape == "sphere":
        return [_ellipse(cx, cy, w / 2, h / 2)]
    if shape == "cylinder":
        e = 0.15 * h
        silhouette = [
            *_ellipse(cx, top + e, w / 2, e)[12:],
            *_ellipse(cx, bottom - e, w / 2, e)[:13],
        ]
        return [silhouette, _ellipse(cx, top + e, w / 2, e)]
    if shape == "cone":
        e = 0.12 * h
        return [[(cx, top), (right, bottom - e), *_ellipse(cx, bottom - e, w / 2, e)[1:12],
                 (left, bottom - e)]]  # fmt: skip
    if shape == "torus":
        return [_ellipse(cx, cy, w / 2, h / 2), _ellipse(cx, cy, w / 5, h / 6)]
    raise ValueError(f"no outline for shape {shape!r}")


@dataclass(frozen=True)
class _Placed:
    """An object where the person puts it on the canvas: shape and box (canvas px)."""

    shape: str
    cx: float
    cy: float
    w: float
    h: float


def _placements(views: tuple[ObjectView, ...], instance: np.ndarray, hand: _Hand) -> list[_Placed]:
    """Visible objects, far to near, each shifted and resized the way memory does (and now and
    then one more that the scene does not have)."""
    style, size = hand.style, instance.shape[0]
    sx, sy = hand.width / size, hand.height / size
    seen = sorted((v for v in views if v.mentionable), key=lambda v: -v.depth)
    if len(seen) >= 2 and hand.chance(style.p_drop_object):
        seen.pop(int(hand.rng.integers(len(seen))))
    placed = []
    for v in seen:
        rows, cols = np.nonzero(instance == v.index + 1)
        w = (cols.max() - cols.min() + 1) * sx
        h = (rows.max() - rows.min() + 1) * sy
        grow = math.exp(hand.rng.normal(0, style.size_jitter))
        shift = hand.rng.normal(0, style.position_jitter * style.canvas, 2)
        stretch = (
            math.exp(hand.rng.normal(0, style.proportion_jitter))
            if style.proportion_jitter
            else 1.0
        )
        placed.append(
            _Placed(
                v.obj.shape,
                (cols.min() + cols.max() + 1) / 2 * sx + shift[0],
                (rows.min() + rows.max() + 1) / 2 * sy + shift[1],
                max(6.0, w * grow * stretch),
                max(6.0, h * grow / stretch),
            )
        )
    if style.p_extra_object and hand.chance(style.p_extra_object):
        side = hand.rng.uniform(0.12, 0.3) * min(hand.width, hand.height)
        placed.append(
            _Placed(
                hand.pick(tuple(NOUNS)),
                hand.rng.uniform(0.15, 0.85) * hand.width,
                hand.rng.uniform(0.45, 0.85) * hand.height,
                side,
                side * hand.rng.uniform(0.7, 1.4),
            )
        )
    return placed


def _horizon_row(semseg: np.ndarray) -> float:
    """Where the floor meets the wall, as a fraction of the height (median of the columns)."""
    floor = semseg == FLOOR
    tops = floor.argmax(0)[floor.any(0)]  # each column's first floor row
    return float(np.median(tops)) / semseg.shape[0] if len(tops) else 0.5


def _horizon(horizon: float, hand: _Hand) -> list[Point]:
    """Where the person puts the horizon: a wobbly line across the canvas."""
    style = hand.style
    y = horizon * hand.height + hand.rng.normal(0, style.position_jitter * style.canvas)
    return hand.wobbly([(0.0, y), (hand.width - 1.0, y)], closed=False)


def _sketch(placed: list[_Placed], horizon: float, hand: _Hand) -> np.ndarray:
    """Outlines in one pen width, in pieces when the pen skips; the horizon only sometimes."""
    style = hand.style
    image = Image.new("L", hand.size, PAPER)
    draw = ImageDraw.Draw(image)
    low, high = style.stroke_widths
    width = max(1, round(int(hand.rng.integers(low, high + 1)) * style.canvas / 256))
    strokes = [_horizon(horizon, hand)] if hand.chance(style.p_horizon) else []
    for p in placed:
        strokes += [
            hand.wobbly(s, closed=True) for s in shape_outline(p.shape, p.cx, p.cy, p.w, p.h)
        ]
    for stroke in strokes:
        for piece in hand.pieces(stroke):
            draw.line(piece, fill=INK, width=width, joint="curve")
    return np.asarray(image, dtype=np.uint8).copy()


def _painting(placed: list[_Placed], horizon: float, hand: _Hand) -> np.ndarray:
    """Rough blobs in the class colours (spilling past the edges as far as the style lets them),
    the floor sometimes, in depth order."""
    style = hand.style
    colour = {i: tuple(int(c) for c in CLASS_COLOURS[i]) for i in range(len(CLASS_COLOURS))}
    image = Image.new("RGB", hand.size, colour[0])
    draw = ImageDraw.Draw(image)
    if hand.chance(style.p_paint_floor):
        last_x, last_y = hand.width - 1.0, hand.height - 1.0
        draw.polygon(
            [*_horizon(horizon, hand), (last_x, last_y), (0.0, last_y)], fill=colour[FLOOR]
        )
    for p in placed:
        spill = 1.0 + (hand.rng.uniform(0, style.paint_spill) if style.paint_spill else 0.0)
        silhouette = shape_outline(p.shape, p.cx, p.cy, p.w * spill, p.h * spill)[0]
        draw.polygon(hand.wobbly(silhouette, closed=True), fill=colour[SHAPE_CLASS[p.shape]])
    return np.asarray(image, dtype=np.uint8).copy()


def _typo(word: str, hand: _Hand) -> str:
    """``word`` misspelt one way: two letters swapped, one dropped or one doubled."""
    if len(word) < 3:
        return word
    i = int(hand.rng.integers(1, len(word) - 1))
    how = int(hand.rng.integers(3))
    if how == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _own_word(word: str, hand: _Hand) -> str:
    """The generator's word, or (sometimes) a person's word for it."""
    others = paraphrase_words(word)
    return hand.pick(others) if others and hand.chance(hand.style.p_synonym) else word


def _caption(views: tuple[ObjectView, ...], hand: _Hand) -> str:
    """Some or all objects in the person's words, in a sentence of their own."""
    seen = [v for v in sorted(views, key=lambda v: v.col) if v.mentionable]
    if not seen:
        return "an empty room"
    if len(seen) > 1 and hand.chance(hand.style.p_some_objects):
        keep = sorted(hand.rng.choice(len(seen), int(hand.rng.integers(1, len(seen))), False))
        seen = [seen[int(i)] for i in keep]
    phrases = []
    for v in seen:
        words = []
        if hand.chance(0.35):
            words.append(_own_word(v.obj.size, hand))
        words.append(_own_word(v.obj.color, hand))
        if hand.chance(0.15):
            words.append(_own_word(v.obj.material, hand))
        noun = hand.pick(NOUNS[v.obj.shape])
        words.append(_own_word(noun, hand))
        phrases.append(" ".join(words))
    glue = hand.pick((" and ", ", ", " next to ", " with ", " beside "))
    text = glue.join(("an " if p[0] in "aeiou" else "a ") + p for p in phrases)
    text = hand.pick(("{}", "{}", "a picture of {}", "there is {}", "{} on the floor")).format(text)
    if style_typos := hand.style.p_typo:
        text = " ".join(_typo(w, hand) if hand.chance(style_typos) else w for w in text.split(" "))
    return text


def draw_human_queries(
    seed: int,
    views: tuple[ObjectView, ...],
    instance: np.ndarray,
    semseg: np.ndarray,
    style: HumanStyle | None = None,
) -> HumanQueries:
    """A person's sketch, painting and caption of one scene, from its description: the objects'
    shapes, colours and image boxes (``views`` and ``instance``) and where the floor begins
    (``semseg``). Reproducible: the same seed and style give the same queries."""
    style = style or HumanStyle()
    hand = _Hand(seed, style)
    placed = _placements(views, instance, hand)
    horizon = _horizon_row(semseg)
    return HumanQueries(
        sketch=_sketch(placed, horizon, hand),
        painting=_painting(placed, horizon, hand),
        caption=_caption(views, hand),
    )


__all__ = ["HumanQueries", "HumanStyle", "draw_human_queries", "shape_outline"]
