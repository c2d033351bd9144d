"""The structured 4M-21 inputs (colour palette, object boxes, metadata) from plain JSON values.

4M-21 reads these as text over the shared WordPiece vocabulary, written with the special value
tokens ``v0=<n>`` .. ``v3=<n>`` (n in 0..999). The strings below follow the official
``fourm.data.modality_transforms`` serialisation (our own code, same output):

* ``color_palette``: ``v1=<number of colours>`` then ``v0=<r> v0=<g> v0=<b>`` per colour, 1..7
  colours, channels 0..255;
* ``det``: per box ``v0=<xmin> v1=<ymin> v2=<xmax> v3=<ymax> <class name>``, coordinates
  normalised to [0, 1] and binned to 0..999 (``round(x * 999)``, Python rounding), boxes ordered
  by the distance of their top-left corner to the image's top-left corner;
* ``metadata``: per entry ``v1=<key id> v0=<binned value>``, in the order given; each key has its
  own binning (image sizes in 32-pixel bins, counts as they are, scores in fixed bins).

Each serialiser takes what the API receives (lists, dicts, numbers, strings) and refuses a bad
value with a :class:`UserInputError` naming the field and position.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from anyseek.model.transforms.base import UserInputError

VALUE_MAX = 999  # largest n of the special v0=<n> .. v3=<n> tokens
COORD_BINS = 1000
MAX_COLOURS = 7
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


# ----------------------------------------------------------------------------- colour palette


def _colour(value: Any, index: int) -> tuple[int, int, int]:
    """One colour: ``[r, g, b]`` (0..255) or ``"#rrggbb"``."""
    if isinstance(value, str):
        match = _HEX.match(value.strip())
        if match is None:
            raise UserInputError(
                f"color_palette[{index}]: {value!r} is not a colour (use [r, g, b] or '#rrggbb')"
            )
        code = int(match[1], 16)
        return code >> 16, (code >> 8) & 255, code & 255
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise UserInputError(
            f"color_palette[{index}]: expected [r, g, b] or '#rrggbb', got {value!r}"
        )
    channels = []
    for channel in value:
        if not _is_number(channel) or not 0 <= channel <= 255:
            raise UserInputError(
                f"color_palette[{index}]: channel {channel!r} is not a number in 0..255"
            )
        channels.append(round(channel))
    return channels[0], channels[1], channels[2]


def serialize_palette(value: Any) -> str:
    """A list of 1..7 colours -> the official ``color_palette`` string."""
    if not isinstance(value, list | tuple) or not value:
        raise UserInputError("color_palette: expected a list of 1 to 7 colours, e.g. [[255, 0, 0]]")
    if len(value) > MAX_COLOURS:
        raise UserInputError(
            f"color_palette: {len(value)} colours given; 4M-21 reads at most {MAX_COLOURS}"
        )
    colours = [_colour(v, i) for i, v in enumerate(value)]
    parts = [f"v1={len(colours)}"] + [f"v0={c}" for colour in colours for c in colour]
    return " ".join(parts)


# ----------------------------------------------------------------------------- object boxes


@cache
def detection_classes() -> tuple[str, ...]:
    """The 80 COCO object classes the 4M-21 box annotations name (the panoptic 'things')."""
    from anyseek.model.transforms.semseg import semseg_classes

    return tuple(c.name for c in semseg_classes()[1:81])


@dataclass(frozen=True)
class Box:
    """One object: its COCO class name and normalised corners (0..1, origin top left)."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def tokens(self) -> str:
        """``v0=.. v1=.. v2=.. v3=.. name`` with coordinates binned as the official transform."""
        bins = COORD_BINS - 1
        corners = (self.xmin, self.ymin, self.xmax, self.ymax)
        return " ".join(f"v{i}={round(x * bins)}" for i, x in enumerate(corners)) + f" {self.name}"


