"""Sketches and edge maps from user files to the binary edge map the 4M edge tokenizer reads.

Output format (what the official edge tokenizer was trained on: Canny edges stored as an 8-bit
image and normalised with mean 0.5 / std 0.5): ``FloatTensor [1, size, size]`` with +1 on
edges and -1 elsewhere, lines about one pixel wide at the output resolution.

Steps, each documented by a field:

* **polarity** - ``"auto"`` takes the majority tone as background, so black-on-white drawings
  and white-on-black edge maps both work; ``"dark_lines"`` / ``"light_lines"`` force it;
* **binarisation** - Otsu's threshold on the line intensity, so anti-aliased or grey strokes are
  handled; transparent pixels count as background;
* **content box** - with ``content_box`` the page is replaced by the square around what is
  drawn on it: the lines' bounding box, grown by ``box_margin`` of its longer side each way and
  centred on a square of background, so neither the page's shape nor where on it (or how large)
  the drawing sits reaches the model; off, a bundle reads the page as before;
* **resolution** - centre crop to a square (``fit="crop"``) or keep the whole page
  (``fit="stretch"``, for a drawing of a whole scene on a page of another shape; unused with
  ``content_box``, whose square holds all the lines), then resize:
  shrinking marks an output pixel as edge when any source pixel under it is (lines never vanish),
  enlarging uses nearest neighbour;
* **thinning** - with ``thin`` lines are reduced to a 1-pixel skeleton (hand-drawn strokes are
  much thicker than Canny edges); :class:`SketchTransform` thins by default,
  :class:`EdgesTransform` keeps the lines of an edge map as they are;
* **thickening** - ``line_width`` > 1 dilates the lines to that many pixels.

A drawing without any line (blank, or uniform) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from anyseek.model.transforms.base import (
    ImageSource,
    UserInputError,
    center_crop_array,
    check_fit,
    check_output_size,
    open_image,
    single_channel_array,
)

MIN_CONTRAST = 0.1  # lines must differ from the background by at least this (0..1 scale)
NO_LINES = "the sketch is empty: no lines found"  # both readings refuse with it


@dataclass(frozen=True)
class EdgesTransform:
    """Edge map (e.g. Canny output) -> ``FloatTensor [1, size, size]``: +1 edges, -1 elsewhere."""

    size: int = 224
    polarity: Literal["auto", "dark_lines", "light_lines"] = "auto"
    thin: bool = False
    line_width: int = 1
    fit: str = "crop"  # a page that is not square: "crop" its centre or "stretch" it whole
    content_box: bool = False  # read the square around the lines, not the page (content_square)
    box_margin: float = 0.06  # with content_box: background around the lines, share of the box

    def __post_init__(self) -> None:
        """Refuse invalid options when the transform is built, not when it is used."""
        check_output_size(self.size)
        check_fit(self.fit)
        if not isinstance(self.content_box, bool):
            raise UserInputError(f"content_box must be true or false, got {self.content_box!r}")
        if not (isinstance(self.box_margin, int | float) and 0 <= self.box_margin <= 1):
            raise UserInputError(f"box_margin must be a number in [0, 1], got {self.box_margin!r}")
        if self.polarity not in ("auto", "dark_lines", "light_lines"):
            raise UserInputError(f"unknown polarity {self.polarity!r}")
        if not 1 <= self.line_width <= 16:
            raise UserInputError(f"line_width must be 1..16 pixels, got {self.line_width}")

    def __call__(self, source: ImageSource) -> torch.Tensor:
        """Binarise, crop, resize, thin/thicken one drawing."""
        ink = line_mask(_grey(source), self.polarity)
        ink = torch.from_numpy(ink)
        if self.content_box:
            ink = content_square(ink, self.box_margin)
        elif self.fit == "crop":
            ink = center_crop_array(ink)
        ink = _resize_binary(ink, self.size)
        if self.thin:
            from skimage.morphology import skeletonize  # deferred: a slow import

            ink = torch.from_numpy(skeletonize(ink.numpy()))
        if self.line_width > 1:
            ink = _dilate(ink, self.line_width)
        return torch.where(ink, 1.0, -1.0)[None].float()


@dataclass(frozen=True)
class SketchTransform(EdgesTransform):
    """Hand-drawn sketch -> the edge tokenizer's format, strokes thinned to 1-pixel lines."""

    thin: bool = True


def line_mask(grey: np.ndarray, polarity: str) -> np.ndarray:
    """Boolean ``[H, W]`` mask of line pixels from a greyscale drawing: float in ``[0, 1]``, or
    uint8 codes read as code / 255 (an 8-bit file), whose mask is found from the count of each
    code instead of from every pixel: the same mask, at a fraction of the time."""
    if grey.dtype == np.uint8:
        return _eight_bit_line_mask(grey, polarity)
    from skimage.filters import threshold_otsu  # deferred: a slow import

    if polarity == "auto":
        polarity = "dark_lines" if np.median(grey) >= 0.5 else "light_lines"
    ink = 1.0 - grey if polarity == "dark_lines" else grey
    if float(ink.max() - ink.min()) < MIN_CONTRAST:
        raise UserInputError(f"{NO_LINES} (the image is a single tone)")
    mask = ink > threshold_otsu(ink)
    if not mask.any():
        raise UserInputError(NO_LINES)
    return mask


