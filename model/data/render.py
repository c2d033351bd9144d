"""Vectorised numpy ray caster: scene graphs in, pixel-aligned rgb/depth/normals/labels out.

Every pixel gets one primary ray through its centre. Shapes are intersected analytically in their
own frame (sphere, box slabs, cylinder and cone quadrics; the torus by sphere tracing its exact
distance field), and only for rays that can hit the shape's bounding sphere: primary rays inside
its projected screen box, shadow rays found by binary search on points sorted across the light.
Several scenes are cast together as padded (scene, object slot) arrays. Lighting is Lambert +
Blinn-Phong with hard shadow rays, a reflection of floor/backdrop on metal, and a soft contact
shadow on the floor. All label maps come from the same ray hits as the colours, so they line up.

Conventions: world y is up and the floor is y = 0. Camera space is x right, y up, z towards the
viewer (OpenGL). ``depth`` is z-depth: distance along the camera's optical axis, not along the ray.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.data.scene import FOOTPRINT, SHAPES, Scene, SceneObject

EPS = 1e-4
BACKGROUND, FLOOR = 0, 1
SHAPE_CLASS = {shape: 2 + i for i, shape in enumerate(SHAPES)}
"""Semantic class id of each shape (0 background/backdrop, 1 floor)."""
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


# --- per-shape intersection in the object frame (base centre at the origin, y up) -------------
# Each takes local origins/directions (M, 3), the per-ray half-extent s (M,) and the bounding-sphere
# entry distance (M,), and returns (t, normal): t is inf where the ray misses.


def _sphere(o: np.ndarray, d: np.ndarray, s: np.ndarray, t0: np.ndarray) -> tuple:
    """Sphere of radius s centred s above the floor."""
    oc = o.copy()
    oc[:, 1] -= s
    b = np.einsum("ij,ij->i", oc, d)
    disc = b * b - (np.einsum("ij,ij->i", oc, oc) - s * s)
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    t = np.where((disc > 0) & (t > EPS), t, np.inf)
    n = (oc + d * np.where(np.isfinite(t), t, 0.0)[:, None]) / s[:, None]
    return t, n


def _cube(o: np.ndarray, d: np.ndarray, s: np.ndarray, t0: np.ndarray) -> tuple:
    """Axis-aligned box [-s, s] x [0, 2s] x [-s, s] (slab method)."""
    lo = np.stack([-s, np.zeros_like(s), -s], axis=1)
    hi = np.stack([s, 2 * s, s], axis=1)
    inv = 1.0 / np.where(np.abs(d) < 1e-9, 1e-9, d)
    t1, t2 = (lo - o) * inv, (hi - o) * inv
    tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
    near, far = tmin.max(axis=1), tmax.min(axis=1)
    t = np.where((near <= far) & (near > EPS), near, np.inf)
    axis = tmin.argmax(axis=1)
    n = np.zeros_like(d)
    rows = np.arange(len(d))
    n[rows, axis] = -np.sign(d[rows, axis])
    return t, n


def _cylinder(o: np.ndarray, d: np.ndarray, s: np.ndarray, t0: np.ndarray) -> tuple:
    """Upright cylinder of radius 0.8 s and height 2 s, with a top cap."""
    a, h = CYLINDER_RADIUS * s, 2.0 * s
    ox, oy, oz, dx, dy, dz = o[:, 0], o[:, 1], o[:, 2], d[:, 0], d[:, 1], d[:, 2]
    qa = dx * dx + dz * dz
    qb = ox * dx + oz * dz
    qc = ox * ox + oz * oz - a * a
    disc = qb * qb - qa * qc
    t_side = (-qb - np.sqrt(np.maximum(disc, 0.0))) / np.maximum(qa, 1e-12)
    y_side = oy + t_side * dy
    t_side = np.where((disc > 0) & (t_side > EPS) & (y_side >= 0) & (y_side <= h), t_side, np.inf)
    t_cap = (h - oy) / np.where(np.abs(dy) < 1e-9, 1e-9, dy)
    cx, cz = ox + t_cap * dx, oz + t_cap * dz
    t_cap = np.where((t_cap > EPS) & (cx * cx + cz * cz <= a * a), t_cap, np.inf)
    t = np.minimum(t_side, t_cap)
    tt = np.where(np.isfinite(t), t, 0.0)
    side = t_side <= t_cap
    n = np.stack(
        [
            np.where(side, (ox + tt * dx) / a, 0.0),
            np.where(side, 0.0, 1.0),
            np.where(side, (oz + tt * dz) / a, 0.0),
        ],
        axis=1,
    ).astype(np.float32)
    return t, n


def _cone(o: np.ndarray, d: np.ndarray, s: np.ndarray, t0: np.ndarray) -> tuple:
    """Upright cone of base radius s and height 2 s (apex up)."""
    h = 2.0 * s
    k2 = (CONE_RADIUS / 2.0) ** 2  # (base radius / height) squared
    ox, oy, oz, dx, dy, dz = o[:, 0], o[:, 1], o[:, 2], d[:, 0], d[:, 1], d[:, 2]
    hy = h - oy
    qa = dx * dx + dz * dz - k2 * dy * dy
    qb = ox * dx + oz * dz + k2 * hy * dy
    qc = ox * ox + oz * oz - k2 * hy * hy
    disc = qb * qb - qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    qa = np.where(np.abs(qa) < 1e-9, 1e-9, qa)
    best = np.full(len(d), np.inf, dtype=np.float32)
    for t in ((-qb - root) / qa, (-qb + root) / qa):
        y = oy + t * dy
        ok = (disc > 0) & (t > EPS) & (y >= 0) & (y <= h) & (t < best)
        best = np.where(ok, t, best)
    tt = np.where(np.isfinite(best), best, 0.0)
    p = o + d * tt[:, None]
    n = np.stack([p[:, 0], k2 * (h - p[:, 1]), p[:, 2]], axis=1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    return best, n


def _torus(o: np.ndarray, d: np.ndarray, s: np.ndarray, t0: np.ndarray) -> tuple:
    """Torus lying on the floor (major 0.7 s, minor 0.4 s), by sphere tracing its distance field."""
    big, small = TORUS_MAJOR * s, TORUS_MINOR * s
    q0 = o.copy()
    q0[:, 1] -= small
    t = t0.copy()
    far = t0 + 2.2 * (big + small)
    for _ in range(TORUS_STEPS):
        q = q0 + d * t[:, None]
        ring = np.sqrt(q[:, 0] ** 2 + q[:, 2] ** 2) - big
        dist = np.sqrt(ring * ring + q[:, 1] ** 2) - small
        t = np.minimum(t + dist, far)
    q = q0 + d * t[:, None]
    ring_len = np.maximum(np.sqrt(q[:, 0] ** 2 + q[:, 2] ** 2), 1e-9)
    dist = np.sqrt((ring_len - big) ** 2 + q[:, 1] ** 2) - small
    hit = (np.abs(dist) < 2e-3 * s + 1e-4) & (t < far)
    n = q.copy()
    n[:, 0] -= q[:, 0] * big / ring_len
    n[:, 2] -= q[:, 2] * big / ring_len
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    return np.where(hit, t, np.inf).astype(np.float32), n


_KERNELS = (_cube, _sphere, _cylinder, _cone, _torus)
"""Intersection kernel of each shape, in :data:`SHAPES` order."""
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


def _hit(
    slots: Slots,
    bi: np.ndarray,
    ki: np.ndarray,
    o: np.ndarray,
    d: np.ndarray,
    t0: np.ndarray,
    want_normals: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Intersect ray i with object (bi[i], ki[i]); world normals if asked. Groups by shape."""
    c, s = slots.cos[bi, ki], slots.sin[bi, ki]
    rel = o - slots.base[bi, ki]
    lo = np.stack([c * rel[:, 0] - s * rel[:, 2], rel[:, 1], s * rel[:, 0] + c * rel[:, 2]], 1)
    ld = np.stack([c * d[:, 0] - s * d[:, 2], d[:, 1], s * d[:, 0] + c * d[:, 2]], 1)
    t = np.full(len(bi), np.inf, dtype=np.float32)
    n = np.zeros((len(bi), 3), dtype=np.float32) if want_normals else None
    shape = slots.shape[bi, ki]
    scale = slots.scale[bi, ki]
    for sid in np.unique(shape):
        sel = np.flatnonzero(shape == sid)
        ts, ns = _KERNELS[sid](lo[sel], ld[sel], scale[sel], t0[sel])
        t[sel] = ts
        if n is not None:
            cs, ss = c[sel], s[sel]
            n[sel, 0] = cs * ns[:, 0] + ss * ns[:, 2]
            n[sel, 1] = ns[:, 1]
            n[sel, 2] = -ss * ns[:, 0] + cs * ns[:, 2]
    return t, n


