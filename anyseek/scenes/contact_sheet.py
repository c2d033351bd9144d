"""A contact sheet: samples as rows, modalities side by side, to check alignment at a glance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from anyseek.model.vocabulary.classes import CLASS_COLOURS
from anyseek.scenes.sample import SceneSample

_TURBO_ANCHORS = np.array(
    [[48, 18, 59], [70, 134, 251], [27, 229, 181], [164, 252, 60], [251, 185, 56],
     [227, 68, 10], [122, 4, 3]],
    dtype=np.float32,
)  # fmt: skip


def _colormap(x: np.ndarray) -> np.ndarray:
    """Turbo-like colours for values in [0, 1]."""
    pos = np.clip(x, 0, 1) * (len(_TURBO_ANCHORS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_TURBO_ANCHORS) - 2)
    frac = (pos - lo)[..., None]
    return (_TURBO_ANCHORS[lo] * (1 - frac) + _TURBO_ANCHORS[lo + 1] * frac).astype(np.uint8)


def _depth_view(depth: np.ndarray) -> np.ndarray:
    """Inverse depth as colours (near is warm)."""
    inv = 1.0 / np.maximum(depth, 1e-3)
    return _colormap((inv - inv.min()) / max(float(np.ptp(inv)), 1e-6))


def _gray(a: np.ndarray) -> np.ndarray:
    """A grey map as an RGB tile."""
    return np.repeat(a[..., None], 3, axis=2)


TILES = (
    ("rgb", lambda s: s.rgb),
    ("depth", lambda s: _depth_view(s.depth)),
    ("normals", lambda s: s.normals_rgb),
    ("semseg", lambda s: CLASS_COLOURS[s.semseg % len(CLASS_COLOURS)]),
    ("instance", lambda s: CLASS_COLOURS[(s.instance * 3) % len(CLASS_COLOURS)]),
    ("edges", lambda s: _gray(s.edges)),
    ("sketch", lambda s: _gray(255 - s.sketch)),
    ("palette", lambda s: _palette_view(s)),
)
"""Columns of the sheet: name and how to turn a sample into an RGB tile."""


def _palette_view(s: SceneSample) -> np.ndarray:
    """The colour palette as vertical bars proportional to each colour's share."""
    tile = np.full((s.size, s.size, 3), 255, dtype=np.uint8)
    x = 0
    for rgb, fraction in s.color_palette:
        w = max(1, round(fraction * s.size))
        tile[:, x : x + w] = rgb
        x += w
    return tile


def contact_sheet(samples: Sequence[SceneSample], tile: int = 128) -> Image.Image:
    """One row per sample: every modality as a ``tile``-pixel square, then its first caption."""
    font = ImageFont.load_default()
    head, text_h, gap = 18, 30, 4
    width = len(TILES) * (tile + gap) + gap
    height = head + len(samples) * (tile + text_h + gap)
    sheet = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    for c, (name, _) in enumerate(TILES):
        draw.text((gap + c * (tile + gap) + 4, 3), name, fill=(20, 20, 20), font=font)
    for r, sample in enumerate(samples):
        y = head + r * (tile + text_h + gap)
        for c, (_, view) in enumerate(TILES):
            img = Image.fromarray(view(sample)).resize((tile, tile), Image.Resampling.NEAREST)
            sheet.paste(img, (gap + c * (tile + gap), y))
        caption = f"#{sample.seed}: " + " | ".join(sample.captions[:2])
        max_chars = width // 6
        lines = [caption[:max_chars], caption[max_chars : 2 * max_chars]]
        for i, line in enumerate(lines):
            draw.text((gap, y + tile + 2 + i * 12), line, fill=(30, 30, 30), font=font)
    return sheet
