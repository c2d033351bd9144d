"""The MultiMAE network (nanoGPT style): input adapters, ViT encoder, spatial output adapters.

Public API (what the conformance fixtures check):

* ``encode(inputs)``: any non-empty subset of ``rgb`` [B,3,H,W], ``depth`` [B,1,H,W],
  ``semseg`` [B,H/4,W/4] ids -> tokens [B, N + G, D] in input-dict order, global tokens last;
* ``reconstruct(inputs, visible)``: bool [B, N_m] per input (True = given to the encoder) ->
  every output adapter's prediction, computed per sample (samples never share tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from anyseek.errors import AnyseekError
from anyseek.model.fourm.layers import EncoderBlock, LayerNorm

from .adapters import SpatialOutputAdapter, block_spec, build_input_adapter
from .config import SEMSEG, InputAdapterConfig, MultiMAEConfig

Grid = tuple[int, int]


class MultiMAEInputError(AnyseekError):
    """Inputs or visibility masks given to MultiMAE have the wrong modality, shape, size or ids."""


@dataclass(frozen=True)
class TokenLayout:
    """Token counts of the inputs of one call, in token order, and the shared grid."""

    modalities: tuple[tuple[str, int], ...]  # (name, N_m)
    grid: Grid

    @property
    def total(self) -> int:
        """Number of patch tokens over all inputs."""
        return sum(n for _, n in self.modalities)


class MultiMAE(nn.Module):
    """MultiMAE pretraining model built from a :class:`MultiMAEConfig`; weights load 1:1."""

    def __init__(self, config: MultiMAEConfig) -> None:
        super().__init__()
        self.config = config
        D, P, grid = config.dim_tokens, config.patch_size, config.grid
        self.global_tokens = nn.Parameter(torch.zeros(1, config.num_global_tokens, D))
        self.input_adapters = nn.ModuleDict(
            {a.name: build_input_adapter(a, D, P, grid) for a in config.input_adapters}
        )
        spec = block_spec(config)
        self.encoder = nn.ModuleList(EncoderBlock(spec) for _ in range(config.depth))
        self.output_adapters = nn.ModuleDict(
            {
                a.name: SpatialOutputAdapter(a, config.decoder, D, P, grid)
                for a in config.output_adapters
            }
        )
        for module in self.modules():  # the shared blocks default to 1e-6; honour the config
            if isinstance(module, LayerNorm):
                module.eps = config.layer_norm_eps

    # ----------------------------------------------------------------------------- inputs

    def image_size(self, inputs: Mapping[str, Tensor]) -> Grid:
        """Full-resolution (H, W): from rgb, else semseg x its stride, else the first input."""
        if "rgb" in inputs:
            return tuple(inputs["rgb"].shape[-2:])
        for name, x in inputs.items():
            adapter = self._adapter_config(name)
            if adapter.cls == SEMSEG:
                return x.shape[-2] * adapter.stride_level, x.shape[-1] * adapter.stride_level
        first = next(iter(inputs))
        stride = self._adapter_config(first).stride_level
        return inputs[first].shape[-2] * stride, inputs[first].shape[-1] * stride

    def _adapter_config(self, name: str) -> InputAdapterConfig:
        """The input adapter config of ``name``, or an error listing the modalities read."""
        try:
            return self.config.input_adapter(name)
        except KeyError:
            raise MultiMAEInputError(
                f"unknown input modality {name!r}; this model reads {list(self.input_adapters)}"
            ) from None

    def _is_ids(self, name: str) -> bool:
        """Whether a modality is given as class ids (semseg) rather than pixels."""
        return self.config.input_adapter(name).cls == SEMSEG

    def check_inputs(self, inputs: Mapping[str, Tensor]) -> tuple[int, Grid]:
        """Validate modalities, shapes, sizes and class ids; returns (batch, grid)."""
        if not inputs:
            raise MultiMAEInputError(
                "no input: give at least one of " + str(list(self.input_adapters))
            )
        for name, x in inputs.items():
            self._adapter_config(name)
            if not isinstance(x, Tensor) or x.dim() < 3:
                raise MultiMAEInputError(f"{name}: expected a batched tensor, got {_describe(x)}")
        H, W = self.image_size(inputs)
        P = self.config.patch_size
        if H % P or W % P or H == 0 or W == 0:
            raise MultiMAEInputError(
                f"image size {H}x{W} is not a (non-zero) multiple of the patch size {P}"
            )
        batch = next(iter(inputs.values())).shape[0]
        for name, x in inputs.items():
            cfg = self._adapter_config(name)
            size = (H // cfg.stride_level, W // cfg.stride_level)
            if cfg.cls == SEMSEG:
                want = (batch, *size)
                if x.dtype.is_floating_point or x.dtype == torch.bool:
                    raise MultiMAEInputError(f"{name}: class ids must be integers, got {x.dtype}")
                if x.numel() and (int(x.min()) < 0 or int(x.max()) >= cfg.num_classes):
                    bad = torch.unique(x[(x < 0) | (x >= cfg.num_classes)])[:10].tolist()
                    raise MultiMAEInputError(
                        f"{name}: class ids {bad} outside 0..{cfg.num_classes - 1} "
                        f"(this model has {cfg.num_classes} classes and no ignore id)"
                    )
            else:
                want = (batch, cfg.num_channels, *size)
                if not x.dtype.is_floating_point:
                    raise MultiMAEInputError(f"{name}: expected a float tensor, got {x.dtype}")
            if tuple(x.shape) != want:
                raise MultiMAEInputError(
                    f"{name}: expected shape {want} for a {H}x{W} image, got {tuple(x.shape)}"
                )
        return batch, (H // P, W // P)

    def tokenize(self, inputs: Mapping[str, Tensor]) -> tuple[Tensor, TokenLayout]:
        """Inputs -> patch tokens [B, N, D] in input-dict order, with their layout."""
        _, grid = self.check_inputs(inputs)
        dtype = self.global_tokens.dtype
        tokens = [
            self.input_adapters[m](x if self._is_ids(m) else x.to(dtype), grid)
            for m, x in inputs.items()
        ]
        layout = TokenLayout(
            tuple((m, t.shape[1]) for m, t in zip(inputs, tokens, strict=True)), grid
        )
        return torch.cat(tokens, dim=1), layout

    # ----------------------------------------------------------------------------- encoder

    def run_encoder(self, tokens: Tensor) -> Tensor:
        """Patch tokens [B, K, D] -> [B, K + G, D] (global tokens appended, no final norm)."""
        x = torch.cat([tokens, self.global_tokens.expand(tokens.shape[0], -1, -1)], dim=1)
        for block in self.encoder:
            x = block(x, None)
        return x

    def encode(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """All tokens of the given inputs, unmasked -> [B, N + G, D] (the reference MultiViT)."""
        tokens, _ = self.tokenize(inputs)
        return self.run_encoder(tokens)

    # ----------------------------------------------------------------------------- masking

    def visible_mask(
        self, layout: TokenLayout, batch: int, visible: Mapping[str, Tensor] | None
    ) -> Tensor:
        """Per-modality visibility -> one bool mask [B, N] (missing modalities: all visible)."""
        visible = dict(visible or {})
        extra = sorted(set(visible) - {m for m, _ in layout.modalities})
        if extra:
            raise MultiMAEInputError(
                f"visibility given for modalities that are not inputs: {extra}"
            )
        parts = []
        for name, count in layout.modalities:
            mask = visible.get(name)
            if mask is None:
                mask = torch.ones(batch, count, dtype=torch.bool)
            if tuple(mask.shape) != (batch, count):
                raise MultiMAEInputError(
                    f"visible[{name!r}]: expected shape {(batch, count)}, got {tuple(mask.shape)}"
                )
            parts.append(mask.to(torch.bool))
        return torch.cat(parts, dim=1).to(self.global_tokens.device)

    def encode_visible(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Encode the visible tokens of samples with EQUAL visible counts -> (out, keep [B, K])."""
        counts = mask.sum(1)
        if bool((counts != counts[0]).any()):
            raise MultiMAEInputError("encode_visible needs the same number of visible tokens")
        K = int(counts[0]) if counts.numel() else 0
        keep = torch.sort((~mask).to(torch.uint8), dim=1, stable=True).indices[:, :K]  # [B, K]
        kept = torch.gather(tokens, 1, keep[..., None].expand(-1, -1, tokens.shape[-1]))
        return self.run_encoder(kept), keep

    # ----------------------------------------------------------------------------- decoding

    def reconstruct(
        self,
        inputs: Mapping[str, Tensor],
        visible: Mapping[str, Tensor] | None = None,
        outputs: tuple[str, ...] | None = None,
    ) -> dict[str, Tensor]:
        """Predictions of the output adapters from the visible tokens, per sample.

        ``visible[m]`` is bool [B, N_m], True = given to the encoder (missing = all visible).
        Returns {adapter: [B, C, H/s, W/s]}: rgb, depth, semseg logits, norm_rgb (as built).
        """
        if not self.output_adapters:
            raise MultiMAEInputError("this checkpoint has no output adapters (encoder only)")
        names = outputs or tuple(self.output_adapters)
        unknown = sorted(set(names) - set(self.output_adapters))
        if unknown:
            raise MultiMAEInputError(
                f"unknown outputs {unknown}; this model predicts {list(self.output_adapters)}"
            )
        tokens, layout = self.tokenize(inputs)
        mask = self.visible_mask(layout, tokens.shape[0], visible)
        self._check_context(layout, names)
        counts = mask.sum(1)
        if tokens.shape[0] and bool((counts == counts[0]).all()):
            groups = [slice(0, tokens.shape[0])]  # equal counts: one batched pass is per-sample
        else:
            groups = [slice(b, b + 1) for b in range(tokens.shape[0])]
        results: dict[str, list[Tensor]] = {n: [] for n in names}
        for part in groups:
            hidden, keep = self.encode_visible(tokens[part], mask[part])
            for n in names:
                results[n].append(
                    self.output_adapters[n](hidden, keep, layout.modalities, layout.grid)
                )
        return {n: torch.cat(parts, dim=0) for n, parts in results.items()}

    def _check_context(self, layout: TokenLayout, names: tuple[str, ...]) -> None:
        """Every input and queried task needs a task embedding in each requested adapter."""
        for n in names:
            adapter = self.output_adapters[n]
            needed = {m for m, _ in layout.modalities} | {adapter.task}
            missing = sorted(needed - set(adapter.task_embeddings))
            if missing:
                raise MultiMAEInputError(
                    f"output adapter {n!r} has no task embedding for {missing}; its context "
                    f"tasks are {sorted(adapter.task_embeddings)}"
                )


def _describe(x: object) -> str:
    """Short description of a wrong input value for error messages."""
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
