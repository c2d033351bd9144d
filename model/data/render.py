"""Vectorised numpy ray caster: one scene graph in, pixel-aligned rgb/depth/normals/labels out.

Every pixel gets one primary ray through its centre. Shapes are intersected analytically in their
own frame (sphere, box slabs, cylinder and cone quadrics; the torus by sphere tracing its exact
distance field), and only for the rays that hit the shape's bounding sphere, so the per-object
cost is mostly numpy call overhead. Lighting is Lambert + Blinn-Phong with hard shadow rays, a
reflection of floor/backdrop on metal, and a soft contact shadow on the floor. All label maps
come from the same ray hits as the colours, so they line up exactly.

Conventions: world y is up and the floor is y = 0. Camera space is x right, y up, z towards the
viewer (OpenGL). ``depth`` is z-depth: distance along the camera's optical axis, not along the ray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.data.scene import SHAPES, Scene, SceneObject

EPS = 1e-4
BACKGROUND, FLOOR = 0, 1
SHAPE_CLASS = {shape: 2 + i for i, shape in enumerate(SHAPES)}
"""Semantic class id of each shape (0 background/backdrop, 1 floor)."""
CYLINDER_RADIUS, CONE_RADIUS = 0.8, 1.0
TORUS_MAJOR, TORUS_MINOR = 0.75, 0.35
TORUS_STEPS = 24


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
    """World-space pose of the scene's camera."""
    cam = scene.camera
    az, el = math.radians(cam.azimuth), math.radians(cam.elevation)
    target = np.asarray(cam.target, dtype=np.float64)
    offset = np.array([math.cos(el) * math.cos(az), math.sin(el), math.cos(el) * math.sin(az)])
    position = target + cam.distance * offset
    forward = -offset
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return Rig(position, right, up, forward, math.tan(math.radians(cam.fov) / 2))


@lru_cache(maxsize=8)
def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised pixel-centre coordinates in [-1, 1]: x to the right, y upwards (flattened)."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
    x, y = np.meshgrid(c, -c)
    return x.ravel(), y.ravel()


def primary_directions(rig: Rig, size: int) -> np.ndarray:
    """Unit ray directions (S*S, 3) through every pixel centre, row-major from the top left."""
    x, y = _pixel_grid(size)
    axes = np.stack([rig.right, rig.up, rig.forward]).astype(np.float32)
    d = np.stack([x * rig.tan_half, y * rig.tan_half, np.ones_like(x)], axis=1) @ axes
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def project(rig: Rig, size: int, points: np.ndarray) -> np.ndarray:
    """Pixel coordinates (column, row) and z-depth of world points (M, 3) -> (M, 3)."""
    rel = np.asarray(points, dtype=np.float64) - rig.position
    z = rel @ rig.forward
    col = (rel @ rig.right / z / rig.tan_half + 1.0) * size / 2.0
    row = (1.0 - rel @ rig.up / z / rig.tan_half) * size / 2.0
    return np.stack([col, row, z], axis=1)


def bounding_sphere(obj: SceneObject) -> tuple[np.ndarray, float]:
    """Centre and radius of a sphere enclosing the object."""
    s = obj.scale
    radius = {
        "cube": s * math.sqrt(3.0),
        "sphere": s,
        "cylinder": s * math.hypot(CYLINDER_RADIUS, 1.0),
        "cone": s * math.hypot(CONE_RADIUS, 1.0),
        "torus": s * (TORUS_MAJOR + TORUS_MINOR),
    }[obj.shape]
    cy = s * TORUS_MINOR if obj.shape == "torus" else s
    return np.array([obj.x, cy, obj.z]), radius


def object_centre(obj: SceneObject) -> np.ndarray:
    """World-space centre of the object's bounding sphere (used for spatial relations)."""
    return bounding_sphere(obj)[0]


# --- per-shape intersection in the object frame (base centre at the origin, y up) -------------
# Each takes local origins/directions (M, 3), the half-extent s and the bounding-sphere entry
# distance, and returns (t, normal): t is inf where the ray misses.


def _sphere(o: np.ndarray, d: np.ndarray, s: float, t0: np.ndarray) -> tuple:
    oc = o - np.array([0.0, s, 0.0], dtype=np.float32)
    b = np.einsum("ij,ij->i", oc, d)
    disc = b * b - (np.einsum("ij,ij->i", oc, oc) - s * s)
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    t = np.where((disc > 0) & (t > EPS), t, np.inf)
    n = (oc + d * np.where(np.isfinite(t), t, 0.0)[:, None]) / s
    return t, n


def _cube(o: np.ndarray, d: np.ndarray, s: float, t0: np.ndarray) -> tuple:
    lo = np.array([-s, 0.0, -s], dtype=np.float32)
    hi = np.array([s, 2 * s, s], dtype=np.float32)
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


def _cylinder(o: np.ndarray, d: np.ndarray, s: float, t0: np.ndarray) -> tuple:
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


