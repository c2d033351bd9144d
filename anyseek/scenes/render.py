"""Ray caster: scene graphs in, pixel-aligned rgb/depth/normals/labels out.

Every pixel gets one primary ray through its centre. Rays, the floor and the backdrop are numpy
arrays over several scenes at once (padded (scene, object slot) arrays); the per-ray work (object
hits, shadow rays, shading) runs in the compiled loops of :mod:`anyseek.scenes.raycast`. Shapes are
intersected analytically in their own frame (sphere, box slabs, cylinder and cone quadrics; the
torus by sphere tracing its exact distance field), only for rays that enter the shape's bounding
sphere. Lighting is Lambert + Blinn-Phong with hard shadow rays, a reflection of floor/backdrop on
metal, and a soft contact shadow on the floor. All label maps come from the same ray hits as the
colours, so they line up.

Conventions: world y is up and the floor is y = 0. Camera space is x right, y up, z towards the
viewer (OpenGL). ``depth`` is z-depth: distance along the camera's optical axis, not along the ray.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from anyseek.model.vocabulary.classes import BACKGROUND, FLOOR
from anyseek.scenes.raycast import cast_objects, shade
from anyseek.scenes.scene import FOOTPRINT, SHAPES, Scene, SceneObject

CYLINDER_RADIUS, CONE_RADIUS = 0.8, 1.0
TORUS_MAJOR, TORUS_MINOR = 0.7, 0.4
TORUS_STEPS = 24
_BOUND_RADIUS = np.array(
    [math.sqrt(3.0), 1.0, math.hypot(CYLINDER_RADIUS, 1.0), math.hypot(CONE_RADIUS, 1.0),
     TORUS_MAJOR + TORUS_MINOR],
    dtype=np.float32,
)  # fmt: skip
"""Bounding-sphere radius of each shape (in SHAPES order), in units of its half-extent."""
_BOUND_HEIGHT = np.array([1.0, 1.0, 1.0, 1.0, TORUS_MINOR], dtype=np.float32)
"""Height of the bounding-sphere centre above the floor, in units of the half-extent."""
_CONSTS = (CYLINDER_RADIUS, CONE_RADIUS, TORUS_MAJOR, TORUS_MINOR, float(TORUS_STEPS))
"""Shape constants handed to the compiled intersection loops (see scenes.raycast)."""


@dataclass(frozen=True)
class Rig:
    """Camera pose: position and orthonormal right/up/forward axes, plus the half-FOV tangent."""

    position: np.ndarray
    right: np.ndarray
    up: np.ndarray
    forward: np.ndarray
    tan_half: float


@dataclass(frozen=True)
class Render:
    """Aligned per-pixel outputs of one scene."""

    rgb: np.ndarray  # (S, S, 3) uint8
    depth: np.ndarray  # (S, S) float32, z-depth in world units
    normals: np.ndarray  # (S, S, 3) float32, camera-space unit normals
    semseg: np.ndarray  # (S, S) uint8 class ids
    instance: np.ndarray  # (S, S) uint8, 0 = no object, k = scene.objects[k - 1]


def camera_rig(scene: Scene) -> Rig:
    """World-space pose of the scene's camera (scalar maths: numpy's per-call cost dominates)."""
    cam = scene.camera
    az, el = math.radians(cam.azimuth), math.radians(cam.elevation)
    offset = (math.cos(el) * math.cos(az), math.sin(el), math.cos(el) * math.sin(az))
    position = np.array([t + cam.distance * o for t, o in zip(cam.target, offset, strict=True)])
    fx, fy, fz = -offset[0], -offset[1], -offset[2]
    # right = forward x world-up, normalised; up = right x forward.
    rx, rz = -fz, fx
    norm = math.sqrt(rx * rx + rz * rz)
    rx, rz = rx / norm, rz / norm
    up = (-rz * fy, rz * fx - rx * fz, rx * fy)
    return Rig(
        position,
        np.array([rx, 0.0, rz]),
        np.array(up),
        np.array([fx, fy, fz]),
        math.tan(math.radians(cam.fov) / 2),
    )


@lru_cache(maxsize=8)
def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised pixel-centre coordinates in [-1, 1]: x to the right, y upwards (flattened)."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    x, y = np.meshgrid(c, -c)
    return x.ravel(), y.ravel()


def project(rig: Rig, size: int, points: np.ndarray) -> np.ndarray:
    """Pixel coordinates (column, row) and z-depth of world points (M, 3) -> (M, 3)."""
    rel = np.asarray(points, dtype=np.float64) - rig.position
    z = rel @ rig.forward
    col = (rel @ rig.right / z / rig.tan_half + 1.0) * size / 2.0
    row = (1.0 - rel @ rig.up / z / rig.tan_half) * size / 2.0
    return np.stack([col, row, z], axis=1)


def bounding_sphere(obj: SceneObject) -> tuple[np.ndarray, float]:
    """Centre and radius of a sphere enclosing the object."""
    i = SHAPES.index(obj.shape)
    centre = np.array([obj.x, obj.scale * float(_BOUND_HEIGHT[i]), obj.z])
    return centre, obj.scale * float(_BOUND_RADIUS[i])


def object_centre(obj: SceneObject) -> np.ndarray:
    """World-space centre of the object's bounding sphere (used for spatial relations)."""
    return bounding_sphere(obj)[0]


