"""Named presets: encoder/decoder architectures by type string, official tokenizers by name.

Architecture names are the ``enc_type`` / ``dec_type`` strings stored in tokenizer configs:

* ``vit_s_enc`` / ``vit_b_enc`` / ``vit_l_enc`` (and ``_dec``): 512/8/8, 768/12/12, 1024/24/16
  (width/depth/heads), as in the official code;
* ``vit_tiny_d{D}_l{L}_h{H}_enc`` / ``_dec``: any width D, depth L and H heads (the conformance
  fixtures use this pattern for their tiny tokenizers);
* ``BottleneckMLP/B_{blocks}-Wi_{width}[-Ex_{expansion}]`` for the global-embedding tokenizers;
* ``unet_*`` / ``uvit_*``: diffusion decoders, recognised but never built (only their encoders
  are needed to tokenise).

Tokenizer presets name the released ``EPFL-VILAB/4M_tokenizers_*`` checkpoints, which modality
they serve and what a file must look like to serve it (checked when a modality is given).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from anyseek.model.fourm.modalities import REGISTRY
from anyseek.model.fourm.tokenizers.errors import TokenizerError
from anyseek.model.fourm.tokenizers.mlp import MLPSize
from anyseek.model.fourm.tokenizers.vit import ViTSize

VIT_SIZES: dict[str, ViTSize] = {
    "s": ViTSize(dim=512, depth=8, heads=8),
    "b": ViTSize(dim=768, depth=12, heads=12),
    "l": ViTSize(dim=1024, depth=24, heads=16),
}
_VIT_NAMED = re.compile(r"^vit_(?P<size>[sbl])_(?P<part>enc|dec)$")
_VIT_TINY = re.compile(
    r"^vit_tiny_d(?P<dim>\d+)_l(?P<depth>\d+)_h(?P<heads>\d+)_(?P<part>enc|dec)$"
)
_MLP = re.compile(
    r"^BottleneckMLP/B_(?P<blocks>\d+)-Wi_(?P<width>\d+)(?:-[A-Za-z]+_(?P<exp>\d+))?$"
)
DIFFUSION_DECODER_PREFIXES = ("unet_", "uvit_")


def parse_vit(name: str, part: str) -> ViTSize:
    """ViT size for an ``enc_type`` (part ``enc``) or ``dec_type`` (part ``dec``) name."""
    named, tiny = _VIT_NAMED.match(name), _VIT_TINY.match(name)
    match = named or tiny
    if match is None or match["part"] != part:
        raise TokenizerError(
            f"unknown ViT {'encoder' if part == 'enc' else 'decoder'} type {name!r} (expected "
            f"vit_s_{part}, vit_b_{part}, vit_l_{part} or vit_tiny_d<D>_l<L>_h<H>_{part})"
        )
    if named:
        return VIT_SIZES[named["size"]]
    size = ViTSize(dim=int(tiny["dim"]), depth=int(tiny["depth"]), heads=int(tiny["heads"]))
    if size.heads == 0 or size.dim % size.heads:
        raise TokenizerError(f"{name!r}: width {size.dim} is not divisible by {size.heads} heads")
    return size


def parse_mlp(name: str) -> MLPSize:
    """Bottleneck MLP size for a ``BottleneckMLP/B_<blocks>-Wi_<width>[-Ex_<e>]`` name."""
    match = _MLP.match(name)
    if match is None:
        raise TokenizerError(
            f"unsupported MLP type {name!r} (expected BottleneckMLP/B_<blocks>-Wi_<width>)"
        )
    return MLPSize(
        blocks=int(match["blocks"]), width=int(match["width"]), expansion=int(match["exp"] or 4)
    )


def is_vit(name: str) -> bool:
    """Whether an architecture name denotes a ViT (the reference tests ``'vit' in name``)."""
    return "vit" in name and not name.startswith(DIFFUSION_DECODER_PREFIXES)


def is_mlp(name: str) -> bool:
    """Whether an architecture name denotes an MLP (the reference tests ``'MLP' in name``)."""
    return "MLP" in name


def is_diffusion_decoder(name: str) -> bool:
    """Whether a ``dec_type`` names a diffusion decoder (DiVAE)."""
    return name.startswith(DIFFUSION_DECODER_PREFIXES)


class InputKind(StrEnum):
    """What a tokenizer's encoder consumes."""

    IMAGE = "image"  # [B, C, H, W] float pixels (rgb, depth, normals, edges)
    LABELS = "labels"  # [B, H, W] integer class map (semantic segmentation)
    FEATURE_MAP = "feature_map"  # [B, C, H/P, W/P] patch features (CLIP, DINOv2, ImageBind)
    GLOBAL = "global"  # [B, C] one feature vector per image (global DINOv2 / ImageBind)


