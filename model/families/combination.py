"""Ways of turning a query of several weighted parts (caption 1, sketch 0.5, image -0.3) into one
prediction per space.

* ``joint``: every part conditions ONE encoder pass (the 4M way; weights must all be 1);
* ``guidance``: one pass per part, combined on the token distributions the way 4M's weighted
  multimodal guidance does, ``log p = log prior + sum_i w_i (log p_i - log prior)``, so a negative
  weight steers the prediction away from what that part predicts; the space's prior (what it
  predicts for a typical image) stands in for the unconditional prediction;
* ``fusion``: one pass per part, the parts' vectors summed per space, each weighted by its weight
  times its information in that space squared (a sketch says little in a colour space, so its
  vector counts little there), as ``anyseek.model.runtime.fusion`` weights spaces.

Adding a way is one entry in :data:`COMBINATIONS`. Inputs are batched: every tensor [B, ...].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from anyseek.errors import AnyseekError
from anyseek.model.families.fm_bundle.loading import ModelBundle
from anyseek.model.fourm.inference.predict import (
    SpaceEmbedding,
    embeddings_from_distributions,
    predict_distributions,
)

FUSION_POWER = (
    2.0  # exponent of a part's information in its fusion weight (as model.runtime.fusion)
)


class CombinationError(AnyseekError):
    """The parts of a query cannot be combined the way asked."""


@dataclass(frozen=True)
class WeightedPart:
    """One part of a query: model inputs (by model input name, batched) and its weight."""

    inputs: Mapping[str, Tensor]
    weight: float = 1.0


Combination = Callable[[ModelBundle, Sequence[WeightedPart]], dict[str, SpaceEmbedding]]


def _check(parts: Sequence[WeightedPart]) -> None:
    """At least one part with a positive weight: "not like X" alone asks for nothing."""
    check_weights([p.weight for p in parts])


def check_weights(weights: Sequence[float], how: str = "fusion") -> None:
    """A known way to combine, at least one part, one positive weight, only finite weights:
    each a CombinationError saying so (every model family refuses the same queries)."""
    if how not in COMBINATIONS:
        raise CombinationError(f"unknown combination {how!r}; choose one of {list(COMBINATIONS)}")
    if not weights:
        raise CombinationError("a query needs at least one part")
    if not any(w > 0 for w in weights):
        raise CombinationError(
            "every weight is negative or zero: a query needs at least one part with a positive "
            "weight (negative weights mean 'not like this' next to something to look for)"
        )
    if any(not math.isfinite(w) for w in weights):
        raise CombinationError("weights must be finite numbers")


@torch.inference_mode()
def joint(bundle: ModelBundle, parts: Sequence[WeightedPart]) -> dict[str, SpaceEmbedding]:
    """All parts condition one encoder pass; weights other than 1 cannot be expressed."""
    _check(parts)
    if any(p.weight != 1.0 for p in parts):
        raise CombinationError("joint conditioning takes every part at weight 1; use guidance")
    merged: dict[str, Tensor] = {}
    for part in parts:
        merged.update(part.inputs)
    return bundle.embed_spaces(merged)


@torch.inference_mode()
def guidance(bundle: ModelBundle, parts: Sequence[WeightedPart]) -> dict[str, SpaceEmbedding]:
    """Weighted guidance on token distributions, relative to each space's prior."""
    _check(parts)
    spaces = list(bundle.spaces)
    total: dict[str, Tensor] = {}
    for part in parts:
        probs = predict_distributions(bundle.fm, dict(part.inputs), spaces)
        for space, p in probs.items():
            shift = p.clamp_min(1e-30).log() - _log_prior(bundle, space, p)
            total[space] = total.get(space, 0) + part.weight * shift
    combined = {
        space: (logits + _log_prior(bundle, space, logits)).softmax(-1)
        for space, logits in total.items()
    }
    return embeddings_from_distributions(combined, bundle.spaces, bundle.decode, bundle.priors)


def _log_prior(bundle: ModelBundle, space: str, like: Tensor) -> Tensor:
    """log prior [N, V] of a space (uniform when the bundle has none)."""
    prior = bundle.priors.get(space)
    if prior is None:
        return torch.full(like.shape[-2:], -math.log(like.shape[-1]), device=like.device)
    return prior.to(like.device, torch.float32).clamp_min(1e-30).log()


def fuse_predictions(found: Sequence[tuple[float, SpaceEmbedding]]) -> SpaceEmbedding:
    """One space's per-part predictions (weight, embedding [B, C]) -> their weighted fusion:
    vectors summed by weight * information ** FUSION_POWER, information averaged by |weight|."""
    vector = sum(
        w * (e.information.pow(FUSION_POWER) + 1e-12)[:, None] * e.vectors for w, e in found
    )
    information = sum(abs(w) * e.information for w, e in found) / sum(abs(w) for w, _ in found)
    return SpaceEmbedding(F.normalize(vector, dim=-1), information)


@torch.inference_mode()
def fusion(bundle: ModelBundle, parts: Sequence[WeightedPart]) -> dict[str, SpaceEmbedding]:
    """Per space, the parts' vectors weighted by weight * information ** FUSION_POWER."""
    _check(parts)
    found = [(part.weight, bundle.embed_spaces(dict(part.inputs))) for part in parts]
    return {space: fuse_predictions([(w, e[space]) for w, e in found]) for space in bundle.spaces}


COMBINATIONS: dict[str, Combination] = {"joint": joint, "guidance": guidance, "fusion": fusion}
"""Every way of combining weighted query parts, by name."""


def combine(
    bundle: ModelBundle, parts: Sequence[WeightedPart], how: str
) -> dict[str, SpaceEmbedding]:
    """The prediction per space of a weighted query, combined the named way."""
    if how not in COMBINATIONS:
        raise CombinationError(f"unknown combination {how!r}; choose one of {list(COMBINATIONS)}")
    if len(parts) == 1 and parts[0].weight > 0:  # one part: every way ranks as its one pass
        return joint(bundle, [WeightedPart(parts[0].inputs)])
    return COMBINATIONS[how](bundle, parts)