_FOOTPRINT = np.array([FOOTPRINT[shape] for shape in SHAPES], dtype=np.float32)


@dataclass(frozen=True)
class Slots:
    """The objects of B scenes as (B, K) arrays, K = most objects in any scene (padded)."""

    valid: np.ndarray  # (B, K) bool
    shape: np.ndarray  # (B, K) int index into SHAPES
    scale: np.ndarray  # (B, K) half-extent
    cos: np.ndarray  # (B, K) cos(yaw)
    sin: np.ndarray  # (B, K) sin(yaw)
    base: np.ndarray  # (B, K, 3) floor point under the object
    centre: np.ndarray  # (B, K, 3) bounding-sphere centre
    radius: np.ndarray  # (B, K) bounding-sphere radius
    rgb: np.ndarray  # (B, K, 3) linear albedo
    metal: np.ndarray  # (B, K) bool

    @classmethod
    def of(cls, scenes: Sequence[Scene]) -> Slots:
        """Pack the scene graphs' objects into padded arrays."""
        b, k = len(scenes), max(1, max(len(sc.objects) for sc in scenes))
        shape = np.zeros((b, k), np.int64)
        valid = np.zeros((b, k), bool)
        num = np.zeros((b, k, 8), np.float32)  # scale, yaw, x, z, r, g, b, metal
        for i, sc in enumerate(scenes):
            for j, o in enumerate(sc.objects):
                valid[i, j] = True
                shape[i, j] = SHAPES.index(o.shape)
                num[i, j] = (o.scale, o.yaw, o.x, o.z, *o.rgb, o.material == "metal")
        scale = np.where(valid, num[..., 0], 1.0).astype(np.float32)
        zeros = np.zeros_like(scale)
        base = np.stack([num[..., 2], zeros, num[..., 3]], axis=-1)
        centre = np.stack([num[..., 2], scale * _BOUND_HEIGHT[shape], num[..., 3]], axis=-1)
        return cls(
            valid=valid,
            shape=shape,
            scale=scale,
            cos=np.cos(num[..., 1]),
            sin=np.sin(num[..., 1]),
            base=base,
            centre=centre,
            radius=np.where(valid, scale * _BOUND_RADIUS[shape], 0.0).astype(np.float32),
            rgb=num[..., 4:7] ** 2,
            metal=num[..., 7] > 0.5,
        )

    def geometry(self) -> tuple[np.ndarray, ...]:
        """The arrays the compiled intersection loops take, in their argument order."""
        return (
            self.valid,
            self.shape,
            self.scale,
            self.cos,
            self.sin,
            self.base,
            self.centre,
            self.radius,
        )


