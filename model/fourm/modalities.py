"""The modality registry: one immutable entry per modality the 4M family (and our model) knows.

A spec says what a modality's tensors look like (pixels, a token grid, a token sequence, a
sequence of feature vectors), how big its vocabulary is, how many tokens it has at a resolution,
and which embedding module the encoder and decoder build for it. Names follow the official
convention: gridded modalities carry their resolution (``tok_depth@224``, ``rgb@448``); a spec
for any resolution is *derived* from the base entry, never mutated.

Modality ids are the reference ``generate_uint15_hash``: sha256 of the UTF-8 name, taken modulo
2**15. They only matter for modality-separated decoder masks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from anyseek.errors import NotFoundError

# Special ids of the official WordPiece text tokenizer (shared by every sequence modality).
PAD_ID = 0
EOS_ID = 3
SENTINEL_FIRST_ID = 4  # [S_0]; [S_n] = 4 + n
NUM_SENTINELS = 200
S1_ID = SENTINEL_FIRST_ID + 1  # [S_1]
SENTINEL_IDS = frozenset(range(SENTINEL_FIRST_ID, SENTINEL_FIRST_ID + NUM_SENTINELS))
TEXT_VOCAB_SIZE = 30_000
DEFAULT_IMAGE_SIZE = 224


class Kind(StrEnum):
    """The shape of a modality's data, which decides how generation treats it."""

    IMAGE = "image"  # pixels [B, C, H, W] (or a class map [B, H, W]); input only
    TOKEN_GRID = "token_grid"  # discrete tokens on a 2-D grid, flattened row-major [B, h*w]
    TOKEN_SEQUENCE = "token_sequence"  # WordPiece-style ids [B, L] with [EOS] / [PAD]
    EMBEDDING_SEQUENCE = "embedding_sequence"  # feature vectors [B, L, E] (T5 caption)


class Embedding(StrEnum):
    """Which embedding module a modality uses in the encoder or the decoder."""

    PIXEL_PATCHES = "pixel_patches"  # patchify C channels, linear projection
    CLASS_PATCHES = "class_patches"  # per-pixel class embedding (C wide), then pixel patches
    IMAGE_TOKENS = "image_tokens"  # token embedding + 2-D position embedding
    SEQUENCE = "sequence"  # token embedding + 1-D position embedding of visible tokens
    EMBEDDING_SEQUENCE = "embedding_sequence"  # linear projection of feature vectors


@dataclass(frozen=True)
class ModalitySpec:
    """Everything the model needs to know about one modality; immutable."""

    name: str
    kind: Kind
    encoder: Embedding | None
    decoder: Embedding | None = None
    vocab_size: int | None = None
    patch_size: int | None = None  # grid cell size in pixels of ``input_size``
    input_size: int | None = None  # resolution; None = the model's image_size (global tokens)
    num_channels: int | None = None  # pixel inputs: channels fed to the patch projection
    num_classes: int | None = None  # class maps: number of labels
    max_length: int | None = None  # sequences: position-embedding length
    max_tokens: int | None = None  # sequences: longest generated target
    sincos_pos_emb: bool = True  # False = learned position embedding parameter
    embedding_dim: int | None = None  # embedding sequences: width of the input vectors
    tokenizer: str | None = None  # official tokenizer repo id or our preset name
    transform: str | None = None  # key of model.transforms.TRANSFORMS for raw data
    gridded: bool = False  # name takes an @RES suffix

    @property
    def id(self) -> int:
        """The reference modality id: uint15 hash of the name."""
        return modality_id(self.name)

    def grid_size(self, image_size: int = DEFAULT_IMAGE_SIZE) -> tuple[int, int]:
        """Rows and columns of the token/patch grid at this spec's (or the model's) resolution."""
        if self.patch_size is None:
            raise ValueError(f"{self.name} is not an image-like modality")
        side = (self.input_size or image_size) // self.patch_size
        return side, side

    def num_tokens(self, image_size: int = DEFAULT_IMAGE_SIZE) -> int:
        """How many tokens this modality contributes (grid cells, or the sequence length)."""
        if self.patch_size is not None:
            rows, cols = self.grid_size(image_size)
            return rows * cols
        if self.max_tokens is None:
            raise ValueError(f"{self.name} has no fixed token count")
        return self.max_tokens

    def at_resolution(self, resolution: int) -> ModalitySpec:
        """A derived spec for ``<base>@<resolution>`` (the base entry stays untouched)."""
        base = self.name.split("@", 1)[0]
        if not self.gridded:
            raise ValueError(f"{base} has no resolution suffix")
        if resolution % self.patch_size:
            raise ValueError(
                f"{base}@{resolution}: resolution is not a multiple of the "
                f"patch size {self.patch_size}"
            )
        return replace(self, name=f"{base}@{resolution}", input_size=resolution)


