"""Depth maps from user files to the official 4M depth input: a robustly standardised 1-channel map.

Accepted inputs (larger value = farther, unless ``inverse=True``):

* 16-bit greyscale PNG/TIFF (the usual way to store depth; values are divided by 65535 first, as
  the official pipeline does), 8-bit greyscale (divided by 255), 32-bit integer/float images;
* float ``.npy`` / ``.npz`` files or arrays/tensors ``[H, W]``, ``[1, H, W]`` or ``[H, W, 1]``;
* a 3-channel image whose channels are all equal (a greyscale map saved as RGB) is converted with
  an :class:`InputWarning`; a colour image (e.g. a colour-mapped depth visualisation) is refused,
  because the colour map cannot be inverted reliably.

Pixels that are zero, negative, NaN or infinite are invalid ("no depth"): they take no part in the
statistics and resizing, and are set to 0 (the robust mean) in the output. With ``inverse=True``
a disparity of exactly 0 means infinitely far (sky) and takes the farthest valid depth instead.
After a centre crop and a resize (bilinear over valid pixels only), each map is standardised
exactly like the official ``truncated_depth_standardization``: drop the lowest and highest 10 %
of the values, then ``(d - mean) / sqrt(var + 1e-6)`` with the mean and unbiased variance of the
kept values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from anyseek.model.transforms.base import (
    ImageSource,
    UserInputError,
    center_crop_array,
    check_output_size,
    open_image,
    resize_masked,
    single_channel_array,
    warn,
)

TRUNCATE = 0.1  # fraction dropped at each end before computing the statistics
EPS = 1e-6
_INT_SCALE = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 65535.0, "L": 255.0}


def truncated_standardize(depth: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Standardise with the mean/variance of the middle 80 % of the valid values; invalid -> 0."""
    values = depth[valid] if valid is not None else depth.reshape(-1)
    ordered = torch.sort(values.reshape(-1))[0]
    kept = ordered[int(TRUNCATE * ordered.shape[0]) : int((1 - TRUNCATE) * ordered.shape[0])]
    if kept.numel() < 2:
        raise UserInputError(
            f"depth map has too few valid pixels ({values.numel()}) to standardise"
        )
    # Statistics in float64: float32 reductions round differently on different CPUs (SIMD
    # width), so this keeps the output the same on every machine, within 1 ulp of float32.
    kept = kept.double()
    out = ((depth.double() - kept.mean()) / torch.sqrt(kept.var() + EPS)).float()
    return out if valid is None else torch.where(valid, out, 0.0)


@dataclass(frozen=True)
class DepthTransform:
    """User depth map -> ``FloatTensor [1, size, size]``, standardised as the official pipeline."""

    size: int = 224
    inverse: bool = False  # input is disparity / inverse depth (brighter = nearer)

    def __post_init__(self) -> None:
        """Refuse invalid options when the transform is built, not when it is used."""
        check_output_size(self.size)

    def __call__(self, source: ImageSource) -> torch.Tensor:
        """Load, validate, crop, resize and standardise one depth map. The full-size steps are
        numpy's: torch's small elementwise kernels cost several times more on a busy CPU."""
        depth = np.ascontiguousarray(load_depth(source), dtype=np.float32)
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(depth)
            valid = finite & (depth > 0)
        if not valid.any():
            raise UserInputError("depth map has no valid pixel (all zero, negative or not finite)")
        if self.inverse:
            far = finite & (depth == 0)  # zero disparity: infinitely far (sky), not missing
            depth = np.where(valid, np.float32(1.0) / np.where(valid, depth, np.float32(1.0)), 0)
            depth = np.where(far, depth[valid].max(), depth).astype(np.float32)
            valid = valid | far
        depth = np.where(valid, depth, np.float32(0.0))  # NaN and negatives never reach torch
        depth, valid = center_crop_array(depth), center_crop_array(valid)
        depth, valid = resize_masked(
            torch.from_numpy(np.ascontiguousarray(depth)),
            torch.from_numpy(np.ascontiguousarray(valid)),
            self.size,
        )
        all_valid = bool(valid.all())
        return truncated_standardize(depth, None if all_valid else valid)[None]


def load_depth(source: ImageSource) -> np.ndarray:
    """Read a depth map as a float ``[H, W]`` array from any accepted source."""
    what = "depth array"
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() in (".npy", ".npz"):
        source, what = _load_numpy(Path(source).expanduser()), str(source)
    if (array := single_channel_array(source, what, "depth map")) is not None:
        return _numeric(array, what)
    return _depth_from_image(open_image(source))


def _load_numpy(path: Path) -> np.ndarray:
    """Load a ``.npy`` file, or the ``depth`` (or only) array of an ``.npz`` file."""
    if not path.is_file():
        raise UserInputError(f"depth file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{path}: not a readable numpy file ({exc})") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        keys = list(loaded.keys())
        if "depth" in keys:
            return loaded["depth"]
        if len(keys) == 1:
            return loaded[keys[0]]
    raise UserInputError(f"{path}: holds arrays {keys}; name the depth array 'depth'")


def _numeric(array: np.ndarray, what: str) -> np.ndarray:
    """A depth array of numbers, as float32."""
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise UserInputError(f"{what}: expected numbers, got dtype {array.dtype}")
    return array.astype(np.float32)


def _depth_from_image(image: Image.Image) -> np.ndarray:
    """Greyscale images map to depth directly; equal-channel RGB is converted with a warning."""
    mode = image.mode
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    if mode in _INT_SCALE:
        return np.asarray(image, dtype=np.float64).astype(np.float32) / np.float32(_INT_SCALE[mode])
    if mode == "LA":
        grey, alpha = (np.asarray(c, dtype=np.float32) for c in image.split())
        return np.where(alpha > 0, grey / 255.0, 0.0).astype(np.float32)
    if mode in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr"):
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            warn(
                "depth map was given as a 3-channel image with equal channels; using it as 8-bit "
                "greyscale depth (store depth as a 16-bit greyscale PNG or .npy for full precision)"
            )
            return rgb[..., 0] / 255.0
        raise UserInputError(
            "depth map is a colour image (its channels differ): a colour-mapped depth "
            "visualisation cannot be turned back into depth; give the raw depth as a 16-bit "
            "greyscale PNG, an 8-bit greyscale image or a float .npy file"
        )
    raise UserInputError(f"unsupported image mode {mode!r} for a depth map")
