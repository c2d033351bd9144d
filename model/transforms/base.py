"""Shared pieces of the input transforms: reading user files, size limits, centre crop and resize.

Every transform accepts a path, raw bytes, a binary file object, a ``PIL.Image`` or an array, and
turns problems (unreadable file, empty or huge image) into :class:`UserInputError` naming the cause.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from anyseek.errors import AnyseekError

ImageSource = str | Path | bytes | BinaryIO | Image.Image | np.ndarray | torch.Tensor
# Larger inputs are refused before decoding. The service's one setting for this is
# ANYSEEK_API__MAX_IMAGE_PIXELS, whose default this is (tests/indexer checks that they agree);
# callers that hold the settings pass it in as ``max_pixels``.
MAX_PIXELS = 40_000_000
MAX_SIZE = 4096  # largest model-side resolution a transform may produce
# How a page that is not square becomes the model's square input: "crop" keeps its centre (a
# photo's subject; what the official pipeline does), "stretch" resizes the whole page (a drawing
# of a whole scene on a page of another shape: nothing drawn is cut off, shapes are unsquashed).
FITS = ("crop", "stretch")


class UserInputError(AnyseekError):
    """A user input (image, depth map, segmentation, sketch, caption) cannot be used as given."""


class InputWarning(UserWarning):
    """An input was usable only after a conversion the user should know about."""


def warn(message: str) -> None:
    """Tell the caller about a lossy or guessed conversion (catchable as :class:`InputWarning`)."""
    warnings.warn(message, InputWarning, stacklevel=3)


def check_output_size(size: int) -> None:
    """Validate the square side length a transform produces."""
    if not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise UserInputError(f"output size must be an integer in [1, {MAX_SIZE}], got {size!r}")


def check_dimensions(
    height: int, width: int, what: str = "image", max_pixels: int = MAX_PIXELS
) -> None:
    """Refuse empty and oversized inputs before any pixel is decoded."""
    if height <= 0 or width <= 0:
        raise UserInputError(f"{what} is empty ({width}x{height} pixels)")
    if height * width > max_pixels:
        raise UserInputError(
            f"{what} is {width}x{height} pixels ({height * width / 1e6:.3g} MP); at most "
            f"{max_pixels / 1e6:.3g} MP are accepted, downscale it first"
        )


def open_image(source: ImageSource, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open any Pillow-readable image (path, bytes, file object or Image) with size checks."""
    if isinstance(source, Image.Image):
        check_dimensions(source.height, source.width, max_pixels=max_pixels)
        return source
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise UserInputError(f"image file not found: {path}")
        handle: str | BinaryIO = str(path)  # Pillow opens it and closes it after load()
        name = str(path)
    elif isinstance(source, (bytes, bytearray)):
        handle, name = io.BytesIO(source), "image data"
    elif hasattr(source, "read"):
        handle, name = source, getattr(source, "name", "image data")
    else:
        raise UserInputError(
            f"expected an image file, bytes or PIL image, got {type(source).__name__}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(handle)
            check_dimensions(image.height, image.width, name, max_pixels)
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise UserInputError(f"{name}: not a readable image ({exc})") from None
    except OSError as exc:  # truncated or corrupt data
        raise UserInputError(f"{name}: the image data is damaged or incomplete ({exc})") from None
    return image


def center_crop_box(height: int, width: int) -> tuple[int, int, int, int]:
    """Largest centred square as (top, left, side, side), rounded like the official pipeline."""
    if height > width:
        return (height - width) // 2, 0, width, width
    return 0, (width - height) // 2, height, height


def check_fit(fit: str) -> None:
    """Refuse a fit that is not one of :data:`FITS`."""
    if fit not in FITS:
        raise UserInputError(f"unknown fit {fit!r} (known: {', '.join(FITS)})")


def square_resize(
    image: Image.Image, size: int, resample: Image.Resampling, fit: str = "crop"
) -> Image.Image:
    """A PIL image made ``size x size``: its centre square (``fit="crop"``) or the whole image
    (``fit="stretch"``), resized."""
    if fit == "crop":
        top, left, side, _ = center_crop_box(image.height, image.width)
        image = image.crop((left, top, left + side, top + side))
    if image.size != (size, size):
        image = image.resize((size, size), resample=resample)
    return image


def center_crop_array(array: torch.Tensor) -> torch.Tensor:
    """Centre-crop the last two axes of a tensor to a square."""
    top, left, side, _ = center_crop_box(array.shape[-2], array.shape[-1])
    return array[..., top : top + side, left : left + side]


def resize_masked(
    values: torch.Tensor, valid: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinearly resize ``[H, W]`` values using only valid pixels; returns values and validity.

    Invalid pixels do not bleed into valid ones: values and the validity mask are resized alike
    and divided. An output pixel stays valid when at least half its footprint was valid.
    """
    if values.shape == (size, size):
        return values, valid
    # the full-size steps in numpy (the same float32 arithmetic): torch's elementwise kernels
    # cost several times more on a busy CPU, where decoding threads share the cores
    mask = valid.numpy()
    weight = mask.astype(values.numpy().dtype)
    stacked = torch.from_numpy(np.stack([np.where(mask, values.numpy(), 0) * weight, weight]))[None]
    resized = F.interpolate(
        stacked, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )[0]
    out_valid = resized[1] >= 0.5
    out = torch.where(out_valid, resized[0] / resized[1].clamp_min(1e-12), 0.0)
    return out, out_valid


def to_numpy(source: np.ndarray | torch.Tensor) -> np.ndarray:
    """A numpy array from an array or tensor input."""
    return source.detach().cpu().numpy() if isinstance(source, torch.Tensor) else source


def as_array(source: ImageSource) -> np.ndarray | None:
    """The source as a numpy array when it is one (array or tensor); None for a file or image."""
    return to_numpy(source) if isinstance(source, np.ndarray | torch.Tensor) else None


def single_channel_array(source: ImageSource, what: str, kind: str) -> np.ndarray | None:
    """An array or tensor source as ``[H, W]`` (``[1, H, W]`` and ``[H, W, 1]`` squeezed) within
    the size limits, for one-channel inputs (depth, sketches); None for a file or image."""
    array = as_array(source)
    if array is None:
        return None
    if array.ndim == 3 and 1 in (array.shape[0], array.shape[-1]):
        array = array.reshape(array.shape[1:] if array.shape[0] == 1 else array.shape[:2])
    if array.ndim != 2:
        raise UserInputError(f"{what}: expected a single-channel [H, W] {kind}, got {array.shape}")
    check_dimensions(*array.shape, what)
    return array
