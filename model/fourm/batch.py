"""Typed batch structures passed between the FourM model, its samplers and training code.

Mask convention (the reference's): ``input_mask`` True = the token is hidden from the encoder;
``target_mask`` True = the token is NOT to be predicted. A fully visible input has input_mask all
False; an empty target has input_mask all True and target_mask all False.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor


@dataclass(frozen=True)
class ModalityTokens:
    """One modality of a sample: its tensor and masks (shapes [B, N] for the masks)."""

    tensor: Tensor  # [B, N] ids, [B, C, H, W] pixels, [B, H, W] class map or [B, L, E] vectors
    input_mask: Tensor  # [B, N] bool, True = hidden from the encoder
    target_mask: Tensor | None = None  # [B, N] bool, True = not a target (None: all True)

    @property
    def batch_size(self) -> int:
        """Number of samples."""
        return int(self.tensor.shape[0])

    def targets(self) -> Tensor:
        """[B, N] bool, True where a token is to be predicted."""
        if self.target_mask is None:
            return torch.zeros_like(self.input_mask)
        return ~self.target_mask

    def to(self, device: torch.device | str) -> ModalityTokens:
        """Same entry on another device."""
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return replace(
            self,
            tensor=self.tensor.to(device),
            input_mask=self.input_mask.to(device),
            target_mask=move(self.target_mask),
        )


@dataclass(frozen=True)
class EncoderInput:
    """Visible tokens of all input modalities, concatenated and compacted per sample."""

    tokens: Tensor  # [B, T, D] token features x
    emb: Tensor  # [B, T, D] position + modality embeddings
    padding: Tensor  # [B, T] bool, True = padding slot (sample had fewer visible tokens)


@dataclass(frozen=True)
class EncoderContext:
    """What the decoder cross-attends to: projected encoder output plus the input embeddings."""

    context: Tensor  # [B, T, D]
    padding: Tensor  # [B, T] bool, True = not a real token


@dataclass(frozen=True)
class TargetLogits:
    """Training output for one target modality: logits at its selected positions."""

    logits: Tensor  # [B, M, V]
    positions: Tensor  # [B, M] position in the modality of each query
    labels: Tensor  # [B, M] token id to predict
    valid: Tensor  # [B, M] bool, False = padding query (no loss)