EIGHT_BIT_GREY = np.arange(256, dtype=np.float32) / 255.0  # the [0, 1] grey of each 8-bit code


def _eight_bit_line_mask(codes: np.ndarray, polarity: str) -> np.ndarray:
    """:func:`line_mask` of ``codes / 255``, from the 256 codes' pixel counts: the median, the
    contrast and Otsu's histogram read off the counts give the float path's values bit for bit
    (each pixel's bin depends only on its value and the image's range, which the codes present
    span), then the mask is one lookup per pixel."""
    from skimage.filters import threshold_otsu  # deferred: a slow import

    counts = np.bincount(codes.ravel(), minlength=256)
    present = np.flatnonzero(counts)
    if polarity == "auto":
        polarity = "dark_lines" if _median(present, counts) >= 0.5 else "light_lines"
    ink = 1.0 - EIGHT_BIT_GREY if polarity == "dark_lines" else EIGHT_BIT_GREY
    inks = ink[present]
    if float(inks.max() - inks.min()) < MIN_CONTRAST:
        raise UserInputError(f"{NO_LINES} (the image is a single tone)")
    hist, edges = np.histogram(inks, bins=256, weights=counts[present])
    centres = (edges[:-1] + edges[1:]) / 2.0  # as skimage's own histogram finds them
    threshold = threshold_otsu(hist=(hist.astype(np.int64), centres))
    mask = (ink > threshold)[codes]
    if not mask.any():
        raise UserInputError(NO_LINES)
    return mask


def _median(present: np.ndarray, counts: np.ndarray) -> float:
    """``np.median`` of the image whose code ``c`` covers ``counts[c]`` pixels, as its grey: the
    median of its middle one or two pixels, which numpy averages as it does for the whole."""
    n = int(counts.sum())
    ends = np.cumsum(counts[present])  # the sorted image's last index + 1 of each present code
    middle = present[np.searchsorted(ends, [(n - 1) // 2, n // 2], side="right")]
    return float(np.median(EIGHT_BIT_GREY[middle]))


def content_square(ink: torch.Tensor, margin: float) -> torch.Tensor:
    """Boolean ``[H, W]`` lines -> the ``[side, side]`` square around them: their bounding box,
    grown by ``margin`` of its longer side each way, centred on background. The same drawing
    anywhere on a page of any shape gives the same square (up to its own scale), which is what
    the model then reads, in training as in search."""
    rows = ink.any(1).nonzero().flatten()
    cols = ink.any(0).nonzero().flatten()
    if not len(rows):
        return ink  # nothing drawn: the caller refuses it
    top, left = int(rows[0]), int(cols[0])
    height, width = int(rows[-1]) + 1 - top, int(cols[-1]) + 1 - left
    longer = max(height, width)
    pad = round(margin * longer)
    out = torch.zeros(longer + 2 * pad, longer + 2 * pad, dtype=torch.bool)
    y, x = pad + (longer - height) // 2, pad + (longer - width) // 2
    out[y : y + height, x : x + width] = ink[top : top + height, left : left + width]
    return out


def _grey(source: ImageSource) -> np.ndarray:
    """A ``[0, 1]`` float greyscale image, or an 8-bit one's uint8 codes (read as code / 255);
    transparency is composited over the background."""
    if (array := single_channel_array(source, "sketch array", "greyscale sketch")) is not None:
        array = array.astype(np.float32)
        if array.max() > 1.0:
            array = array / 255.0
        return array
    image = open_image(source)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        array = np.asarray(image, dtype=np.float32)
        return array / max(float(array.max()), 1.0)
    if "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        grey = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
        if float((alpha > 0.5).mean()) < 0.5:
            # Strokes on a transparent canvas: opaque pixels are lines, whatever their colour.
            return 1.0 - alpha
        return grey * alpha + (1.0 - alpha)  # composite over a white background
    return np.asarray(image.convert("L"))  # uint8 codes, read as code / 255 by line_mask


def _resize_binary(mask: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a boolean mask to ``size x size``: any-pixel pooling down, nearest up (each axis
    on its own, so a page that is not square is stretched)."""
    if mask.shape == (size, size):
        return mask
    x = mask[None, None].float()
    shrunk = (min(mask.shape[0], size), min(mask.shape[1], size))
    if shrunk != tuple(mask.shape):
        x = F.adaptive_max_pool2d(x, shrunk)
    if shrunk != (size, size):
        x = F.interpolate(x, size=(size, size), mode="nearest")
    return x[0, 0] > 0.5


def _dilate(mask: torch.Tensor, width: int) -> torch.Tensor:
    """Thicken lines to ``width`` pixels with a square structuring element."""
    x = F.pad(
        mask[None, None].float(), ((width - 1) // 2, width // 2, (width - 1) // 2, width // 2)
    )
    return F.max_pool2d(x, kernel_size=width, stride=1)[0, 0] > 0.5
