"""Semantic segmentations from user files to the class map the 4M semseg tokenizer reads.

Output convention (the official one): ``LongTensor [size, size]`` with 0 = no class and 1..133 =
the 133 COCO panoptic classes (80 things then 53 stuff classes, in COCO panoptic category order).

Two kinds of input are accepted:

* **class ids** (indexed ``P``, greyscale ``L``/``I`` PNGs, or integer arrays). With
  ``ids="coco"`` (default) pixel values are COCO panoptic semantic ids 0..132 and 255 means
  unlabelled, as most COCO tools write them; they are shifted by one like the official data
  pipeline (255 -> 0). With ``ids="model"`` values are already 0..133 in the model's numbering;
* **painted colours** (RGB/RGBA PNGs) using the palette in ``assets/coco_semseg_classes.json``:
  the standard COCO panoptic category colours, black = no class. Fully transparent pixels are no
  class. Paint with a hard (not anti-aliased) brush and save as PNG: blended or JPEG-compressed
  colours are not in the palette (``color_tolerance`` accepts near matches).

Values or colours outside these sets are refused, naming them. The map is centre-cropped and
resized with nearest-neighbour sampling, as the official pipeline does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from anyseek.model.transforms.base import (
    ImageSource,
    UserInputError,
    as_array,
    check_dimensions,
    check_output_size,
    open_image,
    square_resize,
    to_numpy,
)

CLASSES_FILE = Path(__file__).parent / "assets" / "coco_semseg_classes.json"
NUM_CLASSES = 134  # 133 COCO panoptic classes + "no class"
COCO_UNLABELLED = 255
_ID_MODES = ("P", "L", "I", "I;16", "I;16B", "I;16L")


@dataclass(frozen=True)
class SemsegClass:
    """One class of the model's numbering with its palette colour."""

    id: int
    name: str
    color: tuple[int, int, int]


@cache
def semseg_classes() -> tuple[SemsegClass, ...]:
    """All 134 classes (0 = no class) with their palette colours, in id order."""
    raw = json.loads(CLASSES_FILE.read_text())["classes"]
    return tuple(SemsegClass(c["id"], c["name"], tuple(c["color"])) for c in raw)


def class_id(name: str) -> int:
    """Model class id of a COCO panoptic class name (``"dog"`` -> 17)."""
    for cls in semseg_classes():
        if cls.name == name:
            return cls.id
    raise UserInputError(f"unknown COCO class {name!r}")


def colorize(class_map: torch.Tensor | np.ndarray) -> Image.Image:
    """Paint a model class map ``[H, W]`` with the palette (the inverse of the colour input)."""
    palette = np.array([c.color for c in semseg_classes()], dtype=np.uint8)
    return Image.fromarray(palette[to_numpy(class_map).astype(np.int64)], mode="RGB")


@dataclass(frozen=True)
class SemsegTransform:
    """User segmentation -> ``LongTensor [size, size]`` of model class ids (0 = no class)."""

    size: int = 224
    ids: Literal["coco", "model"] = "coco"  # numbering of class-id images and arrays
    input: Literal["auto", "ids", "colors"] = "auto"  # auto: P/L/I images are ids, RGB colours
    color_tolerance: int = 0  # max per-channel difference for a colour to match the palette

    def __post_init__(self) -> None:
        """Refuse invalid options when the transform is built, not when it is used."""
        check_output_size(self.size)
        if self.ids not in ("coco", "model") or self.input not in ("auto", "ids", "colors"):
            raise UserInputError(f"unknown semseg options ids={self.ids!r}, input={self.input!r}")

    def __call__(self, source: ImageSource) -> torch.Tensor:
        """Read, map to model ids, centre-crop and resize (nearest) one segmentation."""
        if (array := as_array(source)) is not None:
            class_map = self._map_ids(_integer_map(array))
        else:
            image = open_image(source)
            if self.input == "auto":
                by_ids = image.mode in _ID_MODES and not _painted_with_palette(image)
            else:
                by_ids = self.input == "ids"
            if by_ids:
                class_map = self._map_ids(_image_ids(image))
            else:
                class_map = _map_colors(image, self.color_tolerance)
        image = Image.fromarray(class_map.astype(np.uint8), mode="L")
        image = square_resize(image, self.size, Image.Resampling.NEAREST)
        return torch.from_numpy(np.asarray(image, dtype=np.int64).copy())

    def _map_ids(self, values: np.ndarray) -> np.ndarray:
        """Pixel values -> model ids, refusing values outside the chosen numbering."""
        if self.ids == "model":
            bad = np.unique(values[(values < 0) | (values >= NUM_CLASSES)])
            _refuse_values(bad, f"model class ids are 0..{NUM_CLASSES - 1}")
            return values
        unlabelled = values == COCO_UNLABELLED
        bad = np.unique(values[~unlabelled & ((values < 0) | (values >= NUM_CLASSES - 1))])
        _refuse_values(
            bad,
            "COCO panoptic semantic ids are 0..132 and 255 (unlabelled); for maps already in "
            "the model numbering (0 = no class, 1..133) use ids='model'",
        )
        return np.where(unlabelled, 0, values + 1)


