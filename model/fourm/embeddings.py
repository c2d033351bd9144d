"""Per-modality embedding modules: inputs -> (token features, position + modality embedding).

One class per ``modalities.Embedding`` kind; ``build_encoder_embedding`` and
``build_decoder_embedding`` pick it from the registry spec, so adding a modality never touches this
file. State-dict names (``mod_emb``, ``pos_emb``, ``proj``, ``token_emb``, ``emb_proj``,
``to_logits``) are the reference's.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from anyseek.model.fourm.modalities import Embedding, ModalitySpec

MAX_SINCOS_POSITIONS = 512  # the reference builds every 1-D table this long


def sincos_1d(length: int, dim: int) -> Tensor:
    """[1, length, dim] table: sin(p*w_i) ++ cos(p*w_i), w_i = 10000^(-i/(dim/2)), float32."""
    omega = 1.0 / (10000.0 ** (torch.arange(dim // 2, dtype=torch.float32) / (dim // 2)))
    angles = torch.arange(length, dtype=torch.float32)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)[None]


def sincos_2d(rows: int, cols: int, dim: int) -> Tensor:
    """[1, rows*cols, dim] table, row-major cells: first half from the row, then the column."""
    omega = 1.0 / (10000.0 ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4)))
    r, c = torch.meshgrid(
        torch.arange(rows, dtype=torch.float32),
        torch.arange(cols, dtype=torch.float32),
        indexing="ij",
    )
    ar = r.reshape(-1)[:, None] * omega[None]
    ac = c.reshape(-1)[:, None] * omega[None]
    return torch.cat([ar.sin(), ar.cos(), ac.sin(), ac.cos()], dim=1)[None]


def _position_table(module: nn.Module, spec: ModalitySpec, dim: int, image_size: int) -> None:
    """Register ``pos_emb``: fixed sin-cos buffer or learned parameter, shaped by the spec."""
    if spec.patch_size is not None:
        rows, cols = spec.grid_size(image_size)
        table = (
            sincos_2d(rows, cols, dim) if spec.sincos_pos_emb else torch.zeros(1, rows * cols, dim)
        )
    else:
        length = MAX_SINCOS_POSITIONS if spec.sincos_pos_emb else spec.max_length
        table = sincos_1d(length, dim) if spec.sincos_pos_emb else torch.zeros(1, length, dim)
    if spec.sincos_pos_emb:
        module.register_buffer("pos_emb", table)
    else:
        module.pos_emb = nn.Parameter(table)
        nn.init.normal_(module.pos_emb, std=0.02)


def visible_positions(input_mask: Tensor) -> Tensor:
    """[B, L] position ids counting only visible tokens (0 where hidden)."""
    pos = (~input_mask).long().cumsum(1) - 1
    return pos.masked_fill(input_mask, 0)


class _ModalityEmbedding(nn.Module):
    """Shared parts: modality embedding and position table."""

    def __init__(self, spec: ModalitySpec, dim: int, image_size: int) -> None:
        super().__init__()
        self.spec = spec
        self.mod_emb = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.mod_emb, std=0.02)
        _position_table(self, spec, dim, image_size)

    def grid_emb(self, batch: int) -> Tensor:
        """[B, N, D] position + modality embedding of every grid cell."""
        return (self.pos_emb + self.mod_emb).expand(batch, -1, -1)

    def sequence_emb(self, mask: Tensor) -> Tensor:
        """[B, L, D] embedding of a sequence whose unmasked tokens get consecutive positions."""
        emb = self.pos_emb[0][visible_positions(mask).clamp(max=self.pos_emb.shape[1] - 1)]
        return emb.masked_fill(mask[..., None], 0.0) + self.mod_emb


class PixelPatchEmbedding(_ModalityEmbedding):
    """Pixels [B, C, H, W] -> patches flattened (row, col, channel), then a linear projection."""

    def __init__(self, spec: ModalitySpec, dim: int, image_size: int) -> None:
        super().__init__(spec, dim, image_size)
        p = spec.patch_size
        self.proj = nn.Linear(spec.num_channels * p * p, dim, bias=False)

    def patchify(self, pixels: Tensor) -> Tensor:
        """[B, C, H, W] -> [B, (H/p)*(W/p), p*p*C], channel fastest."""
        B, C, H, W = pixels.shape
        p = self.spec.patch_size
        x = pixels.reshape(B, C, H // p, p, W // p, p)  # b c nh ph nw pw
        return x.permute(0, 2, 4, 3, 5, 1).reshape(B, (H // p) * (W // p), p * p * C)

    def forward(self, tensor: Tensor, input_mask: Tensor) -> tuple[Tensor, Tensor]:
        """-> x [B, N, D], emb [B, N, D]."""
        return self.proj(self.patchify(tensor)), self.grid_emb(tensor.shape[0])


class ClassPatchEmbedding(PixelPatchEmbedding):
    """Class map [B, H, W] -> learned per-class vector (C wide) per pixel -> pixel patches."""

    def __init__(self, spec: ModalitySpec, dim: int, image_size: int) -> None:
        super().__init__(spec, dim, image_size)
        self.class_emb = nn.Embedding(spec.num_classes, spec.num_channels)

    def forward(self, tensor: Tensor, input_mask: Tensor) -> tuple[Tensor, Tensor]:
        """-> x [B, N, D], emb [B, N, D]."""
        pixels = self.class_emb(tensor).permute(0, 3, 1, 2)  # [B, C, H, W]
        return super().forward(pixels, input_mask)


class ImageTokenEmbedding(_ModalityEmbedding):
    """Token grid [B, N] -> token embedding; fixed or learned grid positions."""

    def __init__(self, spec: ModalitySpec, dim: int, image_size: int) -> None:
        super().__init__(spec, dim, image_size)
        self.token_emb = nn.Embedding(spec.vocab_size, dim)

    def forward(self, tensor: Tensor, input_mask: Tensor) -> tuple[Tensor, Tensor]:
        """-> x [B, N, D], emb [B, N, D]."""
        return self.token_emb(tensor), self.grid_emb(tensor.shape[0])


class SequenceEmbedding(_ModalityEmbedding):
    """Token sequence [B, L] -> token embedding; positions count visible tokens only."""

    def __init__(self, spec: ModalitySpec, dim: int, image_size: int) -> None:
        super().__init__(spec, dim, image_size)
        self.token_emb = nn.Embedding(spec.vocab_size, dim, padding_idx=0)

    def forward(self, tensor: Tensor, input_mask: Tensor) -> tuple[Tensor, Tensor]:
        """-> x [B, L, D], emb [B, L, D]."""
        return self.token_emb(tensor), self.sequence_emb(input_mask)


class EmbeddingSequenceEmbedding(_ModalityEmbedding):
    """Feature-vector sequence [B, L, E] (T5 caption) -> linear projection (with bias)."""

    def __init__(self, spec: ModalitySpec, dim: int, image_size: int) -> None:
        super().__init__(spec, dim, image_size)
        self.emb_proj = nn.Linear(spec.embedding_dim, dim)

    def forward(self, tensor: Tensor, input_mask: Tensor) -> tuple[Tensor, Tensor]:
        """-> x [B, L, D], emb [B, L, D]."""
        return self.emb_proj(tensor), self.sequence_emb(input_mask)


_ENCODERS: dict[Embedding, type[_ModalityEmbedding]] = {
    Embedding.PIXEL_PATCHES: PixelPatchEmbedding,
    Embedding.CLASS_PATCHES: ClassPatchEmbedding,
    Embedding.IMAGE_TOKENS: ImageTokenEmbedding,
    Embedding.SEQUENCE: SequenceEmbedding,
    Embedding.EMBEDDING_SEQUENCE: EmbeddingSequenceEmbedding,
}


class DecoderEmbedding(_ModalityEmbedding):
    """Decoder side of a token modality: query embeddings and the output head ``to_logits``."""

    def __init__(self, spec: ModalitySpec, dim: int, image_size: int) -> None:
        super().__init__(spec, dim, image_size)
        padding = 0 if spec.decoder is Embedding.SEQUENCE else None
        self.token_emb = nn.Embedding(spec.vocab_size, dim, padding_idx=padding)
        self.to_logits = nn.Linear(dim, spec.vocab_size, bias=False)

    def query_emb(self, positions: Tensor) -> Tensor:
        """[B, M] target positions -> [B, M, D] position + modality embedding."""
        return self.pos_emb[0][positions] + self.mod_emb

    def forward(self, hidden: Tensor) -> Tensor:
        """Decoder output [.., D] -> logits [.., V]."""
        return self.to_logits(hidden)


def build_encoder_embedding(spec: ModalitySpec, dim: int, image_size: int) -> nn.Module:
    """The encoder embedding module for a modality, chosen by its spec."""
    return _ENCODERS[spec.encoder](spec, dim, image_size)


def build_decoder_embedding(spec: ModalitySpec, dim: int, image_size: int) -> DecoderEmbedding:
    """The decoder embedding + head for a modality."""
    return DecoderEmbedding(spec, dim, image_size)
