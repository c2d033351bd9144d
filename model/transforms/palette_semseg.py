"""Segmentations for a model with its own, small class palette (the built-in model's scene classes).

:class:`SemsegTransform` speaks the COCO numbering and palette. A model trained on other classes
declares them as a :class:`ClassPalette` (id, name, colour) and reads segmentations through
:class:`PaletteSemsegTransform`, which accepts an indexed or greyscale PNG of class ids in that
numbering, or an RGB(A) PNG painted with the palette's colours, and refuses ids or colours that
are not in it, naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from anyseek.model.transforms.base import (
    ImageSource,
    UserInputError,
    as_array,
    check_fit,
    check_output_size,
    open_image,
    square_resize,
)
from anyseek.model.transforms.semseg import _ID_MODES, SemsegClass, _image_ids, _integer_map


@dataclass(frozen=True)
class ClassPalette:
    """The classes a model's segmentation input knows, in id order, each with its paint colour."""

    classes: tuple[SemsegClass, ...]

    def __post_init__(self) -> None:
        if [c.id for c in self.classes] != list(range(len(self.classes))):
            raise ValueError("palette classes must be numbered 0..n-1 in order")
        if len({c.color for c in self.classes}) != len(self.classes):
            raise ValueError("palette colours must be distinct")

    @property
    def colors(self) -> np.ndarray:
        """[n, 3] int64 colours in id order."""
        return np.array([c.color for c in self.classes], dtype=np.int64)

    def to_json(self) -> list[dict]:
        """``[{"id": 0, "name": "background", "color": [40, 40, 48]}, ...]`` for bundle.json."""
        return [{"id": c.id, "name": c.name, "color": list(c.color)} for c in self.classes]

    @classmethod
    def from_json(cls, data: list[dict]) -> ClassPalette:
        """Read :meth:`to_json`'s layout (KeyError / TypeError / ValueError when malformed)."""
        return cls(
            tuple(
                SemsegClass(int(c["id"]), str(c["name"]), tuple(int(v) for v in c["color"]))
                for c in data
            )
        )

    def describe(self) -> str:
        """``0 background (40, 40, 48), 1 floor (...)`` for error messages."""
        return ", ".join(f"{c.id} {c.name} {c.color}" for c in self.classes)


@dataclass(frozen=True)
class PaletteSemsegTransform:
    """User segmentation -> ``LongTensor [size, size]`` of class ids in a model's own palette."""

    palette: ClassPalette
    size: int = 64
    fit: str = "crop"  # a page that is not square: "crop" its centre or "stretch" it whole

    def __post_init__(self) -> None:
        """Refuse invalid options when the transform is built, not when it is used."""
        check_output_size(self.size)
        check_fit(self.fit)

    def __call__(self, source: ImageSource) -> torch.Tensor:
        """Read ids or painted colours, check them against the palette, fit to a square and
        resize."""
        if (array := as_array(source)) is not None:
            class_map = self._checked_ids(_integer_map(array))
        else:
            image = open_image(source)
            if image.mode in _ID_MODES and not self._painted(image):
                class_map = self._checked_ids(_image_ids(image))
            else:
                class_map = self._ids_from_colors(image)
        image = Image.fromarray(class_map.astype(np.uint8), mode="L")
        image = square_resize(image, self.size, Image.Resampling.NEAREST, self.fit)
        return torch.from_numpy(np.asarray(image, dtype=np.int64).copy())

    def _checked_ids(self, values: np.ndarray) -> np.ndarray:
        """Class ids, refusing any outside the palette."""
        n = len(self.palette.classes)
        bad = np.unique(values[(values < 0) | (values >= n)])
        if bad.size:
            shown = ", ".join(str(int(v)) for v in bad[:10]) + (" ..." if bad.size > 10 else "")
            raise UserInputError(
                f"segmentation has class ids {shown} outside this model's palette "
                f"(ids 0..{n - 1}: {self.palette.describe()})"
            )
        return values

    def _painted(self, image: Image.Image) -> bool:
        """Whether an indexed image's used colours are all palette colours (painted, saved as P)."""
        if image.mode != "P" or image.palette is None:
            return False
        lut = np.asarray(image.getpalette() or [], dtype=np.int64).reshape(-1, 3)
        used = np.unique(np.asarray(image)).astype(np.int64)
        if len(lut) <= int(used.max()):
            return False
        known = {tuple(c) for c in self.palette.colors.tolist()}
        return {tuple(lut[i].tolist()) for i in used} <= known

    def _ids_from_colors(self, image: Image.Image) -> np.ndarray:
        """Painted RGB(A) pixels -> class ids; transparent pixels are class 0."""
        rgba = np.ascontiguousarray(np.asarray(image.convert("RGBA")))  # [H, W, 4] uint8
        # each pixel as one little-endian 32-bit word: r | g << 8 | b << 16 | alpha << 24, read
        # in place, so no pixel is widened or shifted one channel at a time
        word = rgba.view("<u4")[..., 0]
        painted = word & 0xFFFFFF
        colors = self.palette.colors
        codes = (colors[:, 0] | (colors[:, 1] << 8) | (colors[:, 2] << 16)).astype(np.uint32)
        order = np.argsort(codes)  # a binary search per pixel among the few palette colours
        known = codes[order]
        at = np.searchsorted(known, painted)
        np.minimum(at, len(codes) - 1, out=at)
        ids = order[at]
        ids[known[at] != painted] = -1
        ids[word < (1 << 24)] = 0  # alpha 0
        if (ids < 0).any():
            bad_rgb = rgba[ids < 0][:, :3].astype(np.int64)
            bad = np.unique((bad_rgb[:, 0] << 16) | (bad_rgb[:, 1] << 8) | bad_rgb[:, 2])[:5]
            shown = ", ".join(str((int(b) >> 16, (int(b) >> 8) & 255, int(b) & 255)) for b in bad)
            raise UserInputError(
                f"segmentation has {int((ids < 0).sum())} pixels in colours outside this model's "
                f"palette, e.g. {shown}; paint with a hard brush in the palette colours "
                f"({self.palette.describe()}) and save as PNG, or give class ids as an indexed PNG"
            )
        return ids
