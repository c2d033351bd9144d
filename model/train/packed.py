"""A masked batch packed on the host so that the training forward never waits for the device.

``masked_loss`` asks the device data-dependent questions every step (how many tokens are visible
at most, is there padding, does a modality have targets): each answer is a host sync that stalls
the launch queue, and a graph break for ``torch.compile``. The batch is built on the CPU anyway,
so :func:`pack_batch` answers them there (in the DataLoader workers) and :func:`packed_loss`
runs the same network on the precomputed gather indices and masks: same loss within float
tolerance, no sync, one graph. ``length`` pads the encoder slots to a fixed count so that every
step has the same shapes (a compiled step then never recompiles).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from model.fourm.batch import EncoderContext, EncoderInput, ModalityTokens
from model.fourm.config import FourMConfig
from model.fourm.layers import mask_to_bias
from model.fourm.modalities import Kind, get_modality
from model.fourm.network import DecoderSegment, FourM, gather_rows, segment_mask
from model.train.alignment import Alignment, combined_loss
from model.train.losses import target_losses


@dataclass(frozen=True)
class PackedTarget:
    """The queries of one target modality: which positions they predict and the labels there."""

    name: str
    positions: Tensor  # [B, M] long, position of each query in the modality
    padding: Tensor  # [B, M] bool, True = padding query
    labels: Tensor  # [B, M] long, -100 at padding queries


@dataclass(frozen=True)
class PackedBatch:
    """Encoder inputs with their compacting indices, and the decoder targets, all precomputed."""

    inputs: dict[str, tuple[Tensor, Tensor]]  # name -> (tensor, input_mask), encoder order
    index: Tensor  # [B, T] long, slot -> token of the concatenated inputs
    padding: Tensor  # [B, T] bool, True = padding slot
    padded: bool  # whether any slot is padding (no key-padding bias otherwise)
    targets: tuple[PackedTarget, ...]
    self_blocked: Tensor | None  # [B, M, M] decoder self-attention mask, True = may not attend

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PackedBatch:
        """The same batch on ``device``."""
        return self.apply(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> PackedBatch:
        """The same batch in page-locked memory (DataLoader ``pin_memory`` calls this)."""
        return self.apply(lambda t: t.pin_memory())

    def apply(self, move: Callable[[Tensor], Tensor]) -> PackedBatch:
        """The same batch with ``move`` applied to every tensor."""
        return PackedBatch(
            inputs={k: (move(a), move(b)) for k, (a, b) in self.inputs.items()},
            index=move(self.index),
            padding=move(self.padding),
            padded=self.padded,
            targets=tuple(
                PackedTarget(t.name, move(t.positions), move(t.padding), move(t.labels))
                for t in self.targets
            ),
            self_blocked=None if self.self_blocked is None else move(self.self_blocked),
        )


def compact_to(selected: Tensor, length: int | None = None) -> tuple[Tensor, Tensor]:
    """``fourm.compact`` (selected slots first, in order) to at least ``length`` slots."""
    count = int(selected.sum(1).max()) if selected.numel() else 0
    count = min(selected.shape[1], max(count, length or 0))
    order = torch.sort((~selected).to(torch.uint8), dim=1, stable=True).indices[:, :count]
    return order, ~torch.gather(selected, 1, order)


def pack_batch(
    config: FourMConfig, batch: Mapping[str, ModalityTokens], length: int | None = None
) -> PackedBatch:
    """Answer on the host every data-dependent question the training forward would ask."""
    if config.num_register_tokens:
        raise ValueError("packed batches do not support register tokens")
    inputs = {
        name: (entry.tensor, entry.input_mask)
        for name, entry in batch.items()
        if name in config.domains_in and get_modality(name).encoder is not None
    }
    hidden = torch.cat([mask for _, mask in inputs.values()], 1)
    index, padding = compact_to(~hidden, length)
    targets = []
    for name, entry in batch.items():
        if name not in config.domains_out or entry.target_mask is None:
            continue
        selected = entry.targets()
        if not bool(selected.any()):
            continue
        if get_modality(name).kind is Kind.TOKEN_SEQUENCE:
            raise ValueError(f"packed batches do not support sequence targets ({name})")
        positions, pad = compact_to(selected)
        labels = torch.gather(entry.tensor.long(), 1, positions).masked_fill(pad, -100)
        targets.append(PackedTarget(name, positions, pad, labels))
    return PackedBatch(
        inputs=inputs,
        index=index,
        padding=padding,
        padded=bool(padding.any()),
        targets=tuple(targets),
        self_blocked=_self_blocked(config, targets),
    )


def _self_blocked(config: FourMConfig, targets: list[PackedTarget]) -> Tensor | None:
    """The decoder self-attention mask ``FourM.segment_mask`` builds for these targets."""
    if not targets:
        return None
    segments = [
        DecoderSegment(t.name, t.padding[..., None].float(), t.padding, causal=False)
        for t in targets
    ]
    return segment_mask(config, segments)


def packed_embed(model: FourM, packed: PackedBatch) -> EncoderInput:
    """``FourM.embed_inputs`` with the compacting indices given."""
    xs, embs = [], []
    for name, (tensor, input_mask) in packed.inputs.items():
        x, emb = model.encoder_embeddings[name](tensor, input_mask)  # [B, N, D] x2
        xs.append(x)
        embs.append(emb)
    pad = packed.padding[..., None]
    x = gather_rows(torch.cat(xs, 1), packed.index).masked_fill(pad, 0.0)
    emb = gather_rows(torch.cat(embs, 1), packed.index).masked_fill(pad, 0.0)
    return EncoderInput(tokens=x, emb=emb, padding=packed.padding)


def packed_context(model: FourM, packed: PackedBatch) -> tuple[EncoderContext, Tensor | None]:
    """Encoder context of a packed batch and its key-padding bias [B, 1, 1, T] (None: none)."""
    enc = packed_embed(model, packed)
    bias = None
    if packed.padded:
        bias = mask_to_bias(packed.padding[:, None, None, :], enc.tokens.dtype)
    return model.encode_biased(enc, bias), bias


def packed_hidden(
    model: FourM, packed: PackedBatch, ctx: EncoderContext, cross_bias: Tensor | None
) -> list[Tensor]:
    """Final decoder hidden states [B, M_i, D] of each target of a packed batch."""
    queries = torch.cat([model.mask_queries(t.name, t.positions) for t in packed.targets], 1)
    self_bias = None
    if packed.self_blocked is not None:
        self_bias = mask_to_bias(packed.self_blocked[:, None], queries.dtype)
    if cross_bias is not None:
        cross_bias = cross_bias.to(queries.dtype)
    hidden = model.decode_biased(queries, ctx.context, self_bias, cross_bias)
    return list(hidden.split([t.positions.shape[1] for t in packed.targets], 1))


def packed_loss(
    model: FourM,
    packed: PackedBatch,
    live: int | None = None,
    soft: Mapping[str, Tensor] | None = None,
    align: Alignment | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """``fm_train.masked_loss`` of a packed batch; the parts stay on the device (no sync).

    ``align`` adds the retrieval alignment term (:mod:`model.train.alignment`), weighted, from the
    same encoder pass.
    """
    ctx, bias = packed_context(model, packed)
    hidden = packed_hidden(model, packed, ctx, bias)
    targets = packed.targets
    losses = target_losses(
        model,
        [t.name for t in targets],
        hidden,
        [t.labels for t in targets],
        [t.positions for t in targets],
        live,
        soft,
    )
    total = combined_loss(model, ctx, losses, align, live)
    return total, losses


def pad_sequence(entry: ModalityTokens, length: int) -> ModalityTokens:
    """A [B, L] token sequence padded to ``length`` with hidden, untargeted [PAD] (id 0) tokens."""
    extra = length - entry.tensor.shape[1]
    if extra <= 0:
        return entry
    B = entry.tensor.shape[0]
    hidden = torch.ones(B, extra, dtype=torch.bool)
    target = None if entry.target_mask is None else torch.cat([entry.target_mask, hidden], 1)
    return ModalityTokens(
        torch.cat([entry.tensor, entry.tensor.new_zeros(B, extra)], 1),
        torch.cat([entry.input_mask, hidden], 1),
        target,
    )
