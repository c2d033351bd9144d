"""The scene classes (id, name) and their display colours: plain data, without the renderer.

The service builds the built-in palette from them for a bundle that declares none, so this module
imports nothing of the scene generator (numba, scipy): ``pip install anyseek`` can read them.
"""

from __future__ import annotations

import numpy as np

SHAPES: tuple[str, ...] = ("cube", "sphere", "cylinder", "cone", "torus")
"""The scene world's shapes, in class order (the generator draws them; the palette names them)."""

BACKGROUND, FLOOR = 0, 1
SHAPE_CLASS = {shape: 2 + i for i, shape in enumerate(SHAPES)}
"""Semantic class id of each shape (0 background/backdrop, 1 floor)."""

CLASSES: tuple[tuple[int, str], ...] = (
    (BACKGROUND, "background"),
    (FLOOR, "floor"),
    *((cid, shape) for shape, cid in SHAPE_CLASS.items()),
)
"""Semantic class table: (id, name)."""

CLASS_COLOURS = np.array(
    [[40, 40, 48], [120, 120, 110], [230, 25, 75], [60, 180, 75], [255, 225, 25],
     [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230]],
    dtype=np.uint8,
)  # fmt: skip
"""Display colour of each class id (contact sheets, the built-in palette); ids wrap around."""
