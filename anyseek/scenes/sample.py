"""One generated scene with all its aligned modalities, and the function that makes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from anyseek.errors import SettingsError
from anyseek.scenes.captions import write_captions
from anyseek.scenes.derived import canny_edges_batch, color_palette, metadata
from anyseek.scenes.layout import ObjectView, object_views
from anyseek.scenes.render import Render, camera_rig, render_batch
from anyseek.scenes.scene import Scene, sample_scene
from anyseek.scenes.sketch import draw_sketch

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
    semseg: np.ndarray  # (S, S) uint8 class ids, see model.vocabulary.classes
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
    """``size`` if it is supported, else a SettingsError naming the choices."""
    if size not in SUPPORTED_SIZES:
        raise SettingsError(f"size {size} is not supported; choose one of {list(SUPPORTED_SIZES)}")
    return size


def batch_size(size: int) -> int:
    """How many scenes to ray-cast together: enough to amortise numpy call overhead."""
    return max(1, 32768 // (size * size))


def generate_scene(seed: int, size: int = DEFAULT_SIZE) -> SceneSample:
    """Sample, render and annotate the scene for ``seed`` at ``size`` x ``size`` pixels."""
    return generate_batch([seed], size)[0]


def generate_batch(seeds: Sequence[int], size: int = DEFAULT_SIZE) -> list[SceneSample]:
    """:func:`generate_scene` for several seeds, rendered together (same results, faster)."""
    check_size(size)
    scenes = [sample_scene(seed) for seed in seeds]
    renders = render_batch(scenes, size)
    edges = canny_edges_batch([r.rgb for r in renders])
    return [annotate(*args) for args in zip(scenes, renders, edges, strict=True)]


def annotate(scene: Scene, rendered: Render, edges: np.ndarray) -> SceneSample:
    """Derive the remaining modalities of ``scene`` from its render, edges and scene graph."""
    size = rendered.depth.shape[0]
    rig = camera_rig(scene)
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
        edges=edges,
        sketch=draw_sketch(scene, rendered, rig),
        captions=captions,
        color_palette=color_palette(rendered.rgb),
        metadata=metadata(rendered.rgb, rendered.normals, rendered.semseg, views, captions),
    )
