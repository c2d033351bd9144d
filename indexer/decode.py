"""Decoding an item, one path for every kind: each part through the model's transform for it
(a photo is an item of one part, ``rgb``), a thumbnail of the item's picture in its own form (a
photo as it is, depth in a colour map, a segmentation in the palette, a sketch as its lines; a
caption has none, its text is in the payload) and its photo's EXIF facts.

A photo is decoded once for its model input and its thumbnail, read no larger than the larger of
them needs: a JPEG through its own DCT scaling at 1/2, 1/4 or 1/8 of its size (Pillow's
``draft``), a HEIC through an embedded thumbnail that covers it (pillow-heif's ``draft``); other
formats decode every pixel. A phone's 12-megapixel JPEG is read at 504x378 for a 256-pixel
thumbnail, five times less work than every pixel (``bench/results/indexing.md``).

Phones' formats: AVIF through Pillow itself, HEIC/HEIF through the ``pillow-heif`` plugin
(registered once here). Every failure becomes an :class:`ItemError` with a one-line reason.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from anyseek.indexer.errors import ItemError
from anyseek.indexer.exif import NO_FACTS, PhotoFacts, read_photo_facts
from anyseek.indexer.fetch import Fetched, FetchedPart
from anyseek.indexer.notes import log_notes, noted
from anyseek.indexer.records import MODALITIES, RGB
from anyseek.indexer.thumbnails import make_thumbnail
from anyseek.model.service import (
    SearchModel,
    UserInputError,
    item_modalities,
    load_depth,
    open_image,
    to_rgb,
)

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
    """One item ready for the model: one model input per part (by query modality; a photo's
    under ``image``), facts for the payload, and a thumbnail (none for an item with no picture,
    a caption's)."""

    fetched: Fetched  # without its files' bytes (:meth:`Fetched.decoded`)
    inputs: dict[str, Any]  # {query modality: model input}
    width: int | None
    height: int | None
    format: str
    thumbnail: bytes  # JPEG; b"" for an item with no picture (captions)
    photo: PhotoFacts = NO_FACTS  # what its EXIF says (indexer.exif)
    notes: tuple[str, ...] = ()  # what decoding warned of (damaged EXIF...): the item's notes

    @property
    def rgb(self) -> torch.Tensor | None:
        """The item's model-ready photo (None when it has none): what priors and
        reconstructions are made from."""
        return self.inputs.get("image")


@dataclass(frozen=True)
class Opened:
    """A decoded picture, upright RGB, and what the file itself is: its format and its full
    size, upright (the picture may be a reduced decode of it)."""

    image: Image.Image
    format: str
    width: int
    height: int


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


Shown = tuple[Image.Image, int, int]
Picture = Callable[[bytes, SearchModel, DecodeLimits], Shown]
"""A part's bytes -> what the page shows of it (at most the thumbnail's size) and the part's own
width and height."""

DEPTH_COLOURS = np.array(
    [[48, 18, 59], [70, 131, 240], [27, 208, 213], [162, 252, 60], [250, 186, 57], [122, 4, 3]],
    dtype=np.float32,
)
"""Anchors of the depth colour map, near (dark blue) to far (dark red), as the page shows it."""


def decode_item(fetched: Fetched, limits: DecodeLimits, model: SearchModel) -> Decoded:
    """Every part of an item through the model's transform for it, the thumbnail of its first
    pictured part and its photo's EXIF facts: the one decoding of every kind of item. What
    decoding warned about (damaged EXIF...) is logged as the item's notes."""
    with noted() as notes:  # Pillow's warnings while the parts are read (damaged EXIF...)
        decoded = _decode_parts(fetched, limits, model)
    log_notes(fetched.ref.shown, notes)
    return replace(decoded, notes=tuple(dict.fromkeys(notes)))


def _decode_parts(fetched: Fetched, limits: DecodeLimits, model: SearchModel) -> Decoded:
    """An item's parts: one model input each, the picture of its first pictured part."""
    takes = item_modalities(model)
    named = bool(fetched.ref.parts)  # a photo file alone fails in its own words, as ever
    photos = {id(p): _open_photo(p, limits, named) for p in fetched.parts if _is_photo(p)}
    inputs: dict[str, Any] = {}
    for part in fetched.parts:
        modality = takes.get(part.modality)
        if modality is None:
            raise ItemError(
                f"the model {model.name} does not take {part.modality}; it takes: "
                f"{', '.join(takes)}"
            )
        photo = photos.get(id(part))
        value = part.value if photo is None else photo.image
        inputs[modality.name] = _model_input(part, modality.transform, value, named)
    width = height = None
    fmt, thumbnail = "text", b""
    for part in sorted(fetched.parts, key=lambda p: PREVIEW_ORDER.get(p.modality, 99)):
        photo = photos.get(id(part))
        if photo is not None:  # the photo decoded once serves its input and its picture
            image, width, height, fmt = photo.image, photo.width, photo.height, photo.format
        elif isinstance(part.value, bytes) and part.modality in PICTURES:
            image, width, height = PICTURES[part.modality](part.value, model, limits)
            fmt = _format(part.value)
        else:
            continue
        thumbnail = make_thumbnail(image, limits.thumbnail_size)
        break
    facts = _photo_facts(fetched.parts)
    return Decoded(fetched.decoded(), inputs, width, height, fmt, thumbnail, facts)


def _photo_facts(parts: tuple[FetchedPart, ...]) -> PhotoFacts:
    """What the EXIF of an item's photo (its ``rgb`` part) says; an item without one (a depth
    map, a sketch, a caption) has none."""
    photo = next((p for p in parts if _is_photo(p)), None)
    return read_photo_facts(photo.value) if photo is not None else NO_FACTS  # type: ignore[arg-type]


def _is_photo(part: FetchedPart) -> bool:
    """A photo part given as a file (decoded once, reduced, for its input and its picture)."""
    return part.modality == RGB and isinstance(part.value, bytes)


def _open_photo(part: FetchedPart, limits: DecodeLimits, named: bool) -> Opened:
    """A photo part decoded, reduced as far as the model allows; a failure names the part
    when the source ``named`` the item's parts."""
    try:
        return open_picture(part.value, limits)  # type: ignore[arg-type]
    except ItemError as error:
        raise ItemError(f"{part.modality}: {error}" if named else str(error)) from None


def _model_input(
    part: FetchedPart, transform: Callable[[Any], Any], value: Any, named: bool
) -> Any:
    """One part (its ``value``: as fetched, or a photo already decoded) through its transform;
    what the transform refuses is the item's failure, naming the part when the source ``named``
    the item's parts (a photo file alone: "cannot prepare the image...", as ever)."""
    said = f"{part.modality}: " if named else "cannot prepare the image for the model: "
    if isinstance(value, str) and MODALITIES.get(part.modality) == "structured":
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ItemError(f"{said}not JSON ({error.msg})") from None
    try:
        return transform(value)
    except Exception as error:  # the transform names the problem (an empty image...)
        raise ItemError(f"{said}{error}") from None


def _format(data: bytes) -> str:
    """The file format of a part's bytes (``png``, ``npy``...)."""
    if data[:6] == b"\x93NUMPY":
        return "npy"
    if data[:2] == b"PK":
        return "npz"
    try:
        return (Image.open(io.BytesIO(data)).format or "").lower()
    except Exception:
        return ""


def line_picture(data: bytes, model: SearchModel, limits: DecodeLimits) -> Shown:
    """A sketch, an edge map or normals as they are, in RGB."""
    image = to_rgb(open_image(data, limits.max_pixels))
    return image, image.width, image.height


def _shrunk(image: Image.Image, limits: DecodeLimits) -> Image.Image:
    """A map at most the thumbnail's size, each pixel one of the map's own (never a blend of a
    missing depth or of two classes), before it is coloured."""
    small = image.copy()
    small.thumbnail((limits.thumbnail_size, limits.thumbnail_size), Image.Resampling.NEAREST)
    return small


def depth_picture(data: bytes, model: SearchModel, limits: DecodeLimits) -> Shown:
    """A depth map in a colour map: valid depths ranked between their 2nd and 98th percentile
    (near dark blue, far dark red), missing depth black."""
    source: Any = data
    if data[:6] == b"\x93NUMPY":
        source = np.load(io.BytesIO(data), allow_pickle=False)
    full = load_depth(source).astype(np.float32)
    depth = np.asarray(_shrunk(Image.fromarray(full), limits), dtype=np.float32)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(depth) & (depth > 0)
    low, high = np.percentile(depth[valid], [2, 98]) if valid.any() else (0.0, 1.0)
    scaled = np.clip((depth - low) / max(high - low, 1e-6), 0, 1) * (len(DEPTH_COLOURS) - 1)
    scaled = np.nan_to_num(scaled)
    index = np.minimum(scaled.astype(np.int64), len(DEPTH_COLOURS) - 2)
    share = (scaled - index)[..., None]
    colours = DEPTH_COLOURS[index] * (1 - share) + DEPTH_COLOURS[index + 1] * share
    colours[~valid] = 0
    picture = Image.fromarray(colours.astype(np.uint8))
    return picture, full.shape[1], full.shape[0]


def semseg_picture(data: bytes, model: SearchModel, limits: DecodeLimits) -> Shown:
    """A segmentation in the model's palette: class ids coloured by it (an RGB painting, already
    in colours, as it is)."""
    image = open_image(data, limits.max_pixels)
    if image.mode not in ("P", "L", "I", "I;16"):
        return to_rgb(image), image.width, image.height
    ids = np.asarray(_shrunk(image, limits), dtype=np.int64)
    colours = (
        model.palette.colors
        if model.palette is not None
        else np.array([[(37 * i) % 256, (91 * i) % 256, (173 * i) % 256] for i in range(256)])
    )
    picture = Image.fromarray(colours[ids % len(colours)].astype(np.uint8))
    return picture, image.width, image.height


PICTURES: dict[str, Picture] = {
    "depth": depth_picture,
    "semseg": semseg_picture,
    "normal": line_picture,
    "sketch": line_picture,
    "edges": line_picture,
    "sam_edges": line_picture,
}
"""How each pixel modality but the photo (shown as it is decoded: :func:`open_picture`) is shown;
a part without an entry (text, JSON) has no picture."""
PREVIEW_ORDER = {name: rank for rank, name in enumerate((RGB, *PICTURES))}
"""Which part pictures an item of several: the photo first, then depth, segmentation..."""
