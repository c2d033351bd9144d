"""Which scenes a caption fits, as tensors, and the sigmoid loss that teaches it.

Contrastive training tells the text tower that a caption belongs to its own scene and to no
other scene of the batch. That is right for a caption naming every object, and wrong for one
naming one or two ("a red cube", a person's "a teal pyramid next to a ball"): every scene of the
batch that has those objects fits it too. The *presence* loss scores every caption of a batch
against every image independently (a sigmoid per pair, as SigLIP does) with the true label: the
scene has every object the caption states (``anyseek.workbench.metrics.caption_facts``, after
people's synonyms become the scene's words). So the one-object and some-objects captions that people
type are pulled towards *all* the scenes that have what they say, and pushed from the rest.

Objects and stated facts become small integer tensors (one code per attribute, -1 where a caption
does not say), so a batch's [B, B] label matrix is a few tensor operations.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

ATTRIBUTES = ("shape", "color", "size", "material")
UNSTATED = -1  # a caption says nothing of this attribute
NO_OBJECT = -2  # padding of a scene's object list (matches no stated value)
MAX_FACTS = 8  # stated objects kept per caption


@functools.cache
def _codes() -> dict[str, dict[str, int]]:
    """Attribute -> value -> code, from the scene generator's own lists."""
    from anyseek.scenes.scene import COLORS, MATERIALS, SHAPES, SIZES

    values = {"shape": SHAPES, "color": tuple(COLORS), "size": tuple(SIZES), "material": MATERIALS}
    return {a: {v: i for i, v in enumerate(values[a])} for a in ATTRIBUTES}


def _code(attribute: str, value: str) -> int:
    """One attribute value's code (an unknown value matches nothing: it is never stated)."""
    return _codes()[attribute].get(value, NO_OBJECT)


def encode_scenes(scenes: Sequence[dict[str, Any]]) -> torch.Tensor:
    """Scene facts (``anyseek.scenes.tensors.scene_facts``) -> [N, M, 4] int8 codes, padded."""
    width = max((len(s["objects"]) for s in scenes), default=0) or 1
    out = torch.full((len(scenes), width, len(ATTRIBUTES)), NO_OBJECT, dtype=torch.int8)
    for i, scene in enumerate(scenes):
        for m, obj in enumerate(scene["objects"]):
            out[i, m] = torch.tensor([_code(a, obj[a]) for a in ATTRIBUTES], dtype=torch.int8)
    return out


@functools.lru_cache(maxsize=200_000)
def encode_caption(caption: str) -> torch.Tensor:
    """A caption -> [F, 4] int8 codes of the objects it states (UNSTATED where it does not say
    an attribute); [0, 4] when it states none."""
    from anyseek.model.vocabulary.synonyms import canonical_caption
    from anyseek.workbench.metrics import caption_facts

    facts = caption_facts(canonical_caption(caption))[:MAX_FACTS]
    out = torch.full((len(facts), len(ATTRIBUTES)), UNSTATED, dtype=torch.int8)
    for f, fact in enumerate(facts):
        for a, attribute in enumerate(ATTRIBUTES):
            if attribute in fact:
                out[f, a] = _code(attribute, fact[attribute])
    return out


def fits(captions: Sequence[str], objects: torch.Tensor) -> torch.Tensor:
    """[B, N] bool: scene j ([N, M, 4] ``objects``) has every object caption i states (every
    scene fits a caption that states none)."""
    encoded = [encode_caption(c) for c in captions]
    width = max((len(e) for e in encoded), default=0)
    if width == 0:
        return torch.ones(len(captions), len(objects), dtype=torch.bool)
    facts = torch.full((len(captions), width, len(ATTRIBUTES)), UNSTATED, dtype=torch.int8)
    stated = torch.zeros(len(captions), width, dtype=torch.bool)
    for i, e in enumerate(encoded):
        facts[i, : len(e)], stated[i, : len(e)] = e, True
    f = facts[:, :, None, None, :]  # [B, F, 1, 1, 4]
    o = objects[None, None].to(torch.int8)  # [1, 1, N, M, 4]
    attribute_ok = (f == UNSTATED) | (f == o)  # [B, F, N, M, 4]
    found = attribute_ok.all(-1).any(-1)  # [B, F, N]: some object of scene j is fact f
    return (found | ~stated[:, :, None]).all(1)


def trusted_rows(captions: Sequence[str], labels: torch.Tensor) -> torch.Tensor:
    """[B] bool: caption i (scene i's own) states an object and its own scene fits it. A caption
    that states nothing, or whose typos made it state what its scene lacks, teaches nothing
    true about which scenes fit it, so it is left out of the presence loss."""
    stated = torch.tensor([len(encode_caption(c)) > 0 for c in captions], dtype=torch.bool)
    return stated & labels.diagonal()


def initial_presence() -> torch.Tensor:
    """[log scale, bias] the loss starts from: the contrastive loss's scale (1 / 0.05), and a
    bias at the log-odds of a scene fitting a caption (about 2 in 100 of a batch), so that a
    pair the model knows nothing about starts at the rate of fits. SigLIP's -10 suits batches of
    thousands with one fit each; here the learning rate would take thousands of steps to move
    it, and in the meantime every fit costs ~10 and drags the embeddings (measured: the captions
    collapsed, ``lab/results/levers_presence.md``)."""
    return torch.tensor([math.log(20.0), math.log(0.02 / 0.98)])


def presence_loss(
    texts: torch.Tensor, images: torch.Tensor, labels: torch.Tensor, scale: torch.Tensor,
    bias: torch.Tensor,
) -> torch.Tensor:  # fmt: skip
    """Sigmoid loss of every (caption, image) pair [B, N] against whether the scene fits:
    summed over images, averaged over captions (SigLIP's normalisation)."""
    logits = scale * texts.float() @ images.float().t() + bias
    return F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="sum") / len(texts)
