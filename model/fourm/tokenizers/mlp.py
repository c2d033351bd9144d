"""Bottleneck MLP encoder/decoder of the official global-embedding tokenizers.

``linear_in`` to a thin width, then residual blocks ``x + Linear(thin->wide) -> GELU ->
Linear(wide->thin)`` each applied to ``LayerNorm(x)`` (torch's default eps 1e-5 here, unlike the
ViTs), then ``linear_out``. Applied point-wise to every cell of a ``[B, C, H, W]`` map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MLPSize:
    """Number of residual blocks, thin width and expansion factor of a bottleneck MLP."""

    blocks: int
    width: int
    expansion: int = 4


class BottleneckBlock(nn.Module):
    """``Linear(thin->wide) -> GELU -> Linear(wide->thin)``; the residual is added by the caller."""

    def __init__(self, thin: int, wide: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(thin, wide), nn.GELU(), nn.Linear(wide, thin))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., thin] -> [..., thin]``."""
        return self.block(x)


class BottleneckMLP(nn.Module):
    """Point-wise residual MLP mapping ``dim_in`` channels to ``dim_out`` channels."""

    def __init__(self, size: MLPSize, *, dim_in: int | None, dim_out: int | None) -> None:
        super().__init__()
        thin, wide = size.width, size.width * size.expansion
        self.dim_in = dim_in or thin
        self.dim_out = dim_out or thin
        self.linear_in = nn.Linear(self.dim_in, thin)
        self.blocks = nn.ModuleList([BottleneckBlock(thin, wide) for _ in range(size.blocks)])
        self.layernorms = nn.ModuleList([nn.LayerNorm(thin) for _ in range(size.blocks)])
        self.linear_out = nn.Linear(thin, self.dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, dim_in, H, W] -> [B, dim_out, H, W]`` (also accepts ``[B, N, dim_in]``)."""
        as_map = x.ndim == 4
        if as_map:
            b, _, h, w = x.shape
            x = x.flatten(2).transpose(1, 2)  # [B, H*W, C]
        x = self.linear_in(x)
        for block, norm in zip(self.blocks, self.layernorms, strict=True):
            x = x + block(norm(x))
        x = self.linear_out(x)
        if as_map:
            x = x.transpose(1, 2).reshape(b, -1, h, w)
        return x
