"""Safe decoding of one fetched item: pixel limit, EXIF orientation, any mode to RGB, thumbnail.

One decode serves the model input and the thumbnail, read no larger than the larger of them
needs: a JPEG through its own DCT scaling at 1/2, 1/4 or 1/8 of its size (Pillow's ``draft``), a
HEIC through an embedded thumbnail that covers it (pillow-heif's ``draft``); other formats decode
every pixel. A phone's 12-megapixel JPEG is read at 504x378 for a 256-pixel thumbnail, five times
less work than every pixel (``bench/results/indexing.md``).

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

from anyseek.indexer.errors import ItemError
from anyseek.indexer.exif import NO_FACTS, PhotoFacts, read_photo_facts
from anyseek.indexer.fetch import Fetched
from anyseek.indexer.notes import log_notes, noted
from anyseek.indexer.thumbnails import make_thumbnail
from anyseek.model.service import UserInputError, to_rgb

try:  # HEIC/HEIF (iPhone photos); optional so a missing wheel only loses that format
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    HEIF_SUPPORTED = False


EXIF_ORIENTATION = 0x0112
TURNED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class DecodeLimits:
    """What decoding accepts and needs: the pixel limit (``ANYSEEK_API__MAX_IMAGE_PIXELS``, on
    the pixels actually decoded), the thumbnail's size, and the model input's side (0: unknown,
    every pixel is decoded)."""

    max_pixels: int
    thumbnail_size: int
    model_side: int = 0

    def least_size(self, width: int, height: int) -> tuple[int, int] | None:
        """The smallest (width, height) a reduced decode of a ``width`` x ``height`` picture
        may have: its longer side covers the thumbnail and its shorter side the model input;
        None when the model input is unknown (decode every pixel)."""
        if self.model_side <= 0:
            return None
        longer = max(self.thumbnail_size, self.model_side)
        return (longer, self.model_side) if width >= height else (self.model_side, longer)


def decode_limits(max_pixels: int, thumbnail_size: int, image_input) -> DecodeLimits:
    """The limits for a model whose gallery transform is ``image_input``: its input's side is
    probed on a tiny image, so any family's transform tells how large a decode it needs."""
    return DecodeLimits(
        max_pixels, thumbnail_size, int(image_input(Image.new("RGB", (8, 8))).shape[-1])
    )


@dataclass(frozen=True)
class Decoded:
    """One item ready for the model: its model input, facts for the payload, and a thumbnail.
    An image file has ``pixels``; an item of parts (``anyseek.indexer.parts``) has ``inputs``
    instead,
    one per part by query modality, and no size or thumbnail when it has no picture."""

    fetched: Fetched
    pixels: torch.Tensor | None  # model-ready rgb [3, S, S]
    width: int | None
    height: int | None
    format: str
    thumbnail: bytes  # JPEG; b"" for an item with no picture (captions)
    inputs: dict[str, Any] | None = None  # {query modality: model input} of an item of parts
    photo: PhotoFacts = NO_FACTS  # what its EXIF says (indexer.exif)
    notes: tuple[str, ...] = ()  # what decoding warned of (damaged EXIF...): the item's notes

    @property
    def rgb(self) -> torch.Tensor | None:
        """The item's model-ready photo, whichever way it came (None when it has none)."""
        return self.pixels if self.pixels is not None else (self.inputs or {}).get("image")


@dataclass(frozen=True)
class Opened:
    """A decoded picture, upright RGB, and what the file itself is: its format and its full
    size, upright (the picture may be a reduced decode of it)."""

    image: Image.Image
    format: str
    width: int
    height: int


def open_rgb(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Decode bytes to an upright 8-bit RGB image, refusing bombs before decoding pixels."""
    opened = open_picture(data, DecodeLimits(max_pixels, 0))
    return opened.image, opened.format


def open_picture(data: bytes, limits: DecodeLimits) -> Opened:
    """Decode bytes to an upright 8-bit RGB picture, reduced as far as ``limits`` allow, refusing
    bombs (more pixels to decode than the limit) before decoding any."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            least = limits.least_size(width, height)
            if least is not None:
                image.draft(None, least)  # a no-op where the format cannot reduce
            if image.width * image.height > limits.max_pixels:
                raise ItemError(
                    f"image is {image.width}x{image.height} pixels, above the limit of "
                    f"{limits.max_pixels / 1e6:g} MP (ANYSEEK_API__MAX_IMAGE_PIXELS)"
                )
            fmt = (image.format or "").lower()
            turned = image.getexif().get(EXIF_ORIENTATION) in TURNED
            image.load()
            image = ImageOps.exif_transpose(image) or image
            if turned:
                width, height = height, width
            return Opened(to_rgb(image), fmt, width, height)
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
        opened = open_picture(fetched.data, limits)
        photo = read_photo_facts(fetched.data)
    log_notes(fetched.ref.shown, notes)
    try:
        pixels = image_input(opened.image)
    except Exception as error:  # the transform names the problem (e.g. an empty image)
        raise ItemError(f"cannot prepare the image for the model: {error}") from None
    return Decoded(
        fetched=fetched.decoded(),
        pixels=pixels,
        width=opened.width,
        height=opened.height,
        format=opened.format,
        thumbnail=make_thumbnail(opened.image, limits.thumbnail_size),
        photo=photo,
        notes=tuple(dict.fromkeys(notes)),
    )