def _refuse_values(bad: np.ndarray, rule: str) -> None:
    """Raise naming the offending class values, if any."""
    if bad.size:
        shown = ", ".join(str(int(v)) for v in bad[:10]) + (" ..." if bad.size > 10 else "")
        raise UserInputError(f"segmentation has unknown class ids {shown}: {rule}")


def _painted_with_palette(image: Image.Image) -> bool:
    """Whether an indexed image only uses colours of the class palette (painted, then saved as P).

    Class-id maps saved as ``P`` images carry arbitrary or grey palettes; an editor that saves a
    painted segmentation as an indexed PNG keeps the class colours, so colours win then.
    """
    if image.mode != "P" or image.palette is None:
        return False
    lut = np.asarray(image.getpalette() or [], dtype=np.int64)  # flat r, g, b, r, ...
    used = np.unique(np.asarray(image)).astype(np.int64)
    if lut.size < 3 * (int(used.max()) + 1):
        return False
    colors = {tuple(int(v) for v in lut[3 * i : 3 * i + 3]) for i in used}
    return colors <= {c.color for c in semseg_classes()}


def _image_ids(image: Image.Image) -> np.ndarray:
    """Pixel values of an indexed or greyscale image (palette indices, not colours)."""
    if image.mode not in _ID_MODES:
        raise UserInputError(
            f"class-id segmentations must be indexed or greyscale images, got mode {image.mode!r}"
        )
    return np.asarray(image, dtype=np.int64)


def _integer_map(array: np.ndarray) -> np.ndarray:
    """Accept integer ``[H, W]`` (or ``[1, H, W]``) arrays of class ids."""
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise UserInputError(
            f"segmentation array must be integer class ids [H, W], got {array.dtype} {array.shape}"
        )
    check_dimensions(*array.shape, "segmentation")
    return array.astype(np.int64)


def _map_colors(image: Image.Image, tolerance: int) -> np.ndarray:
    """Painted RGB(A) pixels -> model ids via the palette; transparent pixels are no class."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.int64)
    packed = (rgba[..., 0] << 16) | (rgba[..., 1] << 8) | rgba[..., 2]  # one int per colour
    transparent = rgba[..., 3] == 0
    codes, inverse = np.unique(packed, return_inverse=True)
    colors = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=-1)  # [n, 3]
    palette = np.array([c.color for c in semseg_classes()], dtype=np.int64)  # [134, 3]
    diff = np.abs(colors[:, None, :] - palette[None]).max(axis=-1)  # [n, 134]
    best = diff.argmin(axis=1)
    matched = diff[np.arange(len(codes)), best] <= tolerance
    inverse = inverse.reshape(packed.shape)
    unknown = ~matched[inverse] & ~transparent
    if unknown.any():
        bad_codes, counts = np.unique(packed[unknown], return_counts=True)
        top = np.argsort(-counts, kind="stable")[:5]
        shown = ", ".join(f"RGB{_unpack(int(bad_codes[i]))} ({int(counts[i])} px)" for i in top)
        raise UserInputError(
            f"segmentation has {int(unknown.sum())} pixels in {len(bad_codes)} colours that are "
            f"not in the class palette, e.g. {shown}; paint with palette colours (see "
            "docs/tokenizers.md), a hard brush and save as PNG"
        )
    return np.where(transparent, 0, best[inverse])


def _unpack(code: int) -> tuple[int, int, int]:
    """RGB triple of a colour packed as ``r << 16 | g << 8 | b``."""
    return code >> 16, (code >> 8) & 255, code & 255