def _cone(o: np.ndarray, d: np.ndarray, s: float, t0: np.ndarray) -> tuple:
    h = 2.0 * s
    k2 = (CONE_RADIUS * s / h) ** 2
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


def _torus(o: np.ndarray, d: np.ndarray, s: float, t0: np.ndarray) -> tuple:
    big, small = TORUS_MAJOR * s, TORUS_MINOR * s
    q0 = o - np.array([0.0, small, 0.0], dtype=np.float32)
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
    n = (
        q
        - np.stack([q[:, 0], np.zeros_like(ring_len), q[:, 2]], axis=1) * (big / ring_len)[:, None]
    )
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    return np.where(hit, t, np.inf).astype(np.float32), n


_INTERSECT = {
    "sphere": _sphere,
    "cube": _cube,
    "cylinder": _cylinder,
    "cone": _cone,
    "torus": _torus,
}


def candidates(
    objects: tuple[SceneObject, ...], o: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which rays touch each object's bounding sphere, for all objects at once.

    ``o`` is one origin (3,) or one per ray (N, 3); ``d`` is (N, 3). Returns a (K, N) mask and the
    (K, N) distance at which each ray enters the sphere (clamped at 0).
    """
    spheres = [bounding_sphere(obj) for obj in objects]
    centres = np.array([c for c, _ in spheres], dtype=np.float32)  # (K, 3)
    radii2 = np.array([r * r for _, r in spheres], dtype=np.float32)
    dc = centres @ d.T  # (K, N)
    if o.ndim == 1:
        oc = o - centres  # (K, 3)
        b = (d @ o)[None, :] - dc
        cc = (np.einsum("ij,ij->i", oc, oc) - radii2)[:, None]
    else:
        b = np.einsum("ij,ij->i", d, o)[None, :] - dc
        oo = np.einsum("ij,ij->i", o, o)
        cc = (
            oo[None, :]
            - 2.0 * (centres @ o.T)
            + (np.einsum("ij,ij->i", centres, centres) - radii2)[:, None]
        )
    disc = b * b - cc
    root = np.sqrt(np.maximum(disc, 0.0))
    return (disc > 0) & (root - b > EPS), np.maximum(-b - root, 0.0)


def intersect(
    obj: SceneObject, o: np.ndarray, d: np.ndarray, t0: np.ndarray, want_normals: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Hit distances (inf = miss) of rays with one object, and world-space normals if asked.

    ``o`` is one origin (3,) or (M, 3); ``d`` is (M, 3); ``t0`` is where each ray enters the
    object's bounding sphere.
    """
    c, s = math.cos(obj.yaw), math.sin(obj.yaw)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=np.float32)  # local->world
    base = np.array([obj.x, 0.0, obj.z], dtype=np.float32)
    lo = np.broadcast_to((o - base) @ rot, d.shape)  # world->local is rot^T, i.e. v @ rot
    t, n = _INTERSECT[obj.shape](lo, d @ rot, obj.scale, t0)
    return t.astype(np.float32), (n @ rot.T if want_normals else None)


