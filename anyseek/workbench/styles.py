"""People who draw: named drawing styles of ``anyseek.scenes.human``, some trained on, one held out.

Breadth of styles, not steps, is what lets the model read a person it has not seen, so the
training styles spread every knob of :class:`HumanStyle` (pen, tremor, memory of positions and
sizes, proportions, broken strokes, extra and missing objects, canvas shape, paint spilling over
edges, typos) and the held-out style combines them in a way no training style does. Evaluation
reports the held-out style as its own row: a person the model has never seen.
"""

from __future__ import annotations

import numpy as np

from anyseek.scenes.human import HumanStyle

STYLES: dict[str, HumanStyle] = {
    # the person of ``anyseek eval retrieval --human`` (its seeds are never trained on)
    "default": HumanStyle(),
    # careful: thin pen, little tremor, remembers positions well, usually draws the horizon
    "tidy": HumanStyle(
        stroke_widths=(1, 4), position_jitter=0.03, size_jitter=0.12, wobble=0.006,
        p_horizon=0.7, p_drop_object=0.1, p_paint_floor=0.8, p_synonym=0.3,
        p_some_objects=0.2, aspect=(0.8, 1.25),
    ),
    # hurried: thick pen, shaky, broken strokes, wrong proportions, a landscape page, typos
    "rough": HumanStyle(
        stroke_widths=(3, 14), position_jitter=0.09, size_jitter=0.35, wobble=0.02,
        p_horizon=0.2, p_drop_object=0.35, p_paint_floor=0.4, p_synonym=0.6,
        p_some_objects=0.5, aspect=(1.0, 1.8), proportion_jitter=0.25, p_broken=0.3,
        p_extra_object=0.2, paint_spill=0.3, p_typo=0.1,
    ),
    # forgetful: remembers objects loosely, adds and drops them, portrait pages, no floor
    "loose": HumanStyle(
        stroke_widths=(1, 8), position_jitter=0.12, size_jitter=0.4, wobble=0.01,
        p_horizon=0.05, p_drop_object=0.4, p_paint_floor=0.2, p_synonym=0.7,
        p_some_objects=0.6, aspect=(0.6, 1.0), proportion_jitter=0.15, p_extra_object=0.3,
        paint_spill=0.15, p_typo=0.05,
    ),
    # held out of training: a scrawler -- very shaky broken lines, squashed shapes, wide blobs,
    # a tall narrow page, many typos
    "scrawl": HumanStyle(
        stroke_widths=(2, 11), position_jitter=0.1, size_jitter=0.3, wobble=0.028,
        p_horizon=0.5, p_drop_object=0.3, p_paint_floor=0.5, p_synonym=0.5,
        p_some_objects=0.45, aspect=(0.5, 0.7), proportion_jitter=0.35, p_broken=0.45,
        p_extra_object=0.25, paint_spill=0.45, p_typo=0.15,
    ),
}  # fmt: skip

HELD_OUT = ("scrawl",)
"""Styles no training recipe may draw with: reported as a person the model has not seen."""

RANDOM = "random"
"""Not one person but a new one for every drawing, each knob drawn from :data:`RANDOM_KNOBS`."""

RANDOM_WIDE = "random_wide"
"""Like :data:`RANDOM`, with every knob drawn from the widest range a person may have
(:data:`WIDE_KNOBS`): each of the held-out person's habits lies inside it, none of its
combinations or seeds is trained on. Measured by ``lab/levers.py`` (``levers_wide.md``); the
``default`` recipe's fifth person."""

#: knob -> (low, high) of a random person; kept short of the held-out person's tall pages,
#: tremor and broken strokes, so that evaluating ``scrawl`` stays a step outside training
RANDOM_KNOBS: dict[str, tuple[float, float]] = {
    "position_jitter": (0.02, 0.12), "size_jitter": (0.1, 0.4), "wobble": (0.004, 0.02),
    "p_horizon": (0.0, 0.8), "p_drop_object": (0.0, 0.4), "p_paint_floor": (0.1, 0.9),
    "p_synonym": (0.2, 0.8), "p_some_objects": (0.1, 0.6), "proportion_jitter": (0.0, 0.25),
    "p_broken": (0.0, 0.3), "p_extra_object": (0.0, 0.3), "paint_spill": (0.0, 0.3),
    "p_typo": (0.0, 0.1),
}  # fmt: skip

#: the widest person: every knob from careful to beyond the held-out scrawler
WIDE_KNOBS: dict[str, tuple[float, float]] = RANDOM_KNOBS | {
    "position_jitter": (0.02, 0.16), "size_jitter": (0.1, 0.5), "wobble": (0.004, 0.035),
    "proportion_jitter": (0.0, 0.45), "p_broken": (0.0, 0.6), "paint_spill": (0.0, 0.55),
    "p_typo": (0.0, 0.2),
}  # fmt: skip

#: random person's name -> (knob ranges, page aspect range as width / height)
RANDOM_PEOPLE: dict[str, tuple[dict[str, tuple[float, float]], tuple[float, float]]] = {
    RANDOM: (RANDOM_KNOBS, (0.75, 1.8)),
    RANDOM_WIDE: (WIDE_KNOBS, (0.45, 2.2)),
}


def random_person(seed: int, name: str = RANDOM) -> HumanStyle:
    """A person drawn at random from the ranges of random person ``name`` (reproducible from
    ``seed``)."""
    ranges, (narrow, wide) = RANDOM_PEOPLE[name]
    rng = np.random.default_rng([seed, 0x5EED])
    knobs = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()}
    thin = int(rng.integers(1, 6))
    aspect = float(np.exp(rng.uniform(np.log(narrow), np.log(wide))))
    return HumanStyle(
        stroke_widths=(thin, thin + int(rng.integers(0, 9))),
        aspect=(min(1.0, aspect), max(1.0, aspect)),
        **knobs,
    )


def style(name: str, seed: int = 0) -> HumanStyle:
    """A named style (a random person: the person of this drawing's ``seed``), or a ValueError
    listing the names."""
    if name in RANDOM_PEOPLE:
        return random_person(seed, name)
    if name not in STYLES:
        known = ", ".join([*STYLES, *RANDOM_PEOPLE])
        raise ValueError(f"unknown drawing style {name!r}; known: {known}")
    return STYLES[name]


def training_styles(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` checked: known, and none held out."""
    for name in names:
        style(name)
    held = sorted(set(names) & set(HELD_OUT))
    if held:
        raise ValueError(f"styles {held} are held out of training (workbench.styles.HELD_OUT)")
    return names
