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

from model.batch import EncoderContext
from model.fourm import DecoderSegment, FourM


@dataclass(frozen=True)
class AlignmentConfig:
    """Weight and temperature of the retrieval alignment term (weight 0: the plain 4M loss)."""

    weight: float = 0.0
    temperature: float = 0.05


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

    One decoder pass over all positions of all spaces (each space attends only to itself);
    ``live`` restricts the output heads to their trained rows, the rest get probability 0.
    """
    batch = ctx.context.shape[0]
    device = ctx.context.device
    segments = []
    for name in decoders:
        n = model.config.num_tokens(name)
        positions = torch.arange(n, device=device).expand(batch, n)  # [B, N]
        padding = torch.zeros(batch, n, dtype=torch.bool, device=device)
        segments.append(DecoderSegment(name, model.mask_queries(name, positions), padding))
    hidden = model.decode_segments(segments, ctx)  # [B, N, D] per space
    out = {}
    for segment, h in zip(segments, hidden, strict=True):
        decoder = decoders[segment.name]
        weight = model.decoder_embedding(segment.name).to_logits.weight
        weight = weight if live is None else weight[:live]
        probs = (h @ weight.t()).float().softmax(-1)  # [B, N, live or V]
        probs = F.pad(probs, (0, decoder.vocab_size - probs.shape[-1]))  # [B, N, V]
        out[segment.name] = F.normalize(decoder.decode_expected(probs).float(), dim=-1)
    return out


def alignment_losses(
    model: FourM,
    ctx: EncoderContext,
    anchors: Mapping[str, Tensor],
    decoders: Mapping[str, ExpectedDecoder],
    temperature: float,
    live: int | None = None,
) -> dict[str, Tensor]:
    """space -> InfoNCE of predicted vectors against the batch's anchors [B, C] (unit vectors).

    Sample i's positive is anchor i; the other anchors of the batch are its negatives.
    """
    vectors = predicted_vectors(model, ctx, {s: decoders[s] for s in anchors}, live)
    losses = {}
    for space, q in vectors.items():
        a = anchors[space].to(q.device, q.dtype)
        logits = q @ a.t() / temperature  # [B, B]
        labels = torch.arange(len(q), device=q.device)
        losses[f"align_{space}"] = F.cross_entropy(logits, labels)
    return losses