def shadowed(scene: Scene, points: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Whether each point (N, 3) sees no light along direction ``light`` (blocked by an object)."""
    blocked = np.zeros(len(points), dtype=bool)
    if not scene.objects or not len(points):
        return blocked
    d = np.broadcast_to(light, points.shape)
    mask, t0 = candidates(scene.objects, points, d)
    for k, obj in enumerate(scene.objects):
        idx = np.flatnonzero(mask[k] & ~blocked)
        if idx.size:
            t, _ = intersect(obj, points[idx], d[idx], t0[k, idx], want_normals=False)
            blocked[idx[np.isfinite(t)]] = True
    return blocked


def light_direction(scene: Scene) -> np.ndarray:
    """Unit vector pointing from the scene towards the light."""
    az, el = math.radians(scene.light.azimuth), math.radians(scene.light.elevation)
    return np.array(
        [math.cos(el) * math.cos(az), math.sin(el), math.cos(el) * math.sin(az)], dtype=np.float32
    )


def render(scene: Scene, size: int) -> Render:
    """Ray-cast ``scene`` at ``size`` x ``size`` pixels."""
    rig = camera_rig(scene)
    o = rig.position.astype(np.float32)
    d = primary_directions(rig, size)
    d.shape[0]

    # Stuff: floor (y = 0) and the backdrop plane facing the camera at backdrop_distance.
    az = math.radians(scene.camera.azimuth)
    back_n = np.array([math.cos(az), 0.0, math.sin(az)], dtype=np.float32)
    dn = d @ back_n
    t_back = np.where(
        dn < -1e-6, (-scene.backdrop_distance - o @ back_n) / np.minimum(dn, -1e-6), 1e4
    )
    t_floor = np.where(d[:, 1] < -1e-6, -o[1] / np.minimum(d[:, 1], -1e-6), np.inf)
    on_floor = t_floor < t_back
    t_best = np.where(on_floor, t_floor, t_back).astype(np.float32)
    normal = np.where(on_floor[:, None], np.float32([0, 1, 0]), back_n)
    which = np.where(on_floor, -1, -2)  # -2 backdrop, -1 floor, k >= 0 object index

    mask, t0 = candidates(scene.objects, o, d) if scene.objects else (None, None)
    for k, obj in enumerate(scene.objects):
        idx = np.flatnonzero(mask[k])
        if idx.size == 0:
            continue
        t, n = intersect(obj, o, d[idx], t0[k, idx])
        closer = t < t_best[idx]
        sel = idx[closer]
        t_best[sel] = t[closer]
        normal[sel] = n[closer]
        which[sel] = k
    obj_idx = np.flatnonzero(which >= 0)
    normal[obj_idx] /= np.linalg.norm(normal[obj_idx], axis=1, keepdims=True)
    points = o + d * t_best[:, None]

    rgb = _shade(scene, d, points, normal, which)
    axes = np.stack([rig.right, rig.up, -rig.forward]).astype(np.float32)
    cam_normals = normal @ axes.T
    semseg_of = np.array([BACKGROUND, FLOOR] + [SHAPE_CLASS[o.shape] for o in scene.objects])
    shape2 = (size, size)
    return Render(
        rgb=rgb.reshape(size, size, 3),
        depth=(t_best * (d @ rig.forward.astype(np.float32))).reshape(shape2).astype(np.float32),
        normals=cam_normals.reshape(size, size, 3).astype(np.float32),
        semseg=semseg_of[which + 2].astype(np.uint8).reshape(shape2),
        instance=np.maximum(which + 1, 0).astype(np.uint8).reshape(shape2),
    )


def _shade(
    scene: Scene, d: np.ndarray, points: np.ndarray, normal: np.ndarray, which: np.ndarray
) -> np.ndarray:
    """Lit sRGB colours (N, 3) uint8 for the hit points (lighting in linear space, gamma 2)."""
    light = light_direction(scene)
    floor_rgb = np.float32(scene.floor.rgb) ** 2
    back_rgb = np.float32(scene.backdrop.rgb) ** 2
    table = np.stack([back_rgb, floor_rgb] + [np.float32(o.rgb) ** 2 for o in scene.objects])
    albedo = table[which + 2]
    on_floor = which == -1
    fidx = np.flatnonzero(on_floor)
    if scene.floor.pattern == "checker":
        fp = points[fidx]
        cell = (np.floor(fp[:, 0] / 0.9) + np.floor(fp[:, 2] / 0.9)) % 2
        albedo[fidx] *= np.where(cell > 0, 0.78, 1.0)[:, None]

    ndl = np.clip(normal @ light, 0.0, None)
    lit_idx = np.flatnonzero(ndl > 0)
    lit = np.zeros(len(d), dtype=np.float32)
    start = points[lit_idx] + normal[lit_idx] * 2e-3
    lit[lit_idx] = ~shadowed(scene, start, light)

    # Ambient term, darkened on the floor near each object's footprint (contact shadow) and
    # slightly towards the top of the backdrop (studio fall-off).
    ambient = np.full(len(d), scene.light.ambient, dtype=np.float32)
    if scene.objects and fidx.size:
        xz = np.array([[o.x, o.z] for o in scene.objects], dtype=np.float32)
        foot = np.array([o.footprint * 0.9 for o in scene.objects], dtype=np.float32)
        soft = np.array([0.35 * o.scale for o in scene.objects], dtype=np.float32)
        fp = points[fidx]
        gap = np.hypot(fp[:, 0:1] - xz[:, 0], fp[:, 2:3] - xz[:, 1]) - foot  # (F, K)
        ambient[fidx] *= np.prod(1.0 - 0.45 * np.exp(-np.maximum(gap, 0.0) / soft), axis=1)
    colour = albedo * (ambient + (1.0 - scene.light.ambient) * ndl * lit)[:, None]
    bidx = np.flatnonzero(which == -2)
    colour[bidx] *= (1.0 - 0.06 * np.clip(points[bidx, 1], 0.0, 6.0))[:, None]

    # Highlights (and an environment reflection for metal) on objects only.
    oidx = np.flatnonzero(which >= 0)
    if oidx.size:
        n, v = normal[oidx], d[oidx]
        metal_of = np.array([o.material == "metal" for o in scene.objects])
        metal = metal_of[which[oidx]]
        half = light - v
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        nh = np.clip(np.einsum("ij,ij->i", n, half), 0.0, 1.0)
        nh8 = (nh * nh) ** 4
        spec = np.where(metal, 1.1 * nh8**8, 0.12 * nh8) * lit[oidx]
        c = colour[oidx]
        if metal.any():
            refl_y = v[:, 1] - 2.0 * np.einsum("ij,ij->i", v, n) * n[:, 1]
            env = np.where(refl_y[:, None] < 0, floor_rgb * 0.7, back_rgb)
            c = np.where(metal[:, None], c * 0.55 + 0.8 * albedo[oidx] * env, c)
        colour[oidx] = c + spec[:, None]
    return (np.sqrt(np.clip(colour, 0.0, 1.0)) * 255.0 + 0.5).astype(np.uint8)
