"""The reference pretraining pipeline's input conversions, for tensors already loaded.

``rgb``: uint8 -> /255 -> ImageNet mean/std. ``depth``: 16-bit -> /2**16, then the truncated
standardisation per sample (middle 80 % of the sorted values, unbiased variance, eps 1e-6, in
float32 like the reference training loop). ``semseg``: full-resolution ids -> nearest resize to
1/stride (PIL's NEAREST, which picks each block's centre pixel). User files go through
``anyseek.model.transforms`` instead (the search adapter does that).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEPTH_SCALE = 2.0**16
TRUNCATE = 0.1
EPS = 1e-6


def normalize_rgb(rgb_uint8: Tensor) -> Tensor:
    """uint8 [B, 3, H, W] -> float32 ImageNet-normalised (subtract, then divide)."""
    x = rgb_uint8.to(torch.float32).div(255)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]
    return (x - mean) / std


def depth_unit(depth_uint16: Tensor) -> Tensor:
    """16-bit depth [B, 1, H, W] -> [0, 1) float32 (divided in float64 like numpy, then cast)."""
    return (depth_uint16.to(torch.float64) / DEPTH_SCALE).to(torch.float32)


def standardize_depth(depth: Tensor) -> Tensor:
    """[B, 1, H, W] -> per-sample truncated standardisation, float32 throughout (as pretraining)."""
    flat = torch.sort(depth.reshape(depth.shape[0], -1), dim=1)[0]  # [B, n]
    n = flat.shape[1]
    kept = flat[:, int(TRUNCATE * n) : int((1 - TRUNCATE) * n)]
    mean = kept.mean(dim=1)[:, None, None, None]
    var = kept.var(dim=1)[:, None, None, None]  # unbiased
    return (depth - mean) / torch.sqrt(var + EPS)


def downsample_ids(ids: Tensor, stride: int = 4) -> Tensor:
    """Full-resolution class ids [B, H, W] -> [B, H/stride, W/stride] int64 (PIL NEAREST)."""
    out = []
    for sample in ids:
        image = Image.fromarray(sample.to(torch.uint8).numpy())  # mode L
        size = (image.width // stride, image.height // stride)
        out.append(torch.from_numpy(np.array(image.resize(size, Image.Resampling.NEAREST))))
    return torch.stack(out).to(torch.int64)
