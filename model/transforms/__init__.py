"""Input transforms: from what users have (photos, depth maps, segmentations, sketches, captions)
to the tensors the 4M tokenizers and the model's pixel-patch inputs expect.

``TRANSFORMS`` maps each user input kind to a default transform at the 4M resolution (224);
``transform_for(kind, size)`` gives the same transform at another resolution, e.g. 64x64 for the
built-in model's pixel patches.
"""

from __future__ import annotations

import dataclasses

from anyseek.model.transforms.base import InputWarning, UserInputError
from anyseek.model.transforms.caption import CaptionTransform
from anyseek.model.transforms.depth import DepthTransform
from anyseek.model.transforms.edges import EdgesTransform, SketchTransform
from anyseek.model.transforms.normal import NormalTransform
from anyseek.model.transforms.rgb import RGBTransform
from anyseek.model.transforms.semseg import SemsegTransform, class_id, colorize, semseg_classes

TRANSFORMS = {
    "rgb": RGBTransform(),
    "depth": DepthTransform(),
    "semseg": SemsegTransform(),
    "edges": EdgesTransform(),
    "sketch": SketchTransform(),
    "normal": NormalTransform(),
    "caption": CaptionTransform(),
}


def transform_for(kind: str, size: int | None = None):
    """The registered transform for an input kind, optionally at another output resolution."""
    if kind not in TRANSFORMS:
        raise UserInputError(f"unknown input kind {kind!r} (known: {sorted(TRANSFORMS)})")
    transform = TRANSFORMS[kind]
    if size is None or not hasattr(transform, "size"):
        return transform
    return dataclasses.replace(transform, size=size)


__all__ = [
    "TRANSFORMS",
    "CaptionTransform",
    "DepthTransform",
    "EdgesTransform",
    "InputWarning",
    "NormalTransform",
    "RGBTransform",
    "SemsegTransform",
    "SketchTransform",
    "UserInputError",
    "class_id",
    "colorize",
    "semseg_classes",
    "transform_for",
]
