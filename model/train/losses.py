"""The FM's per-target cross-entropy on decoder hidden states (shared by both training paths)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from model.fourm.network import FourM


def target_losses(
    model: FourM,
    names: Sequence[str],
    hidden: Sequence[Tensor],
    labels: Sequence[Tensor],
    positions: Sequence[Tensor],
    live: int | None = None,
    soft: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """name -> mean cross-entropy of its queries (labels -100 are padding), as 0-dim tensors.

    With ``live`` only the first ``live`` rows of each head are scored. ``soft`` (name ->
    [B, N, live] label distributions) replaces the one-hot labels of those targets. The log-softmax
    runs in float32 without a separate float32 copy of the logits.
    """
    losses = {}
    for name, h, y, index in zip(names, hidden, labels, positions, strict=True):
        weight = model.decoder_embedding(name).to_logits.weight
        logits = h @ (weight if live is None else weight[:live]).t()  # [B, M, V or live]
        logp = logits.log_softmax(-1, dtype=torch.float32)
        if soft is not None and name in soft:
            q = soft[name]  # [B, N, live] -> [B, M, live] at the predicted positions
            q = torch.gather(q, 1, index[..., None].expand(-1, -1, q.shape[-1]))
            nll = -(q * logp).sum(-1)  # [B, M]
            keep = y != -100
            losses[name] = (nll * keep).sum() / keep.sum().clamp(min=1)
        else:
            losses[name] = F.nll_loss(logp.flatten(0, 1), y.flatten(), ignore_index=-100)
    return losses