def _bdot(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-scene dot products: (B, N, 3) . (B, 3) -> (B, N) (no BLAS: stays single-threaded)."""
    return v[..., 0] * w[:, None, 0] + v[..., 1] * w[:, None, 1] + v[..., 2] * w[:, None, 2]


def _pixel_rays(rigs: list[Rig], size: int) -> tuple:
    """Camera positions (B, 3), axes (B, 3, 3) and unit ray directions (B, P, 3)."""
    x, y = _pixel_grid(size)
    pos = np.array([r.position for r in rigs], dtype=np.float32)
    axes = np.array([[r.right, r.up, r.forward] for r in rigs], dtype=np.float32)
    tan = np.array([r.tan_half for r in rigs], dtype=np.float32)[:, None]
    # The direction through (x, y) is f + x*tan*r + y*tan*u, with length sqrt(1 + (x^2+y^2)tan^2)
    # because the axes are orthonormal; computed per component (contiguous, no axis-3 reductions).
    xt, yt = x[None] * tan, y[None] * tan  # (B, P)
    inv = 1.0 / np.sqrt(1.0 + xt * xt + yt * yt)
    xt, yt = xt * inv, yt * inv
    d = np.empty((len(rigs), x.size, 3), dtype=np.float32)
    for c in range(3):
        d[..., c] = xt * axes[:, None, 0, c] + yt * axes[:, None, 1, c] + inv * axes[:, None, 2, c]
    return pos, axes, d


def render_batch(scenes: Sequence[Scene], size: int) -> list[Render]:
    """Ray-cast several scenes at once (one set of array operations amortised over all)."""
    nb = len(scenes)
    rigs = [camera_rig(sc) for sc in scenes]
    pos, axes, d = _pixel_rays(rigs, size)
    slots = Slots.of(scenes)

    # Stuff: the floor (y = 0) and the backdrop plane facing the camera.
    az = np.radians([sc.camera.azimuth for sc in scenes])
    back_n = np.stack([np.cos(az), np.zeros(nb), np.sin(az)], 1).astype(np.float32)
    back_dist = np.array([sc.backdrop_distance for sc in scenes], dtype=np.float32)
    dn = np.minimum(_bdot(d, back_n), -1e-6)
    t_back = (-back_dist - (pos * back_n).sum(1))[:, None] / dn
    dy = np.minimum(d[..., 1], -1e-6)
    t_floor = np.where(d[..., 1] < -1e-6, -pos[:, 1:2] / dy, np.inf)
    on_floor = t_floor < t_back
    t_best = np.where(on_floor, t_floor, t_back).astype(np.float32)
    normal = np.where(on_floor[..., None], np.float32([0, 1, 0]), back_n[:, None, :])
    which = np.where(on_floor, -1, -2)  # -2 backdrop, -1 floor, k >= 0 object slot

    # Objects: the nearest exact hit in front of the stuff, per ray (compiled loop).
    normal = np.ascontiguousarray(normal, dtype=np.float32)
    cast_objects(pos, d, t_best, which, normal, *slots.geometry(), _CONSTS)
    points = pos[:, None, :] + d * t_best[..., None]

    rgb = _shade(scenes, slots, d, points, normal, which)
    cam_normals = normal @ (axes * np.float32([1, 1, -1])[:, None]).transpose(0, 2, 1)
    depth = t_best * _bdot(d, axes[:, 2])
    shape2 = (size, size)
    classes = np.concatenate(
        [np.full((nb, 2), [BACKGROUND, FLOOR]), 2 + slots.shape], axis=1
    ).astype(np.uint8)
    semseg = np.take_along_axis(classes, which + 2, axis=1)
    return [
        Render(
            rgb=rgb[i].reshape(size, size, 3),
            depth=depth[i].reshape(shape2).astype(np.float32),
            normals=cam_normals[i].reshape(size, size, 3).astype(np.float32),
            semseg=semseg[i].reshape(shape2),
            instance=np.maximum(which[i] + 1, 0).astype(np.uint8).reshape(shape2),
        )
        for i in range(nb)
    ]


def render(scene: Scene, size: int) -> Render:
    """Ray-cast one scene at ``size`` x ``size`` pixels."""
    return render_batch([scene], size)[0]


def light_direction(scene: Scene) -> np.ndarray:
    """Unit vector pointing from the scene towards the light."""
    az, el = math.radians(scene.light.azimuth), math.radians(scene.light.elevation)
    return np.array(
        [math.cos(el) * math.cos(az), math.sin(el), math.cos(el) * math.sin(az)], dtype=np.float32
    )


def _shade(
    scenes: Sequence[Scene],
    slots: Slots,
    d: np.ndarray,
    points: np.ndarray,
    normal: np.ndarray,
    which: np.ndarray,
) -> np.ndarray:
    """Lit sRGB colours (B, P, 3) uint8: per-scene lighting and materials, then a compiled loop."""
    return shade(
        d,
        np.ascontiguousarray(points, dtype=np.float32),
        normal,
        which,
        np.stack([light_direction(sc) for sc in scenes]),
        np.array([sc.light.ambient for sc in scenes], dtype=np.float32),
        np.array([sc.floor.rgb for sc in scenes], dtype=np.float32) ** 2,
        np.array([sc.backdrop.rgb for sc in scenes], dtype=np.float32) ** 2,
        np.array([sc.floor.pattern == "checker" for sc in scenes]),
        np.ascontiguousarray(slots.rgb),
        slots.metal,
        (0.9 * slots.scale * _FOOTPRINT[slots.shape]).astype(np.float32),
        *slots.geometry(),
        _CONSTS,
    )