def _box(value: Any, index: int) -> Box:
    """``{"class": name, "box": [xmin, ymin, xmax, ymax]}`` or ``[name, [x0, y0, x1, y1]]``."""
    where = f"det[{index}]"
    if isinstance(value, dict):
        name, corners = value.get("class", value.get("label")), value.get("box")
    elif isinstance(value, list | tuple) and len(value) == 2:
        name, corners = value
    else:
        raise UserInputError(
            f"{where}: expected {{'class': name, 'box': [xmin, ymin, xmax, ymax]}} or "
            f"[name, [xmin, ymin, xmax, ymax]], got {value!r}"
        )
    if not isinstance(name, str) or name.strip().lower() not in detection_classes():
        raise UserInputError(
            f"{where}: {name!r} is not a COCO object class (e.g. person, dog, car, chair; "
            f"{len(detection_classes())} are accepted)"
        )
    if not isinstance(corners, list | tuple) or len(corners) != 4:
        raise UserInputError(f"{where}: box must be [xmin, ymin, xmax, ymax], got {corners!r}")
    if not all(_is_number(c) for c in corners):
        raise UserInputError(f"{where}: box coordinates must be numbers, got {corners!r}")
    xmin, ymin, xmax, ymax = (float(c) for c in corners)
    if not all(0.0 <= c <= 1.0 for c in (xmin, ymin, xmax, ymax)):
        raise UserInputError(
            f"{where}: box {list(corners)} lies outside the image: coordinates are fractions of "
            "the image size, 0..1, origin at the top left"
        )
    if xmin >= xmax or ymin >= ymax:
        raise UserInputError(
            f"{where}: box {list(corners)} is empty (need xmin < xmax, ymin < ymax)"
        )
    return Box(name.strip().lower(), xmin, ymin, xmax, ymax)


def serialize_boxes(value: Any) -> str:
    """A list of (class, box) pairs -> the official ``det`` string (boxes in reading order)."""
    if not isinstance(value, list | tuple) or not value:
        raise UserInputError(
            "det: expected a non-empty list of objects, e.g. "
            "[{'class': 'person', 'box': [0.0, 0.2, 0.3, 1.0]}]"
        )
    boxes = [_box(v, i) for i, v in enumerate(value)]
    boxes.sort(key=lambda b: b.xmin**2 + b.ymin**2)  # stable, as the official ordering
    return " ".join(b.tokens() for b in boxes)


# ----------------------------------------------------------------------------- metadata


def _clamp_int(value: float) -> int:
    return max(0, min(int(value), VALUE_MAX))


