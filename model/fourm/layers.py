"""Transformer building blocks of the 4M encoder and decoder (plain PyTorch, reference key names).

Masks are boolean with True = "may not attend"; they become an additive bias holding the most
negative finite value of the dtype, exactly like the reference's ``masked_fill(-finfo.max)``: a
fully masked row gives a uniform softmax, not NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def mask_to_bias(blocked: Tensor, dtype: torch.dtype) -> Tensor:
    """Boolean "may not attend" mask -> additive attention bias of ``dtype``."""
    bias = torch.zeros(blocked.shape, dtype=dtype, device=blocked.device)
    return bias.masked_fill(blocked, -torch.finfo(dtype).max)


class LayerNorm(nn.Module):
    """LayerNorm whose bias can be switched off; then it is a zero buffer (as in checkpoints)."""

    def __init__(self, dim: int, eps: float = 1e-6, bias: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        if bias:
            self.bias = nn.Parameter(torch.zeros(dim))
        else:
            self.register_buffer("bias", torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise over the last axis."""
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


class KVCache:
    """Keys and values of the positions a decoder block has seen, grown one step at a time."""

    def __init__(self) -> None:
        self.k: Tensor | None = None  # [B, h, T, d]
        self.v: Tensor | None = None
        self.context: tuple[Tensor, Tensor] | None = None  # cross-attention keys and values

    def extend(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append the new positions' keys and values; return all of them."""
        self.k = k if self.k is None else torch.cat([self.k, k], 2)
        self.v = v if self.v is None else torch.cat([self.v, v], 2)
        return self.k, self.v


def _attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> Tensor:
    """Scaled dot-product attention; q [B,h,N,d], k/v [B,h,M,d], bias broadcast to [B,h,N,M]."""
    if k.shape[-2] == 0:  # nothing to attend to: the reference's empty softmax yields zeros
        return torch.zeros_like(q)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


class FeedForward(nn.Module):
    """MLP, or gated MLP (SwiGLU with SiLU) whose hidden width is 2/3 of ``hidden``."""

    def __init__(
        self, dim: int, hidden: int, act: type[nn.Module], gated: bool, bias: bool
    ) -> None:
        super().__init__()
        if gated:
            hidden = int(2 * hidden / 3)
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.act = act()
        self.fc2 = nn.Linear(hidden, dim, bias=bias)
        self.fc3 = nn.Linear(dim, hidden, bias=bias) if gated else None

    def forward(self, x: Tensor) -> Tensor:
        """[.., D] -> [.., D]."""
        h = self.act(self.fc1(x))
        if self.fc3 is not None:
            h = h * self.fc3(x)
        return self.fc2(h)


@dataclass(frozen=True)
class BlockSpec:
    """The shape options every encoder and decoder block of one model shares (from its config).

    The defaults are the plain ViT block (GELU MLP, every bias, no gating, no QK-norm), which is
    what MultiMAE uses; 4M configs set each option.
    """

    dim: int
    num_heads: int
    mlp_ratio: float
    act: type[nn.Module] = nn.GELU
    qkv_bias: bool = True
    proj_bias: bool = True
    mlp_bias: bool = True
    norm_bias: bool = True
    gated_mlp: bool = False
    qk_norm: bool = False

    @classmethod
    def from_config(cls, config: object, **given: Any) -> BlockSpec:
        """The options ``config`` carries under the same names, then ``given``; the rest at
        their defaults."""
        named = {f.name: getattr(config, f.name) for f in fields(cls) if hasattr(config, f.name)}
        return cls(**(named | given))

    def norm(self) -> LayerNorm:
        """A LayerNorm of the block width."""
        return LayerNorm(self.dim, bias=self.norm_bias)

    def mlp(self) -> FeedForward:
        """The block's feed-forward network."""
        hidden = int(self.dim * self.mlp_ratio)
        return FeedForward(self.dim, hidden, self.act, self.gated_mlp, self.mlp_bias)


class _MultiHead(nn.Module):
    """What self- and cross-attention share: input projections, heads, optional QK-norm, output.

    ``inputs`` names the input projections and their widths in multiples of ``dim``
    (``{"qkv": 3}`` fused, or ``{"q": 1, "kv": 2}``), so the keys match the reference.
    """

    def __init__(self, spec: BlockSpec, inputs: dict[str, int]) -> None:
        super().__init__()
        self.num_heads = spec.num_heads
        for name, width in inputs.items():
            self.add_module(name, nn.Linear(spec.dim, width * spec.dim, bias=spec.qkv_bias))
        self.proj = nn.Linear(spec.dim, spec.dim, bias=spec.proj_bias)
        head_dim = spec.dim // spec.num_heads
        if spec.qk_norm:
            self.q_norm = LayerNorm(head_dim, bias=spec.norm_bias)
            self.k_norm = LayerNorm(head_dim, bias=spec.norm_bias)
        else:
            self.q_norm = self.k_norm = None

    def heads(self, x: Tensor, parts: int) -> tuple[Tensor, ...]:
        """[B, N, parts * D] -> ``parts`` tensors of [B, h, N, d]."""
        B, N, _ = x.shape
        h = self.num_heads
        return x.view(B, N, parts, h, -1).permute(2, 0, 3, 1, 4).unbind(0)

    def output(self, out: Tensor) -> Tensor:
        """Attention output [B, h, N, d] -> projected [B, N, D]."""
        B, _, N, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(B, N, -1))


