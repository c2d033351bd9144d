"""The modalities of a scene sample as data: how each one is stored on disk and read back.

Adding a modality is one entry in :data:`MODALITIES`. Image modalities are one PNG per sample in
``<split>/<name>/<index>.png``; record modalities are one JSON line per sample in
``<split>/<name>.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from anyseek.scenes.sample import SceneSample

DEPTH_SCALE = 1000.0
"""Depth PNGs store millimetres: uint16 value = round(depth_m * 1000), so at most 65.5 m."""


def _normals_from_png(a: np.ndarray) -> np.ndarray:
    """Unit normals back from their (n + 1) / 2 RGB encoding."""
    n = a.astype(np.float32) / 127.5 - 1.0
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-6)


def _palette_from_json(v: list) -> tuple:
    """The palette as tuples again."""
    return tuple((tuple(int(c) for c in rgb), float(f)) for rgb, f in v)


@dataclass(frozen=True)
class Modality:
    """One modality: its storage kind and conversions to and from the sample field."""

    name: str
    kind: str  # "png" or "jsonl"
    description: str
    encode: Callable[[SceneSample], Any]
    decode: Callable[[Any], Any]


MODALITIES: tuple[Modality, ...] = (
    Modality("rgb", "png", "shaded colour image, sRGB uint8", lambda s: s.rgb, lambda a: a),
    Modality(
        "depth",
        "png",
        "z-depth (along the optical axis) in millimetres, uint16",
        lambda s: np.clip(np.round(s.depth * DEPTH_SCALE), 0, 65535).astype(np.uint16),
        lambda a: a.astype(np.float32) / DEPTH_SCALE,
    ),
    Modality(
        "normals",
        "png",
        "camera-space unit normals encoded as (n + 1) / 2 * 255 (x right, y up, z to viewer)",
        lambda s: s.normals_rgb,
        _normals_from_png,
    ),
    Modality("semseg", "png", "semantic class id per pixel", lambda s: s.semseg, lambda a: a),
    Modality("instance", "png", "0 = no object, k = object k", lambda s: s.instance, lambda a: a),
    Modality("edges", "png", "Canny edges of rgb, 255 on edges", lambda s: s.edges, lambda a: a),
    Modality(
        "sketch", "png", "hand-drawn-style ink, 0 paper .. 255", lambda s: s.sketch, lambda a: a
    ),
    Modality("captions", "jsonl", "four captions", lambda s: list(s.captions), tuple),
    Modality(
        "color_palette",
        "jsonl",
        "up to 7 dominant colours as [[r, g, b], fraction]",
        lambda s: [[list(rgb), f] for rgb, f in s.color_palette],
        _palette_from_json,
    ),
    Modality("metadata", "jsonl", "scalar image descriptors", lambda s: s.metadata, dict),
)
"""Every stored modality; the scene graph itself is stored beside them in ``scenes.jsonl``."""

BY_NAME: dict[str, Modality] = {m.name: m for m in MODALITIES}
