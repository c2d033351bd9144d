"""How search reads a user's sketch and painted segmentation, for drawings made in training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def user_readers(size: int) -> dict[str, Callable[[Any], torch.Tensor]]:
    """The service's sketch transform and the built-in palette's segmentation transform."""
    from model.bundle.definition import builtin_palette
    from model.transforms import transform_for
    from model.transforms.palette_semseg import PaletteSemsegTransform

    return {
        "sketch": transform_for("sketch", size),
        "semseg": PaletteSemsegTransform(builtin_palette(), size),
    }
