"""Decoding an item of any modality: each part through the model's transform for it, and a
picture of the item in its own form for the page (depth in a colour map, a segmentation in the
palette, a sketch as its lines; a caption has none, its text is in the payload).

An image file alone is decoded as it always was (:func:`anyseek.indexer.decode.decode`); an item of
parts (``Fetched.parts``) becomes a :class:`Decoded` whose ``inputs`` hold one model input per part,
keyed by the model's query modality, so the indexer embeds it as one joint query of all of them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from anyseek.indexer.decode import Decoded, DecodeLimits, Opened, decode, open_picture, open_rgb
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

Shown = tuple[Image.Image, int, int]
Picture = Callable[[bytes, SearchModel, DecodeLimits], Shown]
"""A part's bytes -> what the page shows of it (at most the thumbnail's size, or the photo
itself) and the part's own width and height."""

DEPTH_COLOURS = np.array(
    [[48, 18, 59], [70, 131, 240], [27, 208, 213], [162, 252, 60], [250, 186, 57], [122, 4, 3]],
    dtype=np.float32,
)
"""Anchors of the depth colour map, near (dark blue) to far (dark red), as the page shows it."""


def decode_item(fetched: Fetched, limits: DecodeLimits, model: SearchModel) -> Decoded:
    """An image file as ever, or an item of parts with one model input each, its picture and
    its photo's EXIF facts; what decoding warned about is logged as the item's notes, as a
    photo's are."""
    if not fetched.parts:
        return decode(fetched, limits, model.image_input)
    with noted() as notes:  # Pillow's warnings while the parts are read (damaged EXIF...)
        decoded = _decode_parts(fetched, limits, model)
    log_notes(fetched.ref.shown, notes)
    return replace(decoded, notes=tuple(dict.fromkeys(notes)))


def _photo_facts(parts: Sequence[FetchedPart]) -> PhotoFacts:
    """What the EXIF of an item's photo (its ``rgb`` part) says, as a plain photo's would; an
    item without one (a depth map, a sketch, a caption) has none."""
    photo = next((p for p in parts if p.modality == RGB and isinstance(p.value, bytes)), None)
    return read_photo_facts(photo.value) if photo is not None else NO_FACTS


def _decode_parts(fetched: Fetched, limits: DecodeLimits, model: SearchModel) -> Decoded:
    """An item of parts: one model input per part, the picture of its first pictured part."""
    takes = item_modalities(model)
    photos = {id(part): _open_photo(part, limits) for part in fetched.parts if _is_photo(part)}
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
        inputs[modality.name] = _model_input(part, modality.transform, value)
    width = height = None
    fmt, thumbnail = "text", b""
    for part in sorted(fetched.parts, key=lambda p: PREVIEW_ORDER.get(p.modality, 99)):
        if isinstance(part.value, bytes) and part.modality in PICTURES:
            photo = photos.get(id(part))
            if photo is not None:  # the photo decoded once serves its input and its picture
                image, width, height, fmt = photo.image, photo.width, photo.height, photo.format
            else:
                image, width, height = PICTURES[part.modality](part.value, model, limits)
                fmt = _format(part.value)
            thumbnail = make_thumbnail(image, limits.thumbnail_size)
            break
    return Decoded(
        fetched.decoded(), None, width, height, fmt, thumbnail, inputs, _photo_facts(fetched.parts)
    )


def _is_photo(part: FetchedPart) -> bool:
    """A photo part given as a file (decoded once, reduced, for its input and its picture)."""
    return part.modality == RGB and isinstance(part.value, bytes)


def _open_photo(part: FetchedPart, limits: DecodeLimits) -> Opened:
    """A photo part decoded as a photo file is (reduced as far as the model allows)."""
    try:
        return open_picture(part.value, limits)  # type: ignore[arg-type]
    except ItemError as error:
        raise ItemError(f"{part.modality}: {error}") from None


def _model_input(part: FetchedPart, transform: Callable[[Any], Any], value: Any) -> Any:
    """One part (its ``value``: as fetched, or a photo already decoded) through its transform;
    what the transform refuses is the item's failure."""
    if isinstance(value, str) and MODALITIES.get(part.modality) == "structured":
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ItemError(f"{part.modality}: not JSON ({error.msg})") from None
    try:
        return transform(value)
    except (UserInputError, ValueError, TypeError) as error:
        raise ItemError(f"{part.modality}: {error}") from None


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


def rgb_picture(data: bytes, model: SearchModel, limits: DecodeLimits) -> Shown:
    """A photo as the page shows it: upright RGB."""
    image = open_rgb(data, limits.max_pixels)[0]
    return image, image.width, image.height


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
    "rgb": rgb_picture,
    "depth": depth_picture,
    "semseg": semseg_picture,
    "normal": line_picture,
    "sketch": line_picture,
    "edges": line_picture,
    "sam_edges": line_picture,
}
"""How each pixel modality is shown; a part without an entry (text, JSON) has no picture."""
PREVIEW_ORDER = {name: rank for rank, name in enumerate(PICTURES)}
"""Which part pictures an item of several: the photo first, then depth, segmentation..."""
