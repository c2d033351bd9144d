"""Captions with words left out: how a caption reads when search cannot read some of its words.

A person's caption in everyday words ("a burgundy chunk beside a pearl") reaches the model with
the words it does not know left out (``anyseek.model.builtin.text``): what is left is a partial
caption the generator never writes. A training caption with some of its words dropped at random
teaches the text tower to place such captions near their scene, without ever seeing the
everyday words themselves (those stay the evaluation's, ``lab/people_words.py``).
"""

from __future__ import annotations

import random


def partial_caption(caption: str, drop: float, rng: random.Random) -> str:
    """``caption`` with each word left out with probability ``drop``, one word kept at least."""
    words = caption.split()
    kept = [w for w in words if rng.random() >= drop]
    if not kept and words:
        kept = [rng.choice(words)]
    return " ".join(kept)