def _bdot(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-scene dot products: (B, N, 3) . (B, 3) -> (B, N) (no BLAS: stays single-threaded)."""
    return v[..., 0] * w[:, None, 0] + v[..., 1] * w[:, None, 1] + v[..., 2] * w[:, None, 2]


def _pairdot(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """All dot products between (B, K, 3) and (B, P, 3) -> (B, K, P)."""
    return (
        a[..., 0, None] * v[:, None, :, 0]
        + a[..., 1, None] * v[:, None, :, 1]
        + a[..., 2, None] * v[:, None, :, 2]
    )


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


def _screen_boxes(slots: Slots, rigs: list[Rig], size: int) -> np.ndarray:
    """Conservative pixel boxes (B, K, 4: row0, row1, col0, col1) of the bounding spheres.

    The sphere lies in an axis-aligned box in camera space; its projection lies within the
    projections of that box's corners.
    """
    pos = np.array([r.position for r in rigs])[:, None, :]
    rel = slots.centre - pos  # (B, K, 3)
    x = (rel * np.array([r.right for r in rigs])[:, None]).sum(-1)
    y = (rel * np.array([r.up for r in rigs])[:, None]).sum(-1)
    z = (rel * np.array([r.forward for r in rigs])[:, None]).sum(-1)
    r = slots.radius
    tan = np.array([rg.tan_half for rg in rigs])[:, None]
    z_near = np.maximum(z - r, 1e-3)
    zs = np.stack([z_near, z + r])
    u = np.stack([(x - r) / zs, (x + r) / zs]).reshape(4, *x.shape) / tan
    v = np.stack([(y - r) / zs, (y + r) / zs]).reshape(4, *x.shape) / tan
    col0, col1 = (u.min(0) + 1) * size / 2, (u.max(0) + 1) * size / 2
    row0, row1 = (1 - v.max(0)) * size / 2, (1 - v.min(0)) * size / 2
    box = np.stack([np.floor(row0), np.ceil(row1), np.floor(col0), np.ceil(col1)], -1)
    box = np.clip(box, 0, size).astype(np.int64)
    box[z - r <= 1e-3] = (0, size, 0, size)  # camera inside or touching: every pixel
    return box


def _primary_candidates(
    slots: Slots, rigs: list[Rig], pos: np.ndarray, d: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(scene, slot, pixel) triples whose ray hits the slot's bounding sphere, and the entry t."""
    box = _screen_boxes(slots, rigs, size)
    parts_b, parts_k, parts_p = [], [], []
    for b, k in zip(*np.nonzero(slots.valid), strict=True):
        r0, r1, c0, c1 = box[b, k]
        if r1 <= r0 or c1 <= c0:
            continue
        pix = (np.arange(r0, r1)[:, None] * size + np.arange(c0, c1)).ravel()
        parts_p.append(pix)
        parts_b.append(np.full(pix.size, b))
        parts_k.append(np.full(pix.size, k))
    if not parts_p:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(0, np.float32)
    bi, ki, pi = np.concatenate(parts_b), np.concatenate(parts_k), np.concatenate(parts_p)
    oc = pos[bi] - slots.centre[bi, ki]
    dd = d[bi, pi]
    half_b = (dd * oc).sum(-1)
    disc = half_b * half_b - ((oc * oc).sum(-1) - slots.radius[bi, ki] ** 2)
    root = np.sqrt(np.maximum(disc, 0.0))
    keep = (disc > 0) & (root - half_b > EPS)
    return bi[keep], ki[keep], pi[keep], np.maximum(-half_b - root, 0.0)[keep]


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

    # Objects: pixels inside each bounding sphere's screen box, then the exact hits.
    bi, ki, pi, t0 = _primary_candidates(slots, rigs, pos, d, size)
    t, n = _hit(slots, bi, ki, pos[bi], d[bi, pi], t0, want_normals=True)
    closer = np.flatnonzero(t < t_best[bi, pi])
    order = closer[np.argsort(-t[closer], kind="stable")]  # nearest written last wins
    bo, po = bi[order], pi[order]
    t_best[bo, po] = t[order]
    which[bo, po] = ki[order]
    normal[bo, po] = n[order]
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


def _shadowed(slots: Slots, start: np.ndarray, light: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Whether points (B, P, 3) are blocked from their scene's light (B, 3) by an object.

    Points are sorted by one coordinate across the light direction, so the points that can be
    shadowed by a bounding sphere are found by binary search plus one filter on a short range.
    """
    helper = np.where(np.abs(light[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(light, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(light, e1)
    u, v, w = _bdot(start, e1), _bdot(start, e2), _bdot(start, light)
    nb, npix = u.shape
    order = np.argsort(u, axis=1)
    # One sorted axis for all scenes: scene b's coordinates shifted by b * span.
    span = 2.0 * float(np.abs(u).max()) + 4.0 * float(slots.radius.max()) + 1.0
    shift = np.arange(nb, dtype=np.float64) * span
    u_all = (np.take_along_axis(u, order, axis=1) + shift[:, None]).ravel()
    order_all = (order + (np.arange(nb) * npix)[:, None]).ravel()
    sb, sk = np.nonzero(slots.valid)
    c, r = slots.centre[sb, sk], slots.radius[sb, sk]
    cu, cv, cw = (c * e1[sb]).sum(1), (c * e2[sb]).sum(1), (c * light[sb]).sum(1)
    lo = np.searchsorted(u_all, cu - r + shift[sb])
    hi = np.searchsorted(u_all, cu + r + shift[sb])
    count = hi - lo
    slot = np.repeat(np.arange(len(sb)), count)
    flat = order_all[np.arange(count.sum()) - np.repeat(np.cumsum(count) - count - lo, count)]
    du, dv = u.ravel()[flat] - cu[slot], v.ravel()[flat] - cv[slot]
    along = cw[slot] - w.ravel()[flat]  # how far towards the light the sphere centre is
    perp2 = du * du + dv * dv
    r_s = r[slot]
    keep = active.ravel()[flat] & (perp2 < r_s * r_s) & (along + r_s > 0)
    flat, slot = flat[keep], slot[keep]
    blocked = np.zeros(nb * npix, dtype=bool)
    if flat.size:
        t0 = np.maximum(along[keep] - np.sqrt(r_s[keep] ** 2 - perp2[keep]), 0.0)
        bi, pi = flat // npix, flat % npix
        t, _ = _hit(slots, bi, sk[slot], start[bi, pi], light[bi], t0.astype(np.float32), False)
        blocked[flat[np.isfinite(t)]] = True
    return blocked.reshape(nb, npix)


def _shade(
    scenes: Sequence[Scene],
    slots: Slots,
    d: np.ndarray,
    points: np.ndarray,
    normal: np.ndarray,
    which: np.ndarray,
) -> np.ndarray:
    """Lit sRGB colours (B, P, 3) uint8 (lighting in linear space, gamma 2)."""
    light = np.stack([light_direction(sc) for sc in scenes])
    ambient0 = np.array([sc.light.ambient for sc in scenes], dtype=np.float32)[:, None]
    floor_rgb = np.array([sc.floor.rgb for sc in scenes], dtype=np.float32) ** 2
    back_rgb = np.array([sc.backdrop.rgb for sc in scenes], dtype=np.float32) ** 2
    table = np.concatenate([back_rgb[:, None], floor_rgb[:, None], slots.rgb], axis=1)
    rows = (which + 2) + (np.arange(len(scenes)) * table.shape[1])[:, None]
    albedo = np.take(table.reshape(-1, 3), rows, axis=0)  # (B, P, 3)
    on_floor = which == -1
    checker = np.array([sc.floor.pattern == "checker" for sc in scenes])[:, None]
    cell = (
        np.floor(points[..., 0] / 0.9).astype(np.int32)
        + np.floor(points[..., 2] / 0.9).astype(np.int32)
    ) & 1
    albedo *= np.where(on_floor & checker & (cell > 0), np.float32(0.86), np.float32(1.0))[
        ..., None
    ]

    ndl = np.clip(_bdot(normal, light), 0.0, None)
    start = points + normal * 2e-3
    lit = (~_shadowed(slots, start, light, ndl > 0)).astype(np.float32)

    # Ambient, darkened on the floor near each footprint (contact shadow) and towards the top of
    # the backdrop (studio fall-off).
    dx = points[:, None, :, 0] - slots.base[..., 0:1]  # (B, K, P)
    dz = points[:, None, :, 2] - slots.base[..., 2:3]
    foot = (0.9 * slots.scale * _FOOTPRINT[slots.shape])[..., None]
    far = np.maximum(dx * dx + dz * dz - foot * foot, 0.0) / (0.5 * slots.scale[..., None]) ** 2
    near = 1.0 / (1.0 + far)
    occlusion = np.prod(np.where(slots.valid[..., None], 1.0 - 0.45 * near * near, 1.0), axis=1)
    ambient = ambient0 * np.where(on_floor, occlusion, 1.0)
    colour = albedo * (ambient + (1.0 - ambient0) * ndl * lit)[..., None]
    fall = np.where(which == -2, 1.0 - 0.06 * np.clip(points[..., 1], 0.0, 6.0), 1.0)
    colour *= fall[..., None]

    # Highlights (and an environment reflection for metal) on objects only.
    bo, po = np.nonzero(which >= 0)
    if bo.size:
        ko = which[bo, po]
        n, v, lo = normal[bo, po], d[bo, po], light[bo]
        metal = slots.metal[bo, ko]
        half = lo - v
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        nh = np.clip(np.einsum("ij,ij->i", n, half), 0.0, 1.0)
        nh8 = (nh * nh) ** 4
        spec = np.where(metal, 1.1 * nh8**8, 0.12 * nh8) * lit[bo, po]
        c = colour[bo, po]
        refl_y = v[:, 1] - 2.0 * np.einsum("ij,ij->i", v, n) * n[:, 1]
        env = np.where(refl_y[:, None] < 0, floor_rgb[bo] * 0.7, back_rgb[bo])
        c = np.where(metal[:, None], c * 0.55 + 0.8 * albedo[bo, po] * env, c)
        colour[bo, po] = c + spec[:, None]
    return (np.sqrt(np.clip(colour, 0.0, 1.0)) * 255.0 + 0.5).astype(np.uint8)
