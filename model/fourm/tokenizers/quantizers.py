"""Inference-only quantisers of the official 4M tokenizers: cosine/euclidean VQ and memcodes.

Both map a latent grid ``[B, D, H, W]`` to integer tokens and tokens back to the vectors the
decoder consumes. Their parameter and buffer names follow the official checkpoints, so a state
dict loads with strict key matching. No EMA updates, dead-code restarts or losses: tokenizing and
decoding are all anyseek needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Codebook(nn.Module):
    """Holds the codebook rows and the bookkeeping buffers the official files carry."""

    def __init__(self, codebook_size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("initted", torch.ones(1))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))  # unused at inference
        self.register_buffer("embed", torch.zeros(codebook_size, dim))


class VectorQuantizer(nn.Module):
    """Single-head VQ: token = nearest code (cosine when ``cosine``), decoding uses the raw row.

    With cosine similarity (the official ``norm_codes=True``) both the latent and every codebook
    row are L2-normalised before the dot product, but the vector handed to the decoder is the
    stored, un-normalised row: trained EMA codebooks are not unit-norm and the decoder saw them
    as stored.
    """

    def __init__(self, codebook_size: int, dim: int, *, cosine: bool = True) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.dim = dim
        self.cosine = cosine
        self._codebook = _Codebook(codebook_size, dim)

    @property
    def codebook(self) -> torch.Tensor:
        """The raw codebook, ``[codebook_size, dim]``."""
        return self._codebook.embed

    def quantize(self, latent: torch.Tensor) -> torch.Tensor:
        """Tokens ``[B, H, W]`` for a latent grid ``[B, D, H, W]``."""
        b, d, h, w = latent.shape
        flat = latent.float().permute(0, 2, 3, 1).reshape(-1, d)  # [B*H*W, D]
        codes = self.codebook.float()
        if self.cosine:
            scores = F.normalize(flat, dim=-1) @ F.normalize(codes, dim=-1).t()
        else:  # negative squared euclidean distance, as the reference computes it
            scores = -(
                flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codes.t() + codes.pow(2).sum(1)[None]
            )
        return scores.argmax(dim=-1).view(b, h, w)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Raw codebook rows for tokens ``[B, H, W]`` -> ``[B, D, H, W]``."""
        return F.embedding(tokens, self.codebook).permute(0, 3, 1, 2)

    def expected(self, probs: torch.Tensor) -> torch.Tensor:
        """Probability-weighted mean of the rows: ``[B, H, W, V]`` -> ``[B, D, H, W]``."""
        return (probs.to(self.codebook.dtype) @ self.codebook).permute(0, 3, 1, 2)


class Memcodes(nn.Module):
    """Multi-head "memcodes" quantiser: each head picks one code by attention-style scoring.

    The latent vector is split into ``heads`` chunks of ``dim // heads``. Head ``h`` scores its
    chunk (scaled by ``head_dim ** -0.5``) against keys ``codes[h] @ to_k[h]`` and emits the argmax;
    decoding takes the value row ``(codes[h] @ to_v[h])[token]`` of every head and concatenates
    them in head order. For the global-embedding tokenizers the latent grid is 1x1, so the 16
    tokens are the 16 heads of one vector.
    """

    def __init__(self, codebook_size: int, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"latent dim {dim} is not divisible by {heads} memcodes heads")
        self.codebook_size = codebook_size
        self.dim = dim
        self.heads = heads
        head_dim = dim // heads
        self.codes = nn.Parameter(torch.zeros(heads, codebook_size, head_dim))
        self.to_k = _HeadwiseLinear(heads, head_dim)
        self.to_v = _HeadwiseLinear(heads, head_dim)
        self._cache: dict[str, tuple[tuple, torch.Tensor]] = {}

    def _projected(self, which: str) -> torch.Tensor:
        """Keys or values of the whole codebook, ``[heads, codebook_size, head_dim]``.

        Projecting 16 x 8192 codes costs about a GFLOP, so the result is kept until the codes or
        the projection change (new weights, another device) instead of redone for every query.
        """
        proj = self.to_k if which == "k" else self.to_v
        key = tuple(_identity(t) for t in (self.codes, proj.weight))
        cached = self._cache.get(which)
        if cached is None or cached[0] != key:
            with torch.no_grad():
                cached = (key, proj(self.codes))
            self._cache[which] = cached
        return cached[1]

    def quantize(self, latent: torch.Tensor) -> torch.Tensor:
        """Tokens ``[B, heads, H, W]`` for a latent grid ``[B, D, H, W]``."""
        b, d, h, w = latent.shape
        head_dim = d // self.heads
        query = latent.permute(0, 2, 3, 1).reshape(b, h * w, self.heads, head_dim)
        query = query.permute(0, 2, 1, 3) * head_dim**-0.5  # [B, heads, H*W, head_dim]
        keys = self._projected("k")  # [heads, codebook_size, head_dim]
        scores = torch.einsum("bhnd,hjd->bhnj", query, keys)
        return scores.argmax(dim=-1).view(b, self.heads, h, w)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Decoder vectors ``[B, D, H, W]`` for tokens ``[B, heads, H, W]`` (heads concatenated)."""
        b, heads, h, w = tokens.shape
        values = self._projected("v")  # [heads, codebook_size, head_dim]
        picked = torch.stack(
            [values[i][tokens[:, i]] for i in range(heads)], dim=1
        )  # [B, heads, H, W, head_dim]
        return picked.permute(0, 1, 4, 2, 3).reshape(b, -1, h, w)

    def expected(self, probs: torch.Tensor) -> torch.Tensor:
        """Per head, the probability-weighted mean of the value rows, heads concatenated.

        probs ``[B, heads, H, W, V]`` -> ``[B, D, H, W]``; one-hot probabilities give ``embed``.
        """
        b, _, h, w, _ = probs.shape
        values = self._projected("v")  # [heads, codebook_size, head_dim]
        mixed = torch.einsum("bhxyv,hvd->bhdxy", probs.to(values.dtype), values)
        return mixed.reshape(b, -1, h, w)


def _identity(t: torch.Tensor) -> tuple:
    """Storage, placement and in-place version of a tensor (inference tensors have no version)."""
    return t.data_ptr(), t.device, t.dtype, None if t.is_inference() else t._version


class _HeadwiseLinear(nn.Module):
    """A separate bias-free ``d x d`` matrix per head: ``out[h] = x[h] @ weight[h]``."""

    def __init__(self, heads: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(heads, dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply each head's matrix to its rows: ``[heads, n, d] -> [heads, n, d]``."""
        return torch.einsum("hnd,hdc->hnc", x, self.weight)
