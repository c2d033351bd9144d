"""Fusion of one query's similarities across embedding spaces.

A query can be scored in several spaces at once (the built-in model's ``clip`` and ``dino``, 4M-21's
DINOv2-global and ImageBind-global). Not every space knows something about every query: a sketch
says nothing about colour, so its prediction in a colour-aware space is a blurred guess, and a plain
mean of the cosines lets that guess drown the space that does know. Each space's similarity is
therefore weighted by ``weight * confidence ** power``, normalised per query, where ``confidence``
is the model's own certainty about its prediction in that space (``model.predict.token_confidence``:
1 minus the mean normalised entropy of the predicted tokens) and ``weight`` an optional per-space
weight set by the caller. Without confidences it is the (weighted) mean.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from anyseek.errors import AnyseekError

#: Exponent of the confidence in the fusion weight; 2 was the best of 1, 2, 4, 8 on the built-in
#: model's training scenes (ties with 4 on single-modality queries, better on caption queries).
DEFAULT_POWER = 2.0


class FusionError(AnyseekError):
    """Similarities, confidences or weights of a fusion do not fit together."""


def fusion_weights(
    confidence: Mapping[str, Tensor],
    weights: Mapping[str, float] | None = None,
    power: float = DEFAULT_POWER,
) -> dict[str, Tensor]:
    """Per-space weights [Q] that sum to 1 for every query."""
    if not confidence:
        raise FusionError("no spaces to fuse")
    weights = weights or {}
    unknown = sorted(set(weights) - set(confidence))
    if unknown:
        raise FusionError(f"weights given for spaces the query has no score in: {unknown}")
    if any(w < 0 for w in weights.values()) or (
        weights and all(weights.get(s, 1.0) == 0 for s in confidence)
    ):
        raise FusionError(f"space weights must be >= 0 and not all 0, got {dict(weights)}")
    raw = {
        space: float(weights.get(space, 1.0)) * c.float().clamp(0.0, 1.0).pow(power) + 1e-12
        for space, c in confidence.items()
    }
    total = torch.stack(list(raw.values())).sum(0)
    return {space: r / total for space, r in raw.items()}


def fuse(
    similarities: Mapping[str, Tensor],
    confidence: Mapping[str, Tensor] | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    power: float = DEFAULT_POWER,
) -> Tensor:
    """Fused scores [Q, N] from per-space similarities [Q, N] and query confidences [Q]."""
    if not similarities:
        raise FusionError("no spaces to fuse")
    shapes = {tuple(s.shape) for s in similarities.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise FusionError(f"similarities must all be [Q, N]; got shapes {sorted(shapes)}")
    queries = next(iter(shapes))[0]
    if confidence is None:
        confidence = {s: torch.ones(queries) for s in similarities}
    if set(confidence) != set(similarities):
        raise FusionError(
            f"confidences for {sorted(confidence)} but similarities for {sorted(similarities)}"
        )
    if any(tuple(c.shape) != (queries,) for c in confidence.values()):
        raise FusionError(f"confidences must be [Q] with Q = {queries}")
    w = fusion_weights(confidence, weights, power)
    return sum(w[s].to(sim.device)[:, None] * sim.float() for s, sim in similarities.items())
