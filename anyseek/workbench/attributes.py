"""An auxiliary head that reads each scene's objects off its image vector: training only.

The contrastive loss asks an image vector to tell its scene from the batch's others, and a scene
is told apart well enough by a bag of its colours and shapes. A one-object caption ("a small red
cube") asks more: that the red and the cube belong to *one* object. Measured on v7, the top 10
images of such a caption nearly always have something red (0.997) and some cube (0.969), but
only 0.63 have a red cube. So this head asks the image vector itself, by a linear classifier
per conjunction, which objects the scene has: every (shape, colour), (shape, colour, size),
(shape, colour, material) and (shape, colour, size, material) of its visible objects, a
multi-label sigmoid each. A vector from which "has a red cube" is one linear read is one in
which a caption's vector can point at it. The head is not part of the served model.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from anyseek.workbench.presence import ATTRIBUTES

#: the conjunctions the head predicts, as attribute tuples (each a block of labels)
CONJUNCTIONS: tuple[tuple[str, ...], ...] = (
    ("shape", "color"),
    ("shape", "color", "size"),
    ("shape", "color", "material"),
    ("shape", "color", "size", "material"),
)
PRIOR = 0.05  # the head's bias starts at this rate of presence (a scene has ~4 of ~60 pairs)


@functools.cache
def _cardinality() -> dict[str, int]:
    """Attribute -> how many values it takes, from the scene generator's own lists."""
    from anyseek.scenes.scene import COLORS, MATERIALS, SHAPES, SIZES

    return {"shape": len(SHAPES), "color": len(COLORS), "size": len(SIZES),
            "material": len(MATERIALS)}  # fmt: skip


def _offsets() -> list[int]:
    """Where each conjunction's block of labels starts, and (last) how many labels there are."""
    sizes = _cardinality()
    blocks = [math.prod(sizes[a] for a in group) for group in CONJUNCTIONS]
    return [sum(blocks[:i]) for i in range(len(blocks) + 1)]


def label_count() -> int:
    """How many conjunction labels a scene has (the head's width)."""
    return _offsets()[-1]


def conjunction_index(group: tuple[str, ...], codes: torch.Tensor) -> torch.Tensor:
    """Objects' codes [..., 4] -> their label in ``group``'s block (mixed radix, then offset)."""
    sizes = _cardinality()
    index = torch.zeros(codes.shape[:-1], dtype=torch.long)
    for attribute in group:
        index = index * sizes[attribute] + codes[..., ATTRIBUTES.index(attribute)].clamp(min=0)
    return _offsets()[CONJUNCTIONS.index(group)] + index


def label_of(fact: dict[str, str]) -> int | None:
    """The label of one stated object ({attribute: value}), or None when what it states is
    not one of ``CONJUNCTIONS`` or names a value the scene generator does not have."""
    from anyseek.workbench.presence import _code

    group = next((g for g in CONJUNCTIONS if set(g) == set(fact)), None)
    if group is None:
        return None
    codes = torch.tensor([_code(a, fact[a]) if a in fact else 0 for a in ATTRIBUTES])
    if any(codes[ATTRIBUTES.index(a)] < 0 for a in group):
        return None
    return int(conjunction_index(group, codes))


def conjunction_labels(objects: torch.Tensor) -> torch.Tensor:
    """[N, M, 4] object codes (``anyseek.workbench.presence.encode_scenes``; padding negative) ->
    [N, L] float multi-hot: scene i has an object with conjunction l."""
    codes = objects.long()
    real = (codes >= 0).all(-1)  # [N, M]: a visible object, not padding
    rows = torch.arange(len(codes))[:, None].expand(real.shape)
    labels = torch.zeros(len(codes), label_count())
    for group in CONJUNCTIONS:
        labels[rows[real], conjunction_index(group, codes)[real]] = 1.0
    return labels


class AttributeHead(nn.Module):
    """A linear classifier of unit image vectors [B, D] -> conjunction logits [B, L]."""

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(embed_dim, label_count())
        nn.init.constant_(self.linear.bias, math.log(PRIOR / (1 - PRIOR)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[B, D] -> [B, L]. Unit vectors are scaled by sqrt(D) to entries of about unit size:
        read as they are, a step of AdamW moves a logit ~16x less, and in a 1,000-step arm the
        head stayed near the labels' base rate (loss 17.1 -> 14.4 in 548 steps; 16.4 is the
        base rate's)."""
        return self.linear(unit_scaled(images))


def unit_scaled(vectors: torch.Tensor) -> torch.Tensor:
    """Unit vectors [B, D] scaled by sqrt(D) to entries of about unit size: what a linear
    reader of them (this head, a probe) takes, so that a step of Adam moves a logit as far as
    it would on ordinary features."""
    return vectors.float() * vectors.shape[-1] ** 0.5


def attribute_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sigmoid loss summed over the labels, averaged over scenes and conjunction blocks."""
    total = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum")
    return total / (len(logits) * len(CONJUNCTIONS))
