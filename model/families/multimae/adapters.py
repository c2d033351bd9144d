"""MultiMAE input adapters (pixels / class ids -> tokens) and spatial output adapters (-> pixels).

Key names follow the reference state dict (``pos_emb``, ``proj``, ``class_emb``, ``mask_token``,
``task_embeddings.<m>``, ``decoder.{q,kv,proj}``, ...), so checkpoints load 1:1. Position tables are
stored channels-first ``[1, D, h0, w0]`` and resized to the current grid at every call: bicubic
for pixel inputs, bilinear for semseg inputs and inside the output adapters (align_corners False).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from anyseek.model.fourm.embeddings import sincos_2d
from anyseek.model.fourm.layers import BlockSpec, CrossAttention, EncoderBlock

from .config import (
    SEMSEG,
    DecoderConfig,
    InputAdapterConfig,
    MultiMAEConfig,
    OutputAdapterConfig,
)

Grid = tuple[int, int]


def sincos_table(grid: Grid, dim: int) -> Tensor:
    """[1, dim, h, w] fixed sin-cos table (first half from the row), as the reference inits."""
    h, w = grid
    return sincos_2d(h, w, dim).transpose(1, 2).reshape(1, dim, h, w)


def grid_positions(pos_emb: Tensor, grid: Grid, mode: str) -> Tensor:
    """Stored table [1, D, h0, w0] resized to ``grid`` and flattened row-major -> [1, h*w, D]."""
    if tuple(pos_emb.shape[2:]) != tuple(grid):
        pos_emb = F.interpolate(pos_emb, size=grid, mode=mode, align_corners=False)
    return pos_emb.flatten(2).transpose(1, 2)


def _table(grid: Grid, dim: int, sincos: bool, learnable: bool) -> nn.Parameter:
    """The ``pos_emb`` parameter (always in the state dict; trainable only if learnable)."""
    init = sincos_table(grid, dim) if sincos else torch.randn(1, dim, *grid) * 0.02
    return nn.Parameter(init, requires_grad=learnable)


class PatchedInputAdapter(nn.Module):
    """Pixels [B, C, H, W] -> tokens [B, N, D]: non-overlapping patch projection + positions."""

    def __init__(self, cfg: InputAdapterConfig, dim: int, patch_size: int, grid: Grid) -> None:
        super().__init__()
        self.patch = max(1, patch_size // cfg.stride_level)
        self.proj = nn.Conv2d(cfg.num_channels, dim, kernel_size=self.patch, stride=self.patch)
        self.pos_emb = _table(grid, dim, cfg.sincos_pos_emb, cfg.learnable_pos_emb)

    def forward(self, x: Tensor, grid: Grid) -> Tensor:
        """x [B, C, H', W'] at the modality's resolution -> [B, h*w, D]."""
        tokens = self.proj(x).flatten(2).transpose(1, 2)  # [B, h*w, D], row-major
        return tokens + grid_positions(self.pos_emb, grid, "bicubic")


