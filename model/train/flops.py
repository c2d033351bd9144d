"""Model FLOPs of one FM training step, device peaks, and model FLOPs utilisation (MFU).

Only matrix products are counted (2 FLOPs per multiply-add), as the usual MFU convention and
``torch.utils.flop_counter`` do: layer norms, softmax and activations are left out. The count
follows the shapes a step executes: the encoder over ``input_tokens`` slots per sample (the input
budget, padding included), the decoder over ``target_tokens`` queries with self-attention among
them and cross-attention to every encoder slot, the output heads over ``head_width`` codes (the
live codes when only those are scored), and the pixel patch projections over every patch of
every pixel input (they run before the visible patches are picked).

The backward pass costs twice the forward for every product whose input is an activation that
needs a gradient, and once for the pixel patch projections, whose inputs need none (class-map
patches start from a learned embedding, so theirs cost twice).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from model.fourm.config import FourMConfig
from model.fourm.modalities import Embedding, get_modality


@dataclass(frozen=True)
class StepShape:
    """The token counts one training step runs the network over."""

    batch: int
    input_tokens: int  # encoder slots per sample
    target_tokens: int  # decoder queries per sample
    head_width: int  # output-head rows scored per query


@dataclass(frozen=True)
class StepFlops:
    """Forward and training-step (forward + backward) matmul FLOPs of one batch."""

    forward: int
    step: int


def mlp_hidden(config: FourMConfig) -> int:
    """Hidden width of a block's feed-forward network (2/3 of it when gated, as built)."""
    hidden = int(config.dim * config.mlp_ratio)
    return int(2 * hidden / 3) if config.gated_mlp else hidden


def patch_flops(config: FourMConfig, learned_input: bool) -> int:
    """Forward FLOPs of one sample's patch projections (every patch is projected).

    ``learned_input`` False: pixel patches, whose input needs no gradient; True: class-map
    patches, whose input comes from a learned class embedding.
    """
    kind = Embedding.CLASS_PATCHES if learned_input else Embedding.PIXEL_PATCHES
    total = 0
    for name in config.domains_in:
        spec = get_modality(name)
        if spec.encoder is kind:
            features = spec.num_channels * spec.patch_size**2
            total += 2 * spec.num_tokens(config.image_size) * features * config.dim
    return total


def network_flops(config: FourMConfig, shape: StepShape) -> int:
    """Forward FLOPs of one sample after the embeddings: encoder, decoder and output heads."""
    D, T, M = config.dim, shape.input_tokens, shape.target_tokens
    mlp = 3 if config.gated_mlp else 2
    block_mlp = 2 * mlp * D * mlp_hidden(config)  # per token
    encoder = T * (2 * 4 * D * D + block_mlp + 4 * T * D)  # qkv + proj, MLP, QK^T and AV
    context = T * 2 * D * D  # decoder_proj_context
    decoder_query = 2 * 6 * D * D + block_mlp + 4 * M * D + 4 * T * D  # self qkv+proj, cross q+proj
    decoder = M * decoder_query + T * 2 * 2 * D * D  # + the context's cross keys and values
    heads = M * 2 * D * shape.head_width
    return config.encoder_depth * encoder + context + config.decoder_depth * decoder + heads


def step_flops(config: FourMConfig, shape: StepShape) -> StepFlops:
    """Matmul FLOPs of one training step (forward + backward) at ``shape``."""
    pixels = patch_flops(config, learned_input=False)
    learned = patch_flops(config, learned_input=True) + network_flops(config, shape)
    forward = shape.batch * (pixels + learned)
    return StepFlops(forward=forward, step=shape.batch * (2 * pixels + 3 * learned))


# Dense (no sparsity) tensor-core peaks in FLOP/s, by a substring of the CUDA device name;
# the more specific names first. bfloat16 / float16, and TF32 for float32 matmuls.
PEAKS: tuple[tuple[str, float, float], ...] = (
    ("H100 PCIe", 756e12, 378e12),
    ("H100", 989e12, 494.5e12),  # SXM
    ("H200", 989e12, 494.5e12),
    ("A100", 312e12, 156e12),
    ("L4", 121e12, 60e12),
)


def table_peak(device_name: str, dtype: torch.dtype) -> float | None:
    """Peak FLOP/s of a known accelerator at ``dtype`` from :data:`PEAKS`, or None."""
    for key, half, tf32 in PEAKS:
        if key.lower() in device_name.lower():
            return half if dtype in (torch.bfloat16, torch.float16) else tf32
    return None


def measured_peak(
    device: str = "cpu", dtype: torch.dtype = torch.float32, n: int = 1024, repeats: int = 5
) -> float:
    """FLOP/s of the best of ``repeats`` square ``n`` matmuls on ``device``: an attainable peak."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):  # the first one warms up
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def device_peak(device: str, dtype: torch.dtype) -> tuple[float, str]:
    """(peak FLOP/s, where it came from) for MFU: the table for known GPUs, else a measurement."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        name = torch.cuda.get_device_name(torch.device(device))
        peak = table_peak(name, dtype)
        if peak is not None:
            return peak, f"{name} dense {dtype} peak (table)"
    n = 4096 if str(device).startswith("cuda") else 1024  # big enough to fill the device
    return measured_peak(str(device), dtype, n), f"measured {dtype} {n}x{n} matmul on {device}"


def mfu(flops_per_step: int, seconds_per_step: float, peak: float) -> float:
    """Model FLOPs utilisation: achieved model FLOP/s over the peak."""
    return flops_per_step / seconds_per_step / peak
