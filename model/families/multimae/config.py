"""MultiMAE architecture config: the constructor arguments the reference builds a model from.

The official release stores no config, so a config comes from three places, merged in this order
(later wins): what the state dict shows (``loading.derive_config``), the released ``multimae-b``
values for what it cannot show (head counts), and a ``config.json`` beside the checkpoint (or the
``config`` entry of a safetensors file's metadata). The JSON schema is the one of the conformance
fixtures (``multimae-fixture-config/1``); named variants live in
``model/families/multimae/configs/``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from anyseek.errors import AnyseekError

CONFIG_DIR = Path(__file__).with_name("configs")
FORMAT = "multimae-fixture-config/1"
PATCHED, SEMSEG = "PatchedInputAdapter", "SemSegInputAdapter"
SPATIAL = "SpatialOutputAdapter"


class MultiMAEConfigError(AnyseekError):
    """A MultiMAE config is incomplete, unknown, or describes a model we cannot build."""


@dataclass(frozen=True)
class InputAdapterConfig:
    """One input adapter: patches of pixels (rgb, depth) or of class embeddings (semseg)."""

    name: str
    cls: str = PATCHED  # PATCHED or SEMSEG (the reference class names)
    num_channels: int = 3  # PATCHED only
    stride_level: int = 1  # the modality's pixels are 1/stride of the image's
    num_classes: int = 0  # SEMSEG only
    dim_class_emb: int = 64  # SEMSEG only
    interpolate_class_emb: bool = False
    emb_padding_idx: int | None = None
    sincos_pos_emb: bool = True
    learnable_pos_emb: bool = False

    def __post_init__(self) -> None:
        """Refuse adapter options whose behaviour we do not implement."""
        if self.cls not in (PATCHED, SEMSEG):
            raise MultiMAEConfigError(f"input adapter {self.name!r}: unknown class {self.cls!r}")
        if self.cls == SEMSEG and (self.interpolate_class_emb or self.emb_padding_idx is not None):
            raise MultiMAEConfigError(
                f"input adapter {self.name!r}: interpolate_class_emb / emb_padding_idx "
                "(fine-tuning options) are not supported; the pretraining release uses neither"
            )
        if self.cls == SEMSEG and self.num_classes < 1:
            raise MultiMAEConfigError(f"input adapter {self.name!r}: num_classes must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        """The fixture-schema dict of this adapter (without its name)."""
        out = {"class": self.cls, "stride_level": self.stride_level}
        if self.cls == PATCHED:
            out["num_channels"] = self.num_channels
        else:
            out |= {
                "num_classes": self.num_classes,
                "dim_class_emb": self.dim_class_emb,
                "interpolate_class_emb": self.interpolate_class_emb,
                "emb_padding_idx": self.emb_padding_idx,
            }
        return out | {
            "sincos_pos_emb": self.sincos_pos_emb,
            "learnable_pos_emb": self.learnable_pos_emb,
        }


@dataclass(frozen=True)
class OutputAdapterConfig:
    """One spatial output adapter: which task's tokens it queries and what it predicts."""

    name: str
    task: str  # the modality whose token range it queries (``norm_rgb`` -> ``rgb``)
    num_channels: int
    stride_level: int = 1
    cls: str = SPATIAL

    def __post_init__(self) -> None:
        """Only the spatial adapter of pretraining exists in the released checkpoints."""
        if self.cls != SPATIAL:
            raise MultiMAEConfigError(f"output adapter {self.name!r}: unsupported {self.cls!r}")

    def to_dict(self) -> dict[str, Any]:
        """The fixture-schema dict of this adapter (without its name)."""
        return {
            "class": self.cls,
            "num_channels": self.num_channels,
            "stride_level": self.stride_level,
            "task": self.task,
        }


@dataclass(frozen=True)
class DecoderConfig:
    """Shared shape of every output adapter's decoder."""

    dim_tokens: int = 256
    depth: int = 2
    num_heads: int = 8
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    use_task_queries: bool = True
    use_xattn: bool = True
    learnable_pos_emb: bool = False
    context_tasks: tuple[str, ...] = ("rgb", "depth", "semseg")

    def __post_init__(self) -> None:
        """Refuse decoder variants the release does not use and we do not implement."""
        if not (self.use_task_queries and self.use_xattn):
            raise MultiMAEConfigError(
                "decoder: use_task_queries=False / use_xattn=False unsupported"
            )
        if self.dim_tokens % self.num_heads:
            raise MultiMAEConfigError(
                f"decoder: dim_tokens {self.dim_tokens} is not divisible by num_heads "
                f"{self.num_heads}"
            )