def modality_id(name: str) -> int:
    """uint15 hash of a modality name, as the reference computes ``MODALITY_INFO[name]['id']``."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % (2**15)


_TOK = "EPFL-VILAB/4M_tokenizers_"


def _gridded(
    name: str, kind: Kind, encoder: Embedding, transform: str | None, patch: int = 16, **more
) -> ModalitySpec:
    """An image-like modality on a patch grid at the default resolution, named with @RES."""
    return ModalitySpec(
        name,
        kind,
        encoder,
        patch_size=patch,
        input_size=DEFAULT_IMAGE_SIZE,
        transform=transform,
        gridded=True,
        **more,
    )


def _grid_tokens(
    base: str, vocab: int, tokenizer: str | None, transform: str | None, patch: int = 16
) -> ModalitySpec:
    """A tokenized image modality (``tok_*@RES``) of the 4M-21 family."""
    tokens = Embedding.IMAGE_TOKENS
    return _gridded(
        base,
        Kind.TOKEN_GRID,
        tokens,
        transform,
        patch,
        decoder=tokens,
        vocab_size=vocab,
        tokenizer=tokenizer,
    )


def _global_tokens(name: str, tokenizer: str | None, vocab: int = 8192) -> ModalitySpec:
    """16 tokens of one global feature vector, with a learned position embedding (4x4 'grid')."""
    grid = _grid_tokens(name, vocab, tokenizer, None, patch=56)
    return replace(grid, input_size=None, sincos_pos_emb=False, gridded=False)


def _text_sequence(
    name: str, max_length: int, max_tokens: int | None = None, transform: str | None = None
) -> ModalitySpec:
    """A sequence over the shared 30k WordPiece vocabulary (caption, metadata, boxes, ...)."""
    return ModalitySpec(
        name=name,
        kind=Kind.TOKEN_SEQUENCE,
        encoder=Embedding.SEQUENCE,
        decoder=Embedding.SEQUENCE,
        vocab_size=TEXT_VOCAB_SIZE,
        max_length=max_length,
        max_tokens=max_tokens or max_length,
        transform=transform,
    )


def _pixels(base: str, channels: int, transform: str, **more) -> ModalitySpec:
    """A pixel input cut into 16x16 patches (encoder only)."""
    return _gridded(
        base, Kind.IMAGE, Embedding.PIXEL_PATCHES, transform, num_channels=channels, **more
    )


_ENTRIES: tuple[ModalitySpec, ...] = (
    # --- 4M-7 / 4M-21 (official) ---
    _pixels("rgb", 3, "rgb"),
    _text_sequence("caption", 256, transform="caption"),
    _text_sequence("det", 256),
    _text_sequence("metadata", 40),
    _text_sequence("human_poses", 263, max_tokens=275),
    _text_sequence("color_palette", 23),
    _text_sequence("sam_instance", 290),
    ModalitySpec(
        name="t5_caption",
        kind=Kind.EMBEDDING_SEQUENCE,
        encoder=Embedding.EMBEDDING_SEQUENCE,
        max_length=77,
        max_tokens=77,
        embedding_dim=4096,
    ),
    _grid_tokens("tok_rgb", 16384, _TOK + "rgb_16k_224-448", "rgb"),
    _grid_tokens("tok_depth", 8192, _TOK + "depth_8k_224-448", "depth"),
    _grid_tokens("tok_normal", 8192, _TOK + "normal_8k_224-448", "normal"),
    _grid_tokens("tok_semseg", 4096, _TOK + "semseg_4k_224-448", "semseg"),
    _grid_tokens("tok_clip", 8192, _TOK + "CLIP-B16_8k_224-448", "rgb"),
    _grid_tokens("tok_canny_edge", 8192, _TOK + "edge_8k_224-512", "edges"),
    _grid_tokens("tok_sam_edge", 8192, _TOK + "edge_8k_224-512", "edges"),
    _grid_tokens("tok_dinov2", 8192, _TOK + "DINOv2-B14_8k_224-448", "rgb", patch=14),
    _grid_tokens("tok_imagebind", 8192, _TOK + "ImageBind-H14_8k_224-448", "rgb", patch=14),
    _global_tokens("tok_dinov2_global", _TOK + "DINOv2-B14-global_8k_16_224"),
    _global_tokens("tok_imagebind_global", _TOK + "ImageBind-H14-global_8k_16_224"),
    # --- our built-in model: dense conditions as pixels, our own global spaces ---
    _pixels("depth", 1, "depth"),
    _pixels("normal", 3, "normal"),
    _pixels("sketch", 1, "sketch"),
    _pixels("edges", 1, "edges"),
    # class maps: a per-pixel class embedding before the patch projection
    replace(_pixels("semseg", 8, "semseg", num_classes=134), encoder=Embedding.CLASS_PATCHES),
    _global_tokens("tok_clip_global", None),
    _global_tokens("tok_dino_global", None),
)

#: Base entries keyed by name (gridded ones without their @RES suffix).
REGISTRY: Mapping[str, ModalitySpec] = MappingProxyType({spec.name: spec for spec in _ENTRIES})

_NAME = re.compile(r"^(?P<base>[A-Za-z0-9_\-]+)(?:@(?P<res>\d+))?$")


class UnknownModalityError(NotFoundError):
    """A modality name that is neither registered nor derivable from a registered entry."""


def get_modality(name: str) -> ModalitySpec:
    """The spec for ``name``; ``<base>@<RES>`` is derived from a gridded base entry."""
    match = _NAME.match(name)
    base = REGISTRY.get(match["base"]) if match else None
    if base is None:
        raise UnknownModalityError(
            f"unknown modality {name!r}; known: {', '.join(known_modalities())}"
        )
    if base.gridded:
        if match["res"] is None:
            raise UnknownModalityError(
                f"modality {name!r} needs a resolution suffix, e.g. {name}@224"
            )
        try:
            return base.at_resolution(int(match["res"]))
        except ValueError as exc:
            raise UnknownModalityError(str(exc)) from None
    if match["res"] is not None:
        raise UnknownModalityError(f"modality {match['base']!r} takes no @resolution suffix")
    return base


def known_modalities() -> list[str]:
    """Registered names, gridded ones shown at their default resolution."""
    return sorted(f"{s.name}@{s.input_size}" if s.gridded else s.name for s in _ENTRIES)