def _image_dim(value: float) -> int:
    """Original width/height in pixels -> 32-pixel bins."""
    return _clamp_int(int(value) // 32)


def _count(value: float) -> int:
    """Integer counts are kept as they are (clamped to 0..999)."""
    if value != int(value):
        raise ValueError("must be a whole number")
    return _clamp_int(value)


def _uniform(vmin: float, vmax: float, bins: int) -> Callable[[float], int]:
    """Clamp to [vmin, vmax], then one of ``bins`` equal bins (truncating, as the official)."""

    def binned(value: float) -> int:
        clipped = max(vmin, min(value, vmax))
        return int((clipped - vmin) / (vmax - vmin) * (bins - 1))

    return binned


def _thresholds(*bounds: float) -> Callable[[float], int]:
    """Bin index = the number of bounds at or below the value."""
    return lambda value: sum(1 for b in bounds if value >= b)


@dataclass(frozen=True)
class MetadataKey:
    """One metadata entry 4M-21 knows: its id token and how its value is binned."""

    name: str
    key_id: int  # the ``v1=<id>`` token
    binning: Callable[[float], int]
    unit: str  # what the value is, for error messages and docs


# fmt: off
METADATA_KEYS: dict[str, MetadataKey] = {k.name: k for k in (
    MetadataKey("original_width", 0, _image_dim, "pixels"),
    MetadataKey("original_height", 1, _image_dim, "pixels"),
    MetadataKey("caption_n_chars", 2, _count, "count"),
    MetadataKey("caption_n_words", 3, _count, "count"),
    MetadataKey("caption_n_sentences", 4, _count, "count"),
    MetadataKey("n_humans", 5, _count, "count"),
    MetadataKey("n_sam_instances", 6, _count, "count"),
    MetadataKey("n_coco_instances", 7, _count, "count"),
    MetadataKey("coco_instance_diversity", 8, _count, "count"),
    MetadataKey("colorfulness", 9, _uniform(0, 150, 50), "0..150"),
    MetadataKey("brightness", 10, _uniform(0, 255, 50), "0..255"),
    MetadataKey("contrast", 11, _uniform(0, 127, 50), "0..127"),
    MetadataKey("saturation", 12, _uniform(0, 255, 50), "0..255"),
    MetadataKey("entropy", 13, _uniform(0, 10, 50), "0..10"),
    MetadataKey("walkability", 14, _uniform(0, 1, 50), "0..1"),
    MetadataKey("objectness", 15, _uniform(0, 1, 50), "0..1"),
    MetadataKey("semantic_diversity", 16, _count, "count"),
    MetadataKey("geometric_complexity", 17, _uniform(0, 0.75, 50), "0..0.75"),
    MetadataKey("occlusion_score", 18, _uniform(0, 0.25, 50), "0..0.25"),
    MetadataKey("watermark_score", 19, _thresholds(0.5), "0..1"),
    MetadataKey("aesthetic_score", 20, _thresholds(4.5, 5.5), "1..10"),
)}
# fmt: on
#: Friendlier names accepted for metadata keys.
METADATA_ALIASES = {
    "colourfulness": "colorfulness",
    "width": "original_width",
    "height": "original_height",
    "n_objects": "n_coco_instances",
    "number_of_objects": "n_coco_instances",
    "n_people": "n_humans",
    "n_instances": "n_sam_instances",
    "aesthetics": "aesthetic_score",
}


def serialize_metadata(value: Any) -> str:
    """A ``{key: number}`` object -> the official ``metadata`` string, keys in the given order."""
    if not isinstance(value, dict) or not value:
        raise UserInputError(
            "metadata: expected an object of numbers, e.g. {'brightness': 200, 'n_humans': 2}"
        )
    parts = []
    for raw_key, number in value.items():
        name = METADATA_ALIASES.get(str(raw_key).strip().lower(), str(raw_key).strip().lower())
        key = METADATA_KEYS.get(name)
        if key is None:
            raise UserInputError(
                f"metadata: unknown key {raw_key!r}; accepted: {', '.join(METADATA_KEYS)}"
            )
        if not _is_number(number):
            raise UserInputError(f"metadata[{raw_key!r}]: {number!r} is not a number ({key.unit})")
        if number < 0:
            raise UserInputError(f"metadata[{raw_key!r}]: {number!r} is negative ({key.unit})")
        try:
            binned = key.binning(float(number))
        except ValueError as exc:
            raise UserInputError(f"metadata[{raw_key!r}]: {number!r} {exc}") from None
        parts.append(f"v1={key.key_id} v0={binned}")
    return " ".join(parts)


def _is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class StructuredInput:
    """One structured modality: its model input name and its JSON value -> string serialiser."""

    modality: str
    serialize: Callable[[Any], str]
    example: str  # shown in docs and errors


STRUCTURED_INPUTS: dict[str, StructuredInput] = {
    s.modality: s
    for s in (
        StructuredInput("color_palette", serialize_palette, "[[255, 0, 0], '#0000ff']"),
        StructuredInput(
            "det", serialize_boxes, "[{'class': 'person', 'box': [0.05, 0.2, 0.4, 1.0]}]"
        ),
        StructuredInput("metadata", serialize_metadata, "{'brightness': 200, 'n_humans': 2}"),
    )
}
