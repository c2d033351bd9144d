"""Random visibility masks as MultiMAE pretraining draws them (Dirichlet over modalities).

Replays the reference's sequence of torch random ops on the global generator, so after
``torch.manual_seed(s)`` it gives the same masks as the reference does for that seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SampledMasks:
    """One draw: visibility per modality and the sampler's intermediate values."""

    visible: dict[str, Tensor]  # modality -> bool [B, N_m], True = given to the encoder
    task_sampling_dist: Tensor  # [B, n] Dirichlet draw
    samples_per_task: Tensor  # [B, n] int64, rounded token budget per modality
    ids_keep: Tensor  # [B, K]
    ids_restore: Tensor  # [B, N]


def sample_visible(
    layout: Sequence[tuple[str, int]], batch: int, num_encoded: int, alpha: float = 1.0
) -> SampledMasks:
    """Exactly ``num_encoded`` visible tokens per sample, split across modalities by Dirichlet."""
    n = len(layout)
    dist = torch.distributions.Dirichlet(torch.full((n,), float(alpha))).sample((batch,))
    per_task = (dist * num_encoded).round().long()  # [B, n]
    masks = []
    for i, (_, count) in enumerate(layout):
        order = torch.argsort(torch.rand(batch, count), dim=1)
        rank = torch.arange(count).unsqueeze(0).expand(batch, -1).gather(1, order)
        masks.append(torch.where(rank < per_task[:, i : i + 1], 0, 1))  # 1 = masked
    mask_all = torch.cat(masks, dim=1)  # [B, N]
    ids_shuffle = torch.argsort(mask_all + torch.rand_like(mask_all.float()), dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    final = torch.ones_like(mask_all)
    final[:, :num_encoded] = 0  # the first K shuffled positions are visible
    final = torch.gather(final, 1, ids_restore)
    parts = torch.split(final, [count for _, count in layout], dim=1)
    visible = {name: part == 0 for (name, _), part in zip(layout, parts, strict=True)}
    return SampledMasks(visible, dist, per_task, ids_shuffle[:, :num_encoded], ids_restore)
