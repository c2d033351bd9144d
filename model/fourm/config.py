"""FourM architecture config: the keys the official checkpoints carry, with the reference defaults.

The released checkpoints store ``domains_in``, ``domains_out``, ``image_size``, ``patch_size``,
``norm_bias``, ``act_layer`` plus any ``FourM`` keyword argument; missing keywords take the
reference defaults and training-only keywords are accepted and kept (they do not change inference).
Named variants live as JSON files in ``model/fourm/configs/`` (``fourm21_b.json``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from anyseek.errors import AnyseekError
from anyseek.model.fourm.modalities import (
    NUM_SENTINELS,
    SENTINEL_FIRST_ID,
    Kind,
    ModalitySpec,
    get_modality,
)

CONFIG_DIR = Path(__file__).with_name("configs")


class ConfigError(AnyseekError):
    """A model config is missing keys, has unknown keys, or describes an impossible model."""


@dataclass(frozen=True)
class FourMConfig:
    """Architecture of a 4M encoder-decoder (field names are the official config keys)."""

    domains_in: tuple[str, ...]
    domains_out: tuple[str, ...]
    dim: int = 768
    encoder_depth: int = 12
    decoder_depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    proj_bias: bool = True
    mlp_bias: bool = True
    norm_bias: bool = True
    act_layer: str = "GELU"
    gated_mlp: bool = False
    qk_norm: bool = False
    image_size: int = 224
    patch_size: int = 16
    share_modality_embeddings: bool = True
    decoder_causal_mask: bool = False
    decoder_sep_mask: bool = True
    num_register_tokens: int = 0
    # Training-only keywords: accepted so that any official config loads; unused at inference.
    drop_path_rate_encoder: float = 0.0
    drop_path_rate_decoder: float = 0.0
    shared_drop_path: bool = False
    use_act_checkpoint: bool = False
    # Not an official key (written only when set): per-modality vocabulary sizes replacing the
    # registry's, e.g. a caption table sized to the model's own small WordPiece.
    vocab_sizes: Mapping[str, int] | tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        """Reject configs that cannot describe a model, naming the offending key."""
        given = self.vocab_sizes
        pairs = given.items() if isinstance(given, Mapping) else given
        object.__setattr__(self, "vocab_sizes", tuple(sorted((str(k), v) for k, v in pairs)))
        if self.dim % self.num_heads:
            raise ConfigError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if not isinstance(getattr(torch.nn, self.act_layer, None), type):
            raise ConfigError(f"act_layer {self.act_layer!r} is not a torch.nn activation")
        if not self.domains_in:
            raise ConfigError("domains_in is empty")
        for name in (*self.domains_in, *self.domains_out):
            get_modality(name)  # raises UnknownModalityError with the known names
        no_decoder = [m for m in self.domains_out if get_modality(m).decoder is None]
        if no_decoder:
            raise ConfigError(f"modalities cannot be outputs: {', '.join(no_decoder)}")
        for name, size in self.vocab_sizes:
            _check_vocab_size(name, size, (*self.domains_in, *self.domains_out))

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> FourMConfig:
        """Build from a checkpoint config (metadata or config.json); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(f"unknown FourM config keys: {', '.join(unknown)}")
        missing = [k for k in ("domains_in", "domains_out") if k not in config]
        if missing:
            raise ConfigError(f"config lacks required keys: {', '.join(missing)}")
        values = dict(config)
        for key in ("domains_in", "domains_out"):
            domains = values[key]
            if isinstance(domains, str):  # the training configs use hyphen-separated names
                domains = domains.split("-")
            values[key] = tuple(domains)
        return cls(**values)

    @classmethod
    def named(cls, name: str) -> FourMConfig:
        """Load a shipped variant, e.g. ``fourm21_b`` (see ``model/fourm/configs/``)."""
        path = CONFIG_DIR / f"{name}.json"
        if not path.is_file():
            shipped = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
            raise ConfigError(f"no model config named {name!r}; shipped: {', '.join(shipped)}")
        return cls.from_dict(json.loads(path.read_text()))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict with the official key names."""
        out = asdict(self)
        out["domains_in"] = list(self.domains_in)
        out["domains_out"] = list(self.domains_out)
        if self.vocab_sizes:
            out["vocab_sizes"] = dict(self.vocab_sizes)
        else:  # official configs carry no such key
            del out["vocab_sizes"]
        return out

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.dim // self.num_heads

    def spec(self, name: str) -> ModalitySpec:
        """Registry spec of a modality of this model, with this model's own vocabulary size."""
        spec = get_modality(name)
        size = dict(self.vocab_sizes).get(name)
        return spec if size is None else replace(spec, vocab_size=size)

    def vocab_size(self, name: str) -> int | None:
        """How many token ids this model reads and predicts for ``name`` (None: no tokens)."""
        return self.spec(name).vocab_size

    def num_tokens(self, name: str) -> int:
        """Token count of a modality at this model's resolution."""
        return get_modality(name).num_tokens(self.image_size)


def _check_vocab_size(name: str, size: Any, domains: tuple[str, ...]) -> None:
    """A vocabulary override must name a token modality of the model and keep the special ids."""
    if name not in domains:
        raise ConfigError(f"vocab_sizes names {name!r}, which is not an input or output")
    spec = get_modality(name)
    if spec.vocab_size is None:
        raise ConfigError(f"vocab_sizes: {name!r} has no token vocabulary")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ConfigError(f"vocab_sizes: {name!r} must be a positive integer, got {size!r}")
    specials = SENTINEL_FIRST_ID + NUM_SENTINELS
    if spec.kind is Kind.TOKEN_SEQUENCE and size <= specials:
        raise ConfigError(
            f"vocab_sizes: {name!r} needs more than the {specials} special ids ([PAD], [UNK], "
            f"[SOS], [EOS], {NUM_SENTINELS} sentinels), got {size}"
        )
