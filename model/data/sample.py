"""One generated scene with all its aligned modalities, and the function that makes it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.data.captions import write_captions
from model.data.derived import canny_edges, color_palette, metadata
from model.data.layout import ObjectView, object_views
from model.data.render import camera_rig, render
from model.data.scene import Scene, sample_scene
from model.data.sketch import draw_sketch

SUPPORTED_SIZES = (32, 64, 96, 128, 160, 192, 224, 256)
"""Square resolutions the generator is tested for (multiples of 32, up to 256)."""
DEFAULT_SIZE = 64


@dataclass(frozen=True)
class SceneSample:
    """All modalities of one scene, pixel-aligned, plus the scene graph they were made from."""

    seed: int
    scene: Scene
    objects: tuple[ObjectView, ...]  # image-space facts per scene object
    rgb: np.ndarray  # (S, S, 3) uint8
    depth: np.ndarray  # (S, S) float32, z-depth in world units (metres)
    normals: np.ndarray  # (S, S, 3) float32 camera-space unit normals (x right, y up, z to viewer)
    semseg: np.ndarray  # (S, S) uint8 class ids, see model.data.classes
    instance: np.ndarray  # (S, S) uint8, 0 = floor/backdrop, k = scene.objects[k - 1]
    edges: np.ndarray  # (S, S) uint8 Canny edges of rgb, 255 on edges
    sketch: np.ndarray  # (S, S) uint8 hand-drawn-style ink, 0 paper .. 255 full ink
    captions: tuple[str, ...]  # short list, counts, long description, relations
    color_palette: tuple[tuple[tuple[int, int, int], float], ...]  # (rgb, pixel fraction)
    metadata: dict[str, float | int]

    @property
    def size(self) -> int:
        """Side length in pixels."""
        return int(self.rgb.shape[0])

    @property
    def normals_rgb(self) -> np.ndarray:
        """Normals encoded as an RGB image the way 4M does: (n + 1) / 2, as uint8."""
        return np.clip((self.normals + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def check_size(size: int) -> int:
    """``size`` if it is supported, else a ValueError naming the choices."""
    if size not in SUPPORTED_SIZES:
        raise ValueError(f"size {size} is not supported; choose one of {list(SUPPORTED_SIZES)}")
    return size


def generate_scene(seed: int, size: int = DEFAULT_SIZE) -> SceneSample:
    """Sample, render and annotate the scene for ``seed`` at ``size`` x ``size`` pixels."""
    check_size(size)
    scene = sample_scene(seed)
    return annotate(scene, size)


def annotate(scene: Scene, size: int) -> SceneSample:
    """Render ``scene`` and derive every other modality from the render and the scene graph."""
    rig = camera_rig(scene)
    rendered = render(scene, size)
    views = object_views(scene, rig, rendered)
    captions = write_captions(scene, views, size)
    return SceneSample(
        seed=scene.seed,
        scene=scene,
        objects=views,
        rgb=rendered.rgb,
        depth=rendered.depth,
        normals=rendered.normals,
        semseg=rendered.semseg,
        instance=rendered.instance,
        edges=canny_edges(rendered.rgb),
        sketch=draw_sketch(scene, rendered, rig),
        captions=captions,
        color_palette=color_palette(rendered.rgb),
        metadata=metadata(rendered.rgb, rendered.normals, rendered.semseg, views, captions),
    )
