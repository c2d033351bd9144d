"""The 4M training objective: which decoder queries a masked batch asks, and their labels.

``target_segments`` turns a masked batch into one decoder segment per target modality with the
token each query must predict; ``training_logits`` is the full training pass over them and
``fm_train.masked_loss`` the cross-entropy the built-in model is trained with. Image-like
targets are predicted in parallel from mask tokens; sequence targets are teacher-forced (query i
sees token i and predicts token i+1) with causal attention inside the sequence. Each target
attends only to itself, as with ``decoder_sep_mask``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from model.fourm.batch import EncoderContext, ModalityTokens, TargetLogits
from model.fourm.embeddings import visible_positions
from model.fourm.modalities import Kind, get_modality
from model.fourm.network import DecoderSegment, FourM, compact


@dataclass(frozen=True)
class TargetSegment:
    """The decoder queries of one target modality with the labels and positions they predict."""

    segment: DecoderSegment
    labels: Tensor  # [B, M] token id each query predicts
    positions: Tensor  # [B, M] position in the modality of each query


def target_segment(model: FourM, name: str, entry: ModalityTokens) -> TargetSegment:
    """Decoder queries, labels and positions for one target modality of a training batch."""
    ids = entry.tensor.long()
    targets = entry.targets()  # [B, N]
    if get_modality(name).kind is Kind.TOKEN_SEQUENCE:
        emb = model.decoder_embedding(name)
        pair = targets[:, :-1] & targets[:, 1:]  # query at i predicts i+1
        index, padding = compact(pair)
        tpos = visible_positions(~targets).clamp(max=emb.pos_emb.shape[1] - 1)
        queries = emb.token_emb(torch.gather(ids, 1, index)) + emb.query_emb(
            torch.gather(tpos, 1, index)
        )
        segment = DecoderSegment(name, queries, padding, causal=True)
        return TargetSegment(segment, torch.gather(ids, 1, index + 1), index + 1)
    index, padding = compact(targets)
    segment = DecoderSegment(name, model.mask_queries(name, index), padding)
    return TargetSegment(segment, torch.gather(ids, 1, index), index)


def target_segments(
    model: FourM, batch: Mapping[str, ModalityTokens]
) -> tuple[EncoderContext, list[TargetSegment]]:
    """Encode the batch's inputs and build a segment for every output that has targets."""
    ctx = model.encode(model.embed_inputs(batch))
    found = [
        target_segment(model, name, entry)
        for name, entry in batch.items()
        if name in model.decoder_embeddings
        and entry.target_mask is not None
        and entry.targets().any()
    ]
    return ctx, found


def training_logits(model: FourM, batch: Mapping[str, ModalityTokens]) -> dict[str, TargetLogits]:
    """Logits for every target token (target_mask False) of every output of the model."""
    ctx, found = target_segments(model, batch)
    if not found:
        return {}
    hidden = model.decode_segments([t.segment for t in found], ctx)
    return {
        t.segment.name: TargetLogits(
            model.logits(t.segment.name, h), t.positions, t.labels, ~t.segment.padding
        )
        for t, h in zip(found, hidden, strict=True)
    }