class SemSegInputAdapter(nn.Module):
    """Class ids [B, H/s, W/s] -> tokens [B, N, D]: class embedding, patch projection, positions."""

    def __init__(self, cfg: InputAdapterConfig, dim: int, patch_size: int, grid: Grid) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        self.patch = max(1, patch_size // cfg.stride_level)
        self.class_emb = nn.Embedding(cfg.num_classes, cfg.dim_class_emb)
        self.proj = nn.Conv2d(cfg.dim_class_emb, dim, kernel_size=self.patch, stride=self.patch)
        self.pos_emb = _table(grid, dim, cfg.sincos_pos_emb, cfg.learnable_pos_emb)

    def forward(self, ids: Tensor, grid: Grid) -> Tensor:
        """ids [B, h', w'] int64 -> [B, h*w, D]."""
        emb = self.class_emb(ids).permute(0, 3, 1, 2)  # [B, E, h', w']
        tokens = self.proj(emb).flatten(2).transpose(1, 2)  # [B, h*w, D]
        return tokens + grid_positions(self.pos_emb, grid, "bilinear")


def build_input_adapter(
    cfg: InputAdapterConfig, dim: int, patch_size: int, grid: Grid
) -> nn.Module:
    """The adapter class named by the config."""
    kind = SemSegInputAdapter if cfg.cls == SEMSEG else PatchedInputAdapter
    return kind(cfg, dim, patch_size, grid)


def block_spec(cfg: DecoderConfig | MultiMAEConfig) -> BlockSpec:
    """Block options of the encoder or the output adapters' decoder (the plain ViT block)."""
    return BlockSpec.from_config(cfg, dim=cfg.dim_tokens)


class SpatialOutputAdapter(nn.Module):
    """Cross-attention decoder: one task's queries attend to the visible context -> pixels."""

    def __init__(
        self, cfg: OutputAdapterConfig, dec: DecoderConfig, dim: int, patch_size: int, grid: Grid
    ) -> None:
        super().__init__()
        self.task = cfg.task
        self.channels = cfg.num_channels
        self.patch = max(1, patch_size // cfg.stride_level)
        dd = dec.dim_tokens
        spec = block_spec(dec)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.pos_emb = _table(grid, dd, not dec.learnable_pos_emb, dec.learnable_pos_emb)
        self.task_embeddings = nn.ParameterDict(
            {t: nn.Parameter(torch.zeros(1, 1, dd)) for t in sorted(dec.context_tasks)}
        )
        self.decoder = CrossAttention(spec)
        self.context_norm, self.query_norm, self.out_norm = spec.norm(), spec.norm(), spec.norm()
        self.mlp = spec.mlp()
        self.decoder_transformer = nn.ModuleList(EncoderBlock(spec) for _ in range(dec.depth))
        self.out_proj = nn.Linear(dd, cfg.num_channels * self.patch * self.patch)
        self.proj_context = nn.Linear(dim, dd)

    def context_embedding(self, modality: str, grid: Grid) -> Tensor:
        """Task embedding + resized position table of one context modality -> [1, h*w, Dd]."""
        if modality not in self.task_embeddings:
            raise KeyError(modality)
        return self.task_embeddings[modality] + grid_positions(self.pos_emb, grid, "bilinear")

    def forward(
        self, hidden: Tensor, keep: Tensor, layout: Sequence[tuple[str, int]], grid: Grid
    ) -> Tensor:
        """Encoder output [B, K+G, D] of the K visible tokens ``keep`` [B, K] -> [B, C, h*p, w*p].

        ``layout`` lists the input modalities in token order with their token counts N_m.
        """
        B, K = keep.shape
        ctx = self.proj_context(hidden)  # [B, K+G, Dd]
        dd = ctx.shape[-1]
        n = sum(count for _, count in layout)
        # Full sequence in input order: projected encoder output if visible, else the mask token.
        full = self.mask_token.expand(B, n, dd).clone()
        full.scatter_(1, keep[..., None].expand(-1, -1, dd), ctx[:, :K])
        full = full + torch.cat([self.context_embedding(m, grid) for m, _ in layout], dim=1)
        queries = self._queries(full, layout, grid, B)  # [B, h*w, Dd]
        visible = torch.gather(full, 1, keep[..., None].expand(-1, -1, dd))  # [B, K, Dd]
        context = torch.cat([visible, ctx[:, K:]], dim=1)  # global tokens without embeddings
        x = self.decoder(self.query_norm(queries), self.context_norm(context))  # no residual
        x = x + self.mlp(self.out_norm(x))
        for block in self.decoder_transformer:
            x = block(x, None)
        return self.unpatchify(self.out_proj(x), grid)

    def _queries(
        self, full: Tensor, layout: Sequence[tuple[str, int]], grid: Grid, batch: int
    ) -> Tensor:
        """The task's own token range if it is an input, else mask tokens with its embeddings."""
        start = 0
        for modality, count in layout:
            if modality == self.task:
                return full[:, start : start + count]
            start += count
        query = self.mask_token + self.context_embedding(self.task, grid)  # [1, h*w, Dd]
        return query.expand(batch, -1, -1)

    def unpatchify(self, x: Tensor, grid: Grid) -> Tensor:
        """[B, h*w, C*p*p] (channel outermost) -> [B, C, h*p, w*p]."""
        B, (h, w), p, c = x.shape[0], grid, self.patch, self.channels
        x = x.reshape(B, h, w, c, p, p).permute(0, 3, 1, 4, 2, 5)  # [B, c, h, p, w, p]
        return x.reshape(B, c, h * p, w * p)
