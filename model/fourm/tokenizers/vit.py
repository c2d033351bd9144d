"""ViT encoder and decoder of the official 4M VQ-VAE / DiVAE tokenizers (inference only).

Pre-norm transformer blocks (LayerNorm eps 1e-6, biases everywhere, exact-erf GELU MLP), a fixed
2-D sin-cos position table stored as a parameter, optional tanh "post-MLP" (ViT-VQGAN) and, in
the decoder, optional ConvNeXt output blocks. Module names match the official state dicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LN_EPS = 1e-6


@dataclass(frozen=True)
class ViTSize:
    """Width, depth and heads of one ViT preset."""

    dim: int
    depth: int
    heads: int
    mlp_ratio: float = 4.0


def sincos_2d(rows: int, cols: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos table ``[1, dim, rows, cols]``: first half from the row."""
    if dim % 4:
        raise ValueError(f"2-D sin-cos position embedding needs a width divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / (10000.0 ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    r, c = torch.meshgrid(
        torch.arange(rows, dtype=torch.float32),
        torch.arange(cols, dtype=torch.float32),
        indexing="ij",
    )
    out_r = r.flatten()[:, None] * omega[None]
    out_c = c.flatten()[:, None] * omega[None]
    table = torch.cat([out_r.sin(), out_r.cos(), out_c.sin(), out_c.cos()], dim=1)  # [R*C, dim]
    return table.t().reshape(1, dim, rows, cols)


def resize_pos_emb(pos_emb: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Position table ``[1, rows*cols, dim]`` for a token grid (bicubic when resized)."""
    if pos_emb.shape[-2:] != (rows, cols):
        pos_emb = F.interpolate(pos_emb, size=(rows, cols), mode="bicubic", align_corners=False)
    return pos_emb.flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    """Two linear layers with an activation between them (GELU in blocks, Tanh in the post-MLP)."""

    def __init__(self, dim: int, hidden: int, act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = act()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., dim] -> [..., dim]``."""
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` projection grouped as (q|k|v, head, dim)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, N, C] -> [B, N, C]``."""
        b, n, c = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # [B, heads, N, head_dim]
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, N, C] -> [B, N, C]``."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTEncoder(nn.Module):
    """Image (or feature map) ``[B, C, H, W]`` -> token features ``[B, dim, H/P, W/P]``.

    With ``patch_proj`` a strided Conv2d cuts PxP patches; without it a 1x1 conv projects each cell
    of an already patch-level feature map.
    """

    def __init__(
        self,
        size: ViTSize,
        *,
        in_channels: int,
        patch_size: int,
        resolution: int,
        patch_proj: bool = True,
        post_mlp: bool = False,
    ) -> None:
        super().__init__()
        if resolution % patch_size:
            raise ValueError(f"image size {resolution} is not divisible by patch size {patch_size}")
        self.dim_tokens = size.dim
        self.patch_size = patch_size
        self.patch_proj = patch_proj
        grid = resolution // patch_size
        self.pos_emb = nn.Parameter(sincos_2d(grid, grid, size.dim), requires_grad=False)
        kernel = patch_size if patch_proj else 1
        self.proj = nn.Conv2d(in_channels, size.dim, kernel_size=kernel, stride=kernel)
        self.blocks = nn.Sequential(
            *[Block(size.dim, size.heads, size.mlp_ratio) for _ in range(size.depth)]
        )
        if post_mlp:
            self.norm_mlp = nn.LayerNorm(size.dim, eps=LN_EPS)
            self.post_mlp = Mlp(size.dim, int(size.mlp_ratio * size.dim), act=nn.Tanh)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, dim, H/P, W/P]``."""
        x = self.proj(x)  # [B, dim, nh, nw]
        _, _, nh, nw = x.shape
        x = x.flatten(2).transpose(1, 2) + resize_pos_emb(self.pos_emb, nh, nw)
        x = self.blocks(x)
        if hasattr(self, "post_mlp"):
            x = x + self.post_mlp(self.norm_mlp(x))
        return x.transpose(1, 2).reshape(x.shape[0], -1, nh, nw)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block (depthwise 7x7, LayerNorm, pointwise MLP, layer scale) after the decoder."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, C, H, W]``."""
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y)))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class ViTDecoder(nn.Module):
    """Token features ``[B, dim, nh, nw]`` -> image ``[B, C_out, nh*P, nw*P]``.

    The output projection emits ``C_out * P * P`` values per token, unpatchified with the channel
    axis outermost: ``(c, ph, pw)``.
    """

    def __init__(
        self,
        size: ViTSize,
        *,
        out_channels: int,
        patch_size: int,
        resolution: int,
        patch_proj: bool = True,
        post_mlp: bool = False,
        out_conv: bool = False,
    ) -> None:
        super().__init__()
        if resolution % patch_size:
            raise ValueError(f"image size {resolution} is not divisible by patch size {patch_size}")
        self.dim_tokens = size.dim
        self.out_channels = out_channels
        self.patch = patch_size if patch_proj else 1
        grid = resolution // patch_size
        self.pos_emb = nn.Parameter(sincos_2d(grid, grid, size.dim), requires_grad=False)
        self.blocks = nn.Sequential(
            *[Block(size.dim, size.heads, size.mlp_ratio) for _ in range(size.depth)]
        )
        if post_mlp:
            self.norm_mlp = nn.LayerNorm(size.dim, eps=LN_EPS)
            self.post_mlp = Mlp(size.dim, int(size.mlp_ratio * size.dim), act=nn.Tanh)
        self.out_proj = nn.Linear(size.dim, out_channels * self.patch * self.patch)
        if out_conv:
            self.out_conv = nn.Sequential(ConvNeXtBlock(out_channels), ConvNeXtBlock(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, dim, nh, nw] -> [B, C_out, nh*P, nw*P]``."""
        b, _, nh, nw = x.shape
        x = x.flatten(2).transpose(1, 2) + resize_pos_emb(self.pos_emb, nh, nw)
        x = self.blocks(x)
        if hasattr(self, "post_mlp"):
            x = x + self.post_mlp(self.norm_mlp(x))
        x = self.out_proj(x)  # [B, nh*nw, C*P*P]
        p, c = self.patch, self.out_channels
        x = x.view(b, nh, nw, c, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, c, nh * p, nw * p)
        if hasattr(self, "out_conv"):
            x = self.out_conv(x)
        return x
