"""Surface normals from user files to the 4M normal input: RGB-encoded normals in [-1, 1].

Normals are stored the usual way, as an RGB image where each channel maps a unit-vector component
from [-1, 1] to [0, 255] (``rgb = (n + 1) / 2 * 255``). A float array ``[H, W, 3]`` or
``[3, H, W]`` of decoded normals in [-1, 1] is accepted too. The output is what the official
pipeline feeds the normal tokenizer: ``x / 255`` normalised with mean 0.5 and std 0.5, i.e. the
components in [-1, 1]. Greyscale images cannot hold normals and are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from anyseek.model.transforms.base import (
    ImageSource,
    UserInputError,
    as_array,
    center_crop_array,
    check_dimensions,
    check_output_size,
    open_image,
    square_resize,
)


@dataclass(frozen=True)
class NormalTransform:
    """RGB-encoded normal map -> ``FloatTensor [3, size, size]`` with components in [-1, 1]."""

    size: int = 224

    def __post_init__(self) -> None:
        """Refuse invalid options when the transform is built, not when it is used."""
        check_output_size(self.size)

    def __call__(self, source: ImageSource) -> torch.Tensor:
        """Load, crop, resize and rescale one normal map."""
        if (array := as_array(source)) is not None:
            return self._from_array(array)
        image = open_image(source)
        if image.mode not in ("RGB", "RGBA", "P"):
            raise UserInputError(
                f"normal maps must be RGB images (x, y, z in the three channels), got mode "
                f"{image.mode!r}"
            )
        image = square_resize(image.convert("RGB"), self.size, Image.Resampling.BICUBIC)
        x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255.0
        return (x - 0.5) / 0.5

    def _from_array(self, array: np.ndarray) -> torch.Tensor:
        """Decoded normals ``[H, W, 3]`` or ``[3, H, W]`` in [-1, 1]."""
        if array.ndim == 3 and array.shape[-1] == 3 and array.shape[0] != 3:
            array = array.transpose(2, 0, 1)
        if array.ndim != 3 or array.shape[0] != 3 or not np.issubdtype(array.dtype, np.floating):
            raise UserInputError(
                f"normal arrays must be float [3, H, W] or [H, W, 3], got {array.shape}"
            )
        check_dimensions(*array.shape[1:], "normal map")
        if not np.isfinite(array).all() or np.abs(array).max() > 1.0 + 1e-3:
            raise UserInputError("decoded normal arrays must hold finite components in [-1, 1]")
        x = center_crop_array(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)))
        if x.shape[-1] != self.size:
            x = F.interpolate(
                x[None],
                size=(self.size, self.size),
                mode="bicubic",
                antialias=True,
                align_corners=False,
            )[0]
        return x.clamp(-1.0, 1.0)
