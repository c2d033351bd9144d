"""VQ tokenizers of the 4M family: encoder, 1x1 proj, quantiser, and back where a decoder exists.

One class covers the official ``VQVAE`` (ViT or bottleneck-MLP decoder) and the encoder half of
``DiVAE`` (diffusion decoder, not built: tokenising never needs it). Configs are the official
constructor keyword arguments; unknown keys are ignored, as the official constructors do.

Shapes (``encode`` / ``decode`` are the public API):

* image-like (rgb, depth, normals, edges): ``encode([B, C, H, W]) -> [B, (H/P)*(W/P)]``
  (row-major token grid);
* semantic segmentation: ``encode([B, H, W] class ids) -> [B, N]``,
  ``decode([B, N]) -> [B, n_labels, H, W]`` class logits;
* global embeddings (memcodes): ``encode([B, C]) -> [B, heads]``, ``decode([B, heads]) -> [B, C]``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from anyseek.model.fourm.imagenet import imagenet_stats
from anyseek.model.fourm.tokenizers import presets
from anyseek.model.fourm.tokenizers.errors import TokenizerError, TokenizerInputError
from anyseek.model.fourm.tokenizers.mlp import BottleneckMLP
from anyseek.model.fourm.tokenizers.quantizers import Memcodes, VectorQuantizer
from anyseek.model.fourm.tokenizers.vit import ViTDecoder, ViTEncoder

# Keys only a DiVAE config carries (besides a diffusion dec_type).
_DIVAE_ONLY_KEYS = frozenset(
    {
        "num_train_timesteps",
        "beta_schedule",
        "prediction_type",
        "zero_terminal_snr",
        "conditioning",
        "scheduler",
    }
)


@dataclass(frozen=True)
class TokenizerConfig:
    """The subset of the official ``VQ``/``VQVAE``/``DiVAE`` arguments that shapes inference."""

    image_size: int = 224
    image_size_enc: int | None = None
    n_channels: int = 3
    n_labels: int | None = None
    enc_type: str = "vit_b_enc"
    dec_type: str = "vit_b_dec"  # the official VQVAE default
    patch_proj: bool = True
    post_mlp: bool = False
    patch_size: int = 16
    quant_type: str = "lucid"
    codebook_size: int = 16384
    num_codebooks: int = 1
    latent_dim: int = 32
    norm_codes: bool = True
    undo_std: bool = False
    out_conv: bool = False
    image_size_dec: int | None = None
    patch_size_dec: int | None = None
    diffusion: bool = False  # DiVAE: the decoder is a diffusion model and is not built

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TokenizerConfig:
        """Build from a checkpoint config, ignoring keys this implementation does not use."""
        if "enc_type" not in raw or ("quant_type" not in raw and "codebook_size" not in raw):
            hint = " (it looks like a 4M model, not a tokenizer)" if "domains_in" in raw else ""
            raise TokenizerError(f"not a VQ tokenizer config: no enc_type/codebook_size{hint}")
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in raw.items() if k in names and v is not None}
        dec_type = str(values.get("dec_type", ""))
        values["diffusion"] = presets.is_diffusion_decoder(dec_type) or bool(
            _DIVAE_ONLY_KEYS & raw.keys()
        )
        codebook = values.get("codebook_size", cls.codebook_size)
        if isinstance(codebook, str):
            if not codebook.isdigit():
                raise TokenizerError(
                    f"unsupported codebook_size {codebook!r} (FSQ codebooks are not supported)"
                )
            values["codebook_size"] = int(codebook)
        return cls(**values)


class VQTokenizer(nn.Module):
    """Encoder + quantiser (+ decoder for VQ-VAEs) of one official 4M tokenizer."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        if c.n_labels is not None:
            self.cls_emb = nn.Embedding(c.n_labels, c.n_channels)
        if presets.is_vit(c.enc_type):
            self.encoder = ViTEncoder(
                presets.parse_vit(c.enc_type, "enc"),
                in_channels=c.n_channels,
                patch_size=c.patch_size,
                resolution=c.image_size_enc or c.image_size,
                patch_proj=c.patch_proj,
                post_mlp=c.post_mlp,
            )
            enc_dim = self.encoder.dim_tokens
        elif presets.is_mlp(c.enc_type):
            self.encoder = BottleneckMLP(
                presets.parse_mlp(c.enc_type), dim_in=c.n_channels, dim_out=None
            )
            enc_dim = self.encoder.dim_out
        else:
            raise TokenizerError(f"unsupported encoder type {c.enc_type!r}")
        self.quant_proj = nn.Conv2d(enc_dim, c.latent_dim, 1)
        self.quantize = _build_quantizer(c)
        if not c.diffusion:
            self.decoder, dec_dim = _build_decoder(c)
            self.post_quant_proj = nn.Conv2d(c.latent_dim, dec_dim, 1)

    # --- what kind of tokenizer this is -------------------------------------------------------
    @property
    def input_kind(self) -> presets.InputKind:
        """What the encoder consumes: pixels, a class map, a feature map or one vector."""
        if self.config.n_labels is not None:
            return presets.InputKind.LABELS
        if isinstance(self.encoder, BottleneckMLP):
            return presets.InputKind.GLOBAL
        return presets.InputKind.IMAGE if self.config.patch_proj else presets.InputKind.FEATURE_MAP

    @property
    def vocab_size(self) -> int:
        """Number of distinct token ids."""
        return self.config.codebook_size

    @property
    def has_decoder(self) -> bool:
        """Whether ``decode`` is available (VQ-VAEs yes, diffusion tokenizers no)."""
        return hasattr(self, "decoder")

    @property
    def num_tokens(self) -> int:
        """Tokens per sample at the configured image size."""
        if self.input_kind is presets.InputKind.GLOBAL:
            return self.config.num_codebooks
        grid = self.config.image_size // self.config.patch_size
        return grid * grid

    @property
    def _device(self) -> torch.device:
        """Where the weights live; inputs are moved there."""
        return self.quant_proj.weight.device

    # --- encoding -----------------------------------------------------------------------------
    @torch.no_grad()
    def encode_grid(self, x: torch.Tensor) -> torch.Tensor:
        """Token grid: ``[B, H', W']`` (single-head VQ) or ``[B, heads, H', W']`` (memcodes)."""
        x = self._prepare(x)
        latent = self.quant_proj(self.encoder(x))
        return self.quantize.quantize(latent)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Token ids ``LongTensor [B, N]``: the row-major grid, or the heads of a global vector."""
        tokens = self.encode_grid(x)
        return tokens.reshape(tokens.shape[0], -1)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Validate the input for this tokenizer's kind and turn it into ``[B, C, H, W]`` floats."""
        kind, c = self.input_kind, self.config
        if not isinstance(x, torch.Tensor):
            raise TokenizerInputError(f"expected a torch.Tensor, got {type(x).__name__}")
        if kind is presets.InputKind.LABELS:
            if x.ndim != 3 or x.dtype.is_floating_point or x.dtype == torch.bool:
                raise TokenizerInputError(
                    f"segmentation tokenizer expects an integer class map [B, H, W], got "
                    f"{x.dtype} {tuple(x.shape)}"
                )
            if x.numel() and (int(x.min()) < 0 or int(x.max()) >= c.n_labels):
                raise TokenizerInputError(
                    f"class ids must lie in [0, {c.n_labels - 1}] (0 = no class), got "
                    f"[{int(x.min())}, {int(x.max())}]"
                )
            self._check_spatial(x.shape[-2:])
            return self.cls_emb(x.to(self._device, torch.long)).permute(0, 3, 1, 2)
        if kind is presets.InputKind.GLOBAL and x.ndim == 2:
            x = x[:, :, None, None]
        if x.ndim != 4 or x.shape[1] != c.n_channels:
            shape = "[B, C]" if kind is presets.InputKind.GLOBAL else "[B, C, H, W]"
            hint = ""
            if x.ndim == 4 and x.shape[1] == 1 and c.n_channels == 3:
                hint = "; repeat a 1-channel map with x.expand(-1, 3, -1, -1)"
            raise TokenizerInputError(
                f"{kind.value} tokenizer expects {shape} with C = {c.n_channels}, got "
                f"{tuple(x.shape)}{hint}"
            )
        if not x.dtype.is_floating_point:
            raise TokenizerInputError(f"expected a float tensor, got {x.dtype}")
        x = x.to(self._device, torch.float32)
        if not torch.isfinite(x).all():
            raise TokenizerInputError("input contains NaN or infinite values")
        if kind is presets.InputKind.IMAGE:
            self._check_spatial(x.shape[-2:])
        if c.undo_std:  # ImageNet-normalised input -> [-1, 1]
            mean, std = imagenet_stats(x)
            x = 2.0 * (x * std + mean) - 1.0
        return x

    def _check_spatial(self, hw: torch.Size) -> None:
        """Pixel inputs must be non-empty and tile exactly into patches."""
        p = self.config.patch_size
        if hw[0] == 0 or hw[1] == 0 or hw[0] % p or hw[1] % p:
            raise TokenizerInputError(
                f"image size {hw[0]}x{hw[1]} is not a positive multiple of the patch size {p}"
            )

    # --- decoding -----------------------------------------------------------------------------
    def tokens_to_embedding(
        self, tokens: torch.Tensor, grid: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """Quantised latents ``[B, latent_dim, H', W']`` for tokens (raw codebook rows)."""
        return self.quantize.embed(self._token_grid(tokens, grid))

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        """Tokens ``[B, N]`` back to the modality: ``[B, C]`` vectors or ``[B, C, H, W]`` maps.

        For a segmentation tokenizer the output holds class logits ``[B, n_labels, H, W]``.
        ``grid`` gives the token grid of non-square images (default: square).
        """
        if not self.has_decoder:
            raise TokenizerError(
                "this is a diffusion (DiVAE) tokenizer: only its encoder is supported, so tokens "
                "cannot be decoded back to pixels; use it to encode inputs for the model"
            )
        latent = self.tokens_to_embedding(tokens, grid)
        out = self.decoder(self.post_quant_proj(latent))
        if self.input_kind is presets.InputKind.GLOBAL:
            return out.flatten(1)  # [B, C, 1, 1] -> [B, C]
        return out

    def decode_expected(self, probs: torch.Tensor) -> torch.Tensor:
        """Decode the expected quantised latent under per-token distributions ``[B, N, V]``.

        Differentiable in ``probs`` (a retrieval loss can train through it);
        the codebook projections are cached without gradients, so the tokenizer itself stays fixed.

        Greedy decoding keeps only the most likely code of each token, so an uncertain prediction
        collapses onto one code; the expectation keeps the whole distribution, which makes
        retrieval vectors vary smoothly with the model's confidence. Global (1x1) tokenizers only.
        """
        if not self.has_decoder or self.input_kind is not presets.InputKind.GLOBAL:
            raise TokenizerError("expected decoding is defined for global-embedding tokenizers")
        heads = self.quantize.heads if isinstance(self.quantize, Memcodes) else 1
        if probs.ndim != 3 or probs.shape[1] != heads or probs.shape[2] != self.vocab_size:
            raise TokenizerInputError(
                f"expected probabilities [B, {heads}, {self.vocab_size}], got {tuple(probs.shape)}"
            )
        probs = probs.to(self._device, torch.float32)
        if isinstance(self.quantize, Memcodes):
            latent = self.quantize.expected(probs[:, :, None, None])
        else:
            latent = self.quantize.expected(probs[:, :, None])
        return self.decoder(self.post_quant_proj(latent)).flatten(1)

    def _token_grid(self, tokens: torch.Tensor, grid: tuple[int, int] | None) -> torch.Tensor:
        """Validate flat or grid tokens and reshape them to what the quantiser embeds."""
        if not isinstance(tokens, torch.Tensor) or tokens.dtype.is_floating_point:
            raise TokenizerInputError("tokens must be an integer tensor")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise TokenizerInputError(
                f"token ids must lie in [0, {self.vocab_size - 1}], got "
                f"[{int(tokens.min())}, {int(tokens.max())}]"
            )
        tokens = tokens.to(self._device, torch.long)
        if isinstance(self.quantize, Memcodes):
            heads = self.quantize.heads
            if tokens.ndim == 4:
                return tokens
            if tokens.ndim != 2 or tokens.shape[1] != heads:
                raise TokenizerInputError(
                    f"expected tokens [B, {heads}] (one per memcodes head), got "
                    f"{tuple(tokens.shape)}"
                )
            return tokens[:, :, None, None]
        if tokens.ndim == 3:
            return tokens
        if tokens.ndim != 2:
            raise TokenizerInputError(
                f"expected tokens [B, N] or [B, H, W], got {tuple(tokens.shape)}"
            )
        n = tokens.shape[1]
        rows, cols = grid or (math.isqrt(n), math.isqrt(n))
        if rows * cols != n:
            raise TokenizerInputError(
                f"{n} tokens do not form a {'square' if grid is None else f'{rows}x{cols}'} grid; "
                "pass grid=(rows, cols)"
            )
        return tokens.view(tokens.shape[0], rows, cols)


def _build_quantizer(c: TokenizerConfig) -> nn.Module:
    """The quantiser named by ``quant_type``."""
    if c.quant_type == "memcodes":
        return Memcodes(c.codebook_size, c.latent_dim, c.num_codebooks)
    if c.quant_type == "lucid":
        if c.num_codebooks != 1:
            raise TokenizerError(
                f"lucid quantiser with {c.num_codebooks} codebooks is not supported (only 1)"
            )
        return VectorQuantizer(c.codebook_size, c.latent_dim, cosine=c.norm_codes)
    raise TokenizerError(f"unsupported quant_type {c.quant_type!r} (expected lucid or memcodes)")


def _build_decoder(c: TokenizerConfig) -> tuple[nn.Module, int]:
    """The VQ-VAE decoder named by ``dec_type`` and its input width."""
    out_channels = c.n_labels if c.n_labels is not None else c.n_channels
    if presets.is_vit(c.dec_type):
        decoder = ViTDecoder(
            presets.parse_vit(c.dec_type, "dec"),
            out_channels=out_channels,
            patch_size=c.patch_size_dec or c.patch_size,
            resolution=c.image_size_dec or c.image_size,
            patch_proj=c.patch_proj,
            post_mlp=c.post_mlp,
            out_conv=c.out_conv,
        )
        return decoder, decoder.dim_tokens
    if presets.is_mlp(c.dec_type):
        decoder = BottleneckMLP(presets.parse_mlp(c.dec_type), dim_in=None, dim_out=out_channels)
        return decoder, decoder.dim_in
    raise TokenizerError(f"unsupported decoder type {c.dec_type!r}")
