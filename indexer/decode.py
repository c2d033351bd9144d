"""Safe decoding of one fetched item: pixel limit, EXIF orientation, any mode to RGB, thumbnail.

Phones' formats: AVIF through Pillow itself, HEIC/HEIF through the ``pillow-heif`` plugin
(registered once here). Every failure becomes an :class:`ItemError` with a one-line reason.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from indexer.errors import ItemError
from indexer.exif import NO_FACTS, PhotoFacts, read_photo_facts
from indexer.fetch import Fetched
from indexer.notes import log_notes, noted
from indexer.thumbnails import make_thumbnail
from model.service import UserInputError, to_rgb

try:  # HEIC/HEIF (iPhone photos); optional so a missing wheel only loses that format
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    HEIF_SUPPORTED = False


@dataclass(frozen=True)
class DecodeLimits:
    """What decoding accepts: the pixel limit (``ANYSEEK_API__MAX_IMAGE_PIXELS``) and thumb size."""

    max_pixels: int
    thumbnail_size: int


@dataclass(frozen=True)
class Decoded:
    """One item ready for the model: its model input, facts for the payload, and a thumbnail.
    An image file has ``pixels``; an item of parts (``indexer.parts``) has ``inputs`` instead,
    one per part by query modality, and no size or thumbnail when it has no picture."""

    fetched: Fetched
    pixels: torch.Tensor | None  # model-ready rgb [3, S, S]
    width: int | None
    height: int | None
    format: str
    thumbnail: bytes  # JPEG; b"" for an item with no picture (captions)
    inputs: dict[str, Any] | None = None  # {query modality: model input} of an item of parts
    photo: PhotoFacts = NO_FACTS  # what its EXIF says (indexer.exif)

    @property
    def rgb(self) -> torch.Tensor | None:
        """The item's model-ready photo, whichever way it came (None when it has none)."""
        return self.pixels if self.pixels is not None else (self.inputs or {}).get("image")


def open_rgb(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Decode bytes to an upright 8-bit RGB image, refusing bombs before decoding pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > max_pixels:
                raise ItemError(
                    f"image is {image.width}x{image.height} pixels, above the limit of "
                    f"{max_pixels / 1e6:g} MP (ANYSEEK_API__MAX_IMAGE_PIXELS)"
                )
            fmt = (image.format or "").lower()
            image.load()
            image = ImageOps.exif_transpose(image) or image
            return to_rgb(image), fmt
    except UnidentifiedImageError:
        raise ItemError("not an image (unknown format)") from None
    except Image.DecompressionBombError as error:
        raise ItemError(f"decompression bomb refused: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt data
        raise ItemError(f"damaged or incomplete image data: {error}") from None
    except UserInputError as error:  # pixels no image can hold (NaN in a float image)
        raise ItemError(str(error)) from None


def decode(fetched: Fetched, limits: DecodeLimits, image_input) -> Decoded:
    """Fetched bytes -> :class:`Decoded` using the model's ``image_input`` transform; what
    decoding warned about (damaged EXIF...) is logged as the item's notes."""
    with noted() as notes:  # Pillow's warnings, while decoding pixels or reading EXIF
        image, fmt = open_rgb(fetched.data, limits.max_pixels)
        photo = read_photo_facts(fetched.data)
    log_notes(fetched.ref.shown, notes)
    try:
        pixels = image_input(image)
    except Exception as error:  # the transform names the problem (e.g. an empty image)
        raise ItemError(f"cannot prepare the image for the model: {error}") from None
    return Decoded(
        fetched=fetched,
        pixels=pixels,
        width=image.width,
        height=image.height,
        format=fmt,
        thumbnail=make_thumbnail(image, limits.thumbnail_size),
        photo=photo,
    )
