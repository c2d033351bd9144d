"""Where each object of a scene ended up in the image: visible pixels, projected centre, depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anyseek.scenes.render import Render, Rig, object_centre, project
from anyseek.scenes.scene import Scene, SceneObject

VISIBLE_FRACTION = 0.0015
"""An object is named in captions when it covers at least this fraction of the image (and 6 px)."""


@dataclass(frozen=True)
class ObjectView:
    """One object as the camera sees it."""

    index: int  # position in scene.objects; its instance id is index + 1
    obj: SceneObject
    pixels: int  # visible pixel count in the instance map
    col: float  # projected centre, pixel column (left to right)
    row: float  # projected centre, pixel row (top to bottom)
    depth: float  # z-depth of the centre
    min_pixels: int = 6  # pixels needed for a caption to name it

    @property
    def mentionable(self) -> bool:
        """Large enough in the image for a caption to name it."""
        return self.pixels >= self.min_pixels


def object_views(scene: Scene, rig: Rig, rendered: Render) -> tuple[ObjectView, ...]:
    """Per-object image-space facts, in scene-graph order."""
    size = rendered.instance.shape[0]
    counts = np.bincount(rendered.instance.ravel(), minlength=len(scene.objects) + 1)
    if not scene.objects:
        return ()
    centres = project(rig, size, np.stack([object_centre(o) for o in scene.objects]))
    min_pixels = max(6, int(VISIBLE_FRACTION * size * size))
    return tuple(
        ObjectView(
            index=k,
            obj=obj,
            pixels=int(counts[k + 1]),
            col=round(float(centres[k, 0]), 3),
            row=round(float(centres[k, 1]), 3),
            depth=round(float(centres[k, 2]), 4),
            min_pixels=min_pixels,
        )
        for k, obj in enumerate(scene.objects)
    )