class Attention(_MultiHead):
    """Multi-head self-attention with a fused qkv projection and optional QK-norm."""

    qkv: nn.Linear

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__(spec, {"qkv": 3})

    def forward(self, x: Tensor, bias: Tensor | None = None, past: KVCache | None = None) -> Tensor:
        """x [B, N, D] -> [B, N, D]; bias [B, 1, N|1, N] additive.

        With ``past`` the keys and values of ``x`` are appended to it and ``x`` attends to every
        cached position (incremental causal decoding: one new token at a time, no bias needed).
        """
        q, k, v = self.heads(self.qkv(x), 3)  # each [B, h, N, d]
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if past is not None:
            k, v = past.extend(k, v)  # [B, h, past + N, d]
        return self.output(_attend(q, k, v, bias))


class CrossAttention(_MultiHead):
    """Multi-head attention from decoder queries to the encoder context."""

    q: nn.Linear
    kv: nn.Linear

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__(spec, {"q": 1, "kv": 2})

    def context_kv(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of the context, [B, h, M, d] each (normalised keys with QK-norm)."""
        k, v = self.heads(self.kv(context), 2)
        return (k if self.k_norm is None else self.k_norm(k)), v

    def forward(
        self,
        x: Tensor,
        context: Tensor,
        bias: Tensor | None = None,
        kv: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """x [B, N, D], context [B, M, D] -> [B, N, D]; bias [B, 1, 1, M] additive.

        ``kv`` are the context's keys and values from :meth:`context_kv`, when already computed.
        """
        (q,) = self.heads(self.q(x), 1)  # [B, h, N, d]
        if self.q_norm is not None:
            q = self.q_norm(q)
        k, v = kv if kv is not None else self.context_kv(context)  # [B, h, M, d]
        return self.output(_attend(q, k, v, bias))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: self-attention then feed-forward."""

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        self.norm1 = spec.norm()
        self.attn = Attention(spec)
        self.norm2 = spec.norm()
        self.mlp = spec.mlp()

    def forward(self, x: Tensor, bias: Tensor | None) -> Tensor:
        """x [B, N, D] -> [B, N, D]."""
        x = x + self.attn(self.norm1(x), bias)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: self-attention, cross-attention to the context, feed-forward."""

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        self.norm1 = spec.norm()
        self.self_attn = Attention(spec)
        self.cross_attn = CrossAttention(spec)
        self.query_norm = spec.norm()
        self.context_norm = spec.norm()
        self.norm2 = spec.norm()
        self.mlp = spec.mlp()

    def forward(
        self,
        y: Tensor,
        context: Tensor,
        self_bias: Tensor | None,
        cross_bias: Tensor | None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """y [B, N, D], context [B, M, D] -> [B, N, D].

        With ``cache``, ``y`` holds only the new positions of a causal sequence: they attend to
        the cached earlier ones, and the context's keys and values are computed once.
        """
        y = y + self.self_attn(self.norm1(y), self_bias, cache)
        kv = None
        if cache is not None:
            if cache.context is None:
                cache.context = self.cross_attn.context_kv(self.context_norm(context))
            kv = cache.context
        y = y + self.cross_attn(self.query_norm(y), self.context_norm(context), cross_bias, kv)
        return y + self.mlp(self.norm2(y))
