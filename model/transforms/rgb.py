"""Photos from user files to the 4M RGB input: centre crop, resize, ImageNet normalisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image

from anyseek.model.fourm.imagenet import imagenet_stats
from anyseek.model.transforms.base import (
    ImageSource,
    UserInputError,
    check_output_size,
    open_image,
    square_resize,
)

_HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "F")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: transparency over white, high bit depth rescaled; a float
    image holding NaN or infinity is refused (:class:`UserInputError`)."""
    if image.mode in _HIGH_DEPTH_MODES:  # convert("L") would clip these at 255
        array = np.asarray(image, dtype=np.float32)
        if not np.isfinite(array).all():  # cast to uint8, NaN is garbage: refused, never read
            raise UserInputError(
                f"the {image.mode} image holds NaN or infinite values: no pixels to read"
            )
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        if image.mode == "F":
            peak = max(float(array.max()), 1e-12) if array.max() > 1.0 else 1.0
        grey = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


@dataclass(frozen=True)
class RGBTransform:
    """Any image -> ``FloatTensor [3, size, size]``, ImageNet-normalised like the 4M ``rgb`` input.

    The largest centred square is cropped and resized with bicubic filtering (the official
    pipeline's defaults), then ``(x / 255 - mean) / std`` with the ImageNet mean and std, which is
    what the model's pixel input reads. ``normalization="symmetric"`` gives ``[-1, 1]`` instead
    (mean = std = 0.5), the input of the RGB DiVAE tokenizer when its config has no ``undo_std``.
    """

    size: int = 224
    normalization: Literal["imagenet", "symmetric"] = "imagenet"

    def __post_init__(self) -> None:
        """Refuse invalid options when the transform is built, not when it is used."""
        check_output_size(self.size)
        if self.normalization not in ("imagenet", "symmetric"):
            raise UserInputError(f"unknown normalization {self.normalization!r}")

    def __call__(self, source: ImageSource) -> torch.Tensor:
        """Load, convert, crop, resize and normalise one image."""
        image = to_rgb(open_image(source))
        image = square_resize(image, self.size, Image.Resampling.BICUBIC)
        x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255.0
        if self.normalization == "symmetric":
            return (x - 0.5) / 0.5
        mean, std = imagenet_stats(x)
        return (x - mean) / std