@dataclass(frozen=True)
class MultiMAEConfig:
    """Architecture of a MultiMAE (encoder, input adapters, optional output adapters)."""

    input_adapters: tuple[InputAdapterConfig, ...]
    output_adapters: tuple[OutputAdapterConfig, ...] = ()
    decoder: DecoderConfig | None = None
    image_size: int = 224
    patch_size: int = 16
    num_global_tokens: int = 1
    dim_tokens: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        """Reject impossible shapes, naming the offending key."""
        if not self.input_adapters:
            raise MultiMAEConfigError("input_adapters is empty")
        if self.dim_tokens % self.num_heads:
            raise MultiMAEConfigError(
                f"dim_tokens {self.dim_tokens} is not divisible by num_heads {self.num_heads}"
            )
        if self.image_size % self.patch_size:
            raise MultiMAEConfigError(
                f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}"
            )
        for a in self.input_adapters:
            if self.patch_size % a.stride_level:
                raise MultiMAEConfigError(
                    f"input adapter {a.name!r}: stride_level {a.stride_level} does not divide "
                    f"patch_size {self.patch_size}"
                )
        if self.output_adapters and self.decoder is None:
            raise MultiMAEConfigError("output_adapters given without a decoder section")

    @property
    def grid(self) -> tuple[int, int]:
        """Native token grid (rows, columns) of the stored position tables."""
        side = self.image_size // self.patch_size
        return side, side

    def input_adapter(self, name: str) -> InputAdapterConfig:
        """The config of one input adapter by modality name."""
        for a in self.input_adapters:
            if a.name == name:
                return a
        raise KeyError(name)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MultiMAEConfig:
        """Parse the fixture-schema dict; unknown top-level keys are kept in ``extra``."""
        raw = dict(raw)
        raw.pop("format", None)
        try:
            inputs = tuple(
                InputAdapterConfig(name=name, cls=spec.get("class", PATCHED), **_rest(spec))
                for name, spec in raw.pop("input_adapters").items()
            )
            outputs = tuple(
                OutputAdapterConfig(
                    name=name,
                    cls=spec.get("class", SPATIAL),
                    task=spec.get("task", name),
                    **_rest(spec, ("task",)),
                )
                for name, spec in (raw.pop("output_adapters", None) or {}).items()
            )
            decoder_raw = raw.pop("decoder", None)
            decoder = None
            if decoder_raw is not None:
                decoder_raw = dict(decoder_raw)
                if "context_tasks" in decoder_raw:
                    decoder_raw["context_tasks"] = tuple(decoder_raw["context_tasks"])
                decoder = DecoderConfig(**decoder_raw)
            known = {f for f in cls.__dataclass_fields__ if f not in ("extra",)}
            extra = {k: raw.pop(k) for k in list(raw) if k not in known}
            return cls(
                input_adapters=inputs, output_adapters=outputs, decoder=decoder, extra=extra, **raw
            )
        except KeyError as exc:
            raise MultiMAEConfigError(f"config lacks required key {exc}") from None
        except TypeError as exc:
            raise MultiMAEConfigError(f"invalid config: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The fixture-schema dict (what ``config.json`` and safetensors metadata hold)."""
        out: dict[str, Any] = {"format": FORMAT}
        for key in (
            "image_size",
            "patch_size",
            "num_global_tokens",
            "dim_tokens",
            "depth",
            "num_heads",
            "mlp_ratio",
            "qkv_bias",
            "layer_norm_eps",
        ):
            out[key] = getattr(self, key)
        out["input_adapters"] = {a.name: a.to_dict() for a in self.input_adapters}
        out["output_adapters"] = {a.name: a.to_dict() for a in self.output_adapters}
        if self.decoder is not None:
            dec = asdict(self.decoder)
            dec["context_tasks"] = list(self.decoder.context_tasks)
            out["decoder"] = dec
        return out

    @classmethod
    def named(cls, name: str) -> MultiMAEConfig:
        """A shipped variant, e.g. ``multimae_b`` or ``test_multimae_tiny``."""
        path = CONFIG_DIR / f"{name}.json"
        if not path.is_file():
            shipped = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
            raise MultiMAEConfigError(f"unknown MultiMAE variant {name!r}; shipped: {shipped}")
        return cls.from_dict(json.loads(path.read_text()))


def _rest(spec: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """An adapter's JSON minus the keys passed separately."""
    return {k: v for k, v in spec.items() if k not in ("class", *drop)}
