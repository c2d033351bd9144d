"""Input transforms: from what users have (photos, depth maps, segmentations, sketches, captions)
to the tensors the 4M tokenizers and the model's pixel-patch inputs expect.

``TRANSFORMS`` maps each user input kind to a default transform at the 4M resolution (224);
``transform_for(kind, size)`` gives the same transform at another resolution, e.g. 64x64 for the
built-in model's pixel patches.
"""

from __future__ import annotations

import dataclasses

from model.transforms.base import InputError, InputWarning
from model.transforms.caption import CaptionTransform
from model.transforms.depth import DepthTransform
from model.transforms.edges import EdgesTransform, SketchTransform
from model.transforms.normal import NormalTransform
from model.transforms.rgb import RGBTransform
from model.transforms.semseg import SemsegTransform, class_id, colorize, semseg_classes

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
        raise InputError(f"unknown input kind {kind!r} (known: {sorted(TRANSFORMS)})")
    transform = TRANSFORMS[kind]
    if size is None or not hasattr(transform, "size"):
        return transform
    return dataclasses.replace(transform, size=size)


__all__ = [
    "TRANSFORMS",
    "CaptionTransform",
    "DepthTransform",
    "EdgesTransform",
    "InputError",
    "InputWarning",
    "NormalTransform",
    "RGBTransform",
    "SemsegTransform",
    "SketchTransform",
    "class_id",
    "colorize",
    "semseg_classes",
    "transform_for",
]
