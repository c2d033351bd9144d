"""Retrieval alignment: a contrastive term that trains the FM on what search actually scores.

The 4M objective teaches the FM to predict each masked global token on its own. Search does not
use tokens: it decodes the predicted token distributions to one vector per space (expected
decoding through the space's tokenizer) and ranks gallery images by cosine. A sketch cannot pin
down every token of an image's embedding, and per-token cross-entropy spends most of its signal
on tokens the sketch cannot know, so the vector it yields is a blurry average.

This term closes that gap. From the same encoder pass as the masked loss, the decoder predicts
all tokens of every space, the space's frozen tokenizer decodes them (differentiably) to a vector,
and an InfoNCE loss asks that vector to be nearer its own scene's teacher embedding than any other
scene's in the batch. The gradient thus goes to what tells scenes apart, which is retrieval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from model.fourm.batch import EncoderContext
from model.fourm.layers import mask_to_bias
from model.fourm.network import FourM


@dataclass(frozen=True)
class AlignmentConfig:
    """Weight and temperature of the retrieval alignment term (weight 0: the plain 4M loss)."""

    weight: float = 0.0
    temperature: float = 0.05
    spaces: tuple[str, ...] = ()
    """FM outputs the term aligns (e.g. ``("tok_dino_global",)``); empty: every space."""

    def aligned(self, space: str) -> bool:
        """Whether the term aligns ``space``."""
        return not self.spaces or space in self.spaces


class ExpectedDecoder(Protocol):
    """A global tokenizer that decodes token distributions [B, N, V] to vectors [B, C]."""

    vocab_size: int

    def decode_expected(self, probs: Tensor) -> Tensor:
        """Probability-weighted mean code of every token, decoded to a vector."""
        ...


def predicted_vectors(
    model: FourM,
    ctx: EncoderContext,
    decoders: Mapping[str, ExpectedDecoder],
    live: int | None = None,
) -> dict[str, Tensor]:
    """space -> [B, C] unit vectors from every token of each space, decoded as search does.

    One decoder pass over all positions of all spaces, each space attending only to itself and
    to the encoder's non-padded slots (``ctx.padding``). ``live`` restricts the output heads to
    their trained rows; the other codes get probability 0. Nothing here reads a value back from
    the device.
    """
    batch, device = ctx.context.shape[0], ctx.context.device
    names = list(decoders)
    sizes = [model.config.num_tokens(name) for name in names]
    queries = torch.cat(
        [
            model.mask_queries(name, torch.arange(n, device=device).expand(batch, n))
            for name, n in zip(names, sizes, strict=True)
        ],
        1,
    )  # [B, M, D], M = sum of the spaces' token counts
    space_of = torch.tensor([i for i, n in enumerate(sizes) for _ in range(n)], device=device)
    self_bias = mask_to_bias((space_of[:, None] != space_of[None, :])[None, None], queries.dtype)
    cross_bias = mask_to_bias(ctx.padding[:, None, None, :], queries.dtype)  # [B, 1, 1, T]
    hidden = model.decode_biased(queries, ctx.context, self_bias, cross_bias)  # [B, M, D]
    out = {}
    for name, h in zip(names, hidden.split(sizes, 1), strict=True):
        decoder = decoders[name]
        weight = model.decoder_embedding(name).to_logits.weight
        weight = weight if live is None else weight[:live]
        probs = (h @ weight.t()).softmax(-1, dtype=torch.float32)  # [B, N, live or V]
        probs = F.pad(probs, (0, decoder.vocab_size - probs.shape[-1]))  # [B, N, V]
        out[name] = F.normalize(decoder.decode_expected(probs).float(), dim=-1)
    return out


@dataclass(frozen=True)
class Alignment:
    """What the alignment term needs for one batch: anchors, frozen decoders, its config."""

    anchors: dict[str, Tensor]  # space -> [B, C] unit teacher embeddings of the batch's scenes
    decoders: dict[str, ExpectedDecoder]  # space -> its frozen tokenizer
    config: AlignmentConfig


def alignment_losses(
    model: FourM,
    ctx: EncoderContext,
    anchors: Mapping[str, Tensor],
    decoders: Mapping[str, ExpectedDecoder],
    temperature: float,
    live: int | None = None,
) -> dict[str, Tensor]:
    """``align_<space>`` -> InfoNCE of predicted vectors against the batch's anchors [B, C].

    Sample i's positive is anchor i; the other anchors of the batch are its negatives.
    """
    vectors = predicted_vectors(model, ctx, {s: decoders[s] for s in anchors}, live)
    losses = {}
    for space, q in vectors.items():
        a = anchors[space].to(q.device, q.dtype)  # [B, C]
        logits = q @ a.t() / temperature  # [B, B]
        labels = torch.arange(len(q), device=q.device)
        losses[f"align_{space}"] = F.cross_entropy(logits, labels)
    return losses


def combined_loss(
    model: FourM,
    ctx: EncoderContext,
    losses: dict[str, Tensor],
    align: Alignment | None,
    live: int | None = None,
) -> Tensor:
    """Mean of the per-target token losses plus the weighted alignment term when ``align`` is
    given; adds its ``align_<space>`` parts to ``losses`` (shared by both training paths)."""
    total = torch.stack(list(losses.values())).mean()
    if align is None:
        return total
    c = align.config
    aligned = alignment_losses(model, ctx, align.anchors, align.decoders, c.temperature, live)
    losses.update(aligned)
    return total + c.weight * torch.stack(list(aligned.values())).mean()