@dataclass(frozen=True)
class TokenizerPreset:
    """One released tokenizer: which modality it serves and what a file must look like.

    Its repo id and vocabulary size are the modality's (``anyseek.model.fourm.modalities``),
    written once there.
    """

    name: str
    modality: str  # FM modality name without the @resolution suffix
    input_kind: InputKind
    diffusion: bool  # DiVAE (diffusion decoder, not built) or VQ-VAE (decoder available)
    n_channels: int | None = None  # encoder input channels when fixed by the modality
    n_labels: int | None = None

    @property
    def repo_id(self) -> str:
        """Hugging Face repo id of the released checkpoint (the registry's ``tokenizer``)."""
        return REGISTRY[self.modality].tokenizer  # type: ignore[return-value]

    @property
    def vocab_size(self) -> int:
        """Codebook size the FM expects for the modality (the registry's ``vocab_size``)."""
        return REGISTRY[self.modality].vocab_size  # type: ignore[return-value]


_IMG, _LAB, _FMAP, _GLOB = (
    InputKind.IMAGE,
    InputKind.LABELS,
    InputKind.FEATURE_MAP,
    InputKind.GLOBAL,
)
# fmt: off
TOKENIZER_PRESETS: dict[str, TokenizerPreset] = {p.name: p for p in (
    # name, modality, input, diffusion, n_channels, n_labels
    TokenizerPreset("rgb", "tok_rgb", _IMG, True, 3),
    TokenizerPreset("depth", "tok_depth", _IMG, True, 1),
    TokenizerPreset("normal", "tok_normal", _IMG, True, 3),
    # edge: channels not pinned; 4M feeds it 1-channel maps (see docs/tokenizers.md)
    TokenizerPreset("edge", "tok_canny_edge", _IMG, True),
    TokenizerPreset("semseg", "tok_semseg", _LAB, False, None, 134),
    TokenizerPreset("CLIP-B16", "tok_clip", _FMAP, False, 512),
    TokenizerPreset("DINOv2-B14", "tok_dinov2", _FMAP, False, 768),
    TokenizerPreset("DINOv2-B14-global", "tok_dinov2_global", _GLOB, False, 768),
    TokenizerPreset("ImageBind-H14", "tok_imagebind", _FMAP, False, 1280),
    TokenizerPreset("ImageBind-H14-global", "tok_imagebind_global", _GLOB, False),
)}
# fmt: on
# Sketches go through the edge tokenizer; SAM edges share it too.
_MODALITY_ALIASES = {"tok_sam_edge": "tok_canny_edge", "tok_sketch": "tok_canny_edge"}


def preset_for_modality(modality: str) -> TokenizerPreset:
    """The tokenizer preset serving an FM modality such as ``tok_depth@224`` or ``depth``."""
    key = modality.split("@", 1)[0]
    key = key if key.startswith("tok_") else f"tok_{key}"
    key = _MODALITY_ALIASES.get(key, key)
    for preset in TOKENIZER_PRESETS.values():
        if preset.modality == key:
            return preset
    known = sorted(p.modality for p in TOKENIZER_PRESETS.values())
    raise TokenizerError(f"no tokenizer is known for modality {modality!r} (known: {known})")
