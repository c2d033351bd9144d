"""Compiled (numba) per-pixel loops of the scene renderer: object hits, shadow rays and shading.

Numpy needs dozens of passes over every candidate array per intersection (gathers, one kernel
per shape, masks), which made intersection the largest cost of a 64 px scene. Here each ray
walks the scene's objects in one compiled loop: a bounding-sphere test, then the exact hit in the
object's own frame (base centre at the origin, y up, rotated by its yaw):

- cube: axis-aligned box [-s, s] x [0, 2s] x [-s, s] (slab method),
- sphere: radius s centred s above the floor,
- cylinder: radius 0.8 s, height 2 s, with a top cap,
- cone: base radius s, height 2 s, apex up,
- torus: lying on the floor (major 0.7 s, minor 0.4 s), sphere-traced on its distance field.

Shape indices follow ``anyseek.scenes.scene.SHAPES``; constants come from
:mod:`anyseek.scenes.render`
as arguments, so this module holds only the loops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EPS = 1e-4
CUBE, SPHERE, CYLINDER, CONE, TORUS = range(5)


@njit(cache=True, nogil=True)
def _intersect(shape, ox, oy, oz, dx, dy, dz, s, t0, consts):
    """Nearest hit (t, nx, ny, nz) of a local-frame ray with a shape of half-extent s; inf: none."""
    cyl_r, cone_r, tor_big, tor_small, tor_steps = consts
    inf = np.inf
    if shape == SPHERE:
        cy = oy - s
        b = ox * dx + cy * dy + oz * dz
        disc = b * b - (ox * ox + cy * cy + oz * oz - s * s)
        if disc <= 0.0:
            return inf, 0.0, 0.0, 0.0
        t = -b - math.sqrt(disc)
        if t <= EPS:
            return inf, 0.0, 0.0, 0.0
        return t, (ox + dx * t) / s, (cy + dy * t) / s, (oz + dz * t) / s
    if shape == CUBE:
        near, far, axis = -inf, inf, 0
        for a in range(3):
            o = ox if a == 0 else (oy if a == 1 else oz)
            d = dx if a == 0 else (dy if a == 1 else dz)
            lo = 0.0 if a == 1 else -s
            hi = 2.0 * s if a == 1 else s
            inv = 1.0 / (1e-9 if abs(d) < 1e-9 else d)
            t1, t2 = (lo - o) * inv, (hi - o) * inv
            tmin, tmax = min(t1, t2), max(t1, t2)
            if tmin > near:
                near, axis = tmin, a
            far = min(far, tmax)
        if near > far or near <= EPS:
            return inf, 0.0, 0.0, 0.0
        d = dx if axis == 0 else (dy if axis == 1 else dz)
        sign = -1.0 if d > 0 else (1.0 if d < 0 else 0.0)
        return (
            near,
            sign if axis == 0 else 0.0,
            sign if axis == 1 else 0.0,
            sign if axis == 2 else 0.0,
        )
    if shape == CYLINDER:
        a, h = cyl_r * s, 2.0 * s
        qa = dx * dx + dz * dz
        qb = ox * dx + oz * dz
        qc = ox * ox + oz * oz - a * a
        disc = qb * qb - qa * qc
        t_side = inf
        if disc > 0.0:
            t = (-qb - math.sqrt(disc)) / max(qa, 1e-12)
            y = oy + t * dy
            if t > EPS and 0.0 <= y <= h:
                t_side = t
        t_cap = (h - oy) / (1e-9 if abs(dy) < 1e-9 else dy)
        cx, cz = ox + t_cap * dx, oz + t_cap * dz
        if not (t_cap > EPS and cx * cx + cz * cz <= a * a):
            t_cap = inf
        if t_side <= t_cap:
            if t_side == inf:
                return inf, 0.0, 0.0, 0.0
            return t_side, (ox + t_side * dx) / a, 0.0, (oz + t_side * dz) / a
        return t_cap, 0.0, 1.0, 0.0
    if shape == CONE:
        h = 2.0 * s
        k2 = (cone_r / 2.0) ** 2
        hy = h - oy
        qa = dx * dx + dz * dz - k2 * dy * dy
        qb = ox * dx + oz * dz + k2 * hy * dy
        qc = ox * ox + oz * oz - k2 * hy * hy
        disc = qb * qb - qa * qc
        if disc <= 0.0:
            return inf, 0.0, 0.0, 0.0
        root = math.sqrt(disc)
        if abs(qa) < 1e-9:
            qa = 1e-9
        best = inf
        for t in ((-qb - root) / qa, (-qb + root) / qa):
            y = oy + t * dy
            if t > EPS and 0.0 <= y <= h and t < best:
                best = t
        if best == inf:
            return inf, 0.0, 0.0, 0.0
        px, py, pz = ox + dx * best, oy + dy * best, oz + dz * best
        nx, ny, nz = px, k2 * (h - py), pz
        norm = max(math.sqrt(nx * nx + ny * ny + nz * nz), 1e-9)
        return best, nx / norm, ny / norm, nz / norm
    # torus
    big, small = tor_big * s, tor_small * s
    qy0 = oy - small
    t = t0
    far = t0 + 2.2 * (big + small)
    for _ in range(int(tor_steps)):
        qx, qy, qz = ox + dx * t, qy0 + dy * t, oz + dz * t
        ring = math.sqrt(qx * qx + qz * qz) - big
        t = min(t + math.sqrt(ring * ring + qy * qy) - small, far)
    qx, qy, qz = ox + dx * t, qy0 + dy * t, oz + dz * t
    ring_len = max(math.sqrt(qx * qx + qz * qz), 1e-9)
    dist = math.sqrt((ring_len - big) ** 2 + qy * qy) - small
    if not (abs(dist) < 2e-3 * s + 1e-4 and t < far):
        return inf, 0.0, 0.0, 0.0
    nx, ny, nz = qx - qx * big / ring_len, qy, qz - qz * big / ring_len
    norm = max(math.sqrt(nx * nx + ny * ny + nz * nz), 1e-9)
    return t, nx / norm, ny / norm, nz / norm


@njit(cache=True, nogil=True)
def _object_hit(b, k, px, py, pz, dx, dy, dz, t0, shape, scale, cos, sin, base, consts):
    """World-space hit (t, normal) of a ray with object slot (b, k)."""
    c, s = cos[b, k], sin[b, k]
    rx, ry, rz = px - base[b, k, 0], py - base[b, k, 1], pz - base[b, k, 2]
    t, nx, ny, nz = _intersect(
        shape[b, k],
        c * rx - s * rz,
        ry,
        s * rx + c * rz,
        c * dx - s * dz,
        dy,
        s * dx + c * dz,
        scale[b, k],
        t0,
        consts,
    )
    return t, c * nx + s * nz, ny, -s * nx + c * nz


@njit(cache=True, nogil=True)
def _sphere_entry(px, py, pz, dx, dy, dz, cx, cy, cz, r):
    """Entry distance of a unit ray into a sphere (clamped at 0), or -1 if it misses it."""
    ox, oy, oz = px - cx, py - cy, pz - cz
    half_b = dx * ox + dy * oy + dz * oz
    disc = half_b * half_b - (ox * ox + oy * oy + oz * oz - r * r)
    if disc <= 0.0:
        return -1.0
    root = math.sqrt(disc)
    if root - half_b <= EPS:
        return -1.0
    return max(-half_b - root, 0.0)


@njit(cache=True, nogil=True)
def cast_objects(
    pos, d, t_best, which, normal, valid, shape, scale, cos, sin, base, centre, radius, consts
):
    """Nearest object hit of every pixel ray that beats ``t_best``; updates the maps in place.

    pos (B, 3) camera positions, d (B, P, 3) unit ray directions; t_best (B, P), which (B, P)
    (slot index where an object is hit) and normal (B, P, 3) are written where an object wins.
    """
    nb, npix = t_best.shape
    nk = valid.shape[1]
    for b in range(nb):
        px, py, pz = pos[b, 0], pos[b, 1], pos[b, 2]
        for p in range(npix):
            dx, dy, dz = d[b, p, 0], d[b, p, 1], d[b, p, 2]
            best = t_best[b, p]
            for k in range(nk):
                if not valid[b, k]:
                    continue
                t0 = _sphere_entry(
                    px, py, pz, dx, dy, dz, centre[b, k, 0], centre[b, k, 1], centre[b, k, 2],
                    radius[b, k],
                )  # fmt: skip
                if t0 < 0.0:
                    continue
                t, nx, ny, nz = _object_hit(
                    b, k, px, py, pz, dx, dy, dz, t0, shape, scale, cos, sin, base, consts
                )
                if t < best:
                    best = t
                    t_best[b, p] = t
                    which[b, p] = k
                    normal[b, p, 0], normal[b, p, 1], normal[b, p, 2] = nx, ny, nz


@njit(cache=True, nogil=True)
def _blocked(
    b, px, py, pz, lx, ly, lz, valid, shape, scale, cos, sin, base, centre, radius, consts
):
    """Whether the ray from point p towards the light l hits any object of scene b."""
    for k in range(valid.shape[1]):
        if not valid[b, k]:
            continue
        t0 = _sphere_entry(
            px, py, pz, lx, ly, lz, centre[b, k, 0], centre[b, k, 1], centre[b, k, 2], radius[b, k]
        )
        if t0 < 0.0:
            continue
        t = _object_hit(b, k, px, py, pz, lx, ly, lz, t0, shape, scale, cos, sin, base, consts)[0]
        if t < np.inf:
            return True
    return False


@njit(cache=True, nogil=True)
def shade(
    d, points, normal, which, light, ambient, floor_rgb, back_rgb, checker, obj_rgb, metal, foot,
    valid, shape, scale, cos, sin, base, centre, radius, consts,
):  # fmt: skip
    """Lit sRGB colours (B, P, 3) uint8 of every pixel (lighting in linear space, gamma 2).

    Lambert with hard shadow rays; ambient darkened on the floor near each object's footprint
    (contact shadow) and towards the top of the backdrop; Blinn-Phong highlights on objects, and
    for metal a reflection of floor or backdrop. ``which``: -2 backdrop, -1 floor, k object slot.
    """
    nb, npix = which.shape
    out = np.empty((nb, npix, 3), dtype=np.uint8)
    alb = np.empty(3)
    for b in range(nb):
        lx, ly, lz = light[b, 0], light[b, 1], light[b, 2]
        amb0 = ambient[b]
        for p in range(npix):
            w = which[b, p]
            px, py, pz = points[b, p, 0], points[b, p, 1], points[b, p, 2]
            nx, ny, nz = normal[b, p, 0], normal[b, p, 1], normal[b, p, 2]
            for c in range(3):
                alb[c] = (
                    back_rgb[b, c]
                    if w == -2
                    else (floor_rgb[b, c] if w == -1 else obj_rgb[b, w, c])
                )
            amb = amb0
            if w == -1:
                if checker[b] and (math.floor(px / 0.9) + math.floor(pz / 0.9)) % 2 == 1:
                    alb *= 0.86
                for k in range(valid.shape[1]):  # contact shadow
                    if valid[b, k]:
                        dx, dz = px - base[b, k, 0], pz - base[b, k, 2]
                        f = foot[b, k]
                        far = max(dx * dx + dz * dz - f * f, 0.0) / (0.5 * scale[b, k]) ** 2
                        near = 1.0 / (1.0 + far)
                        amb *= 1.0 - 0.45 * near * near
            ndl = max(nx * lx + ny * ly + nz * lz, 0.0)
            lit = 1.0
            if ndl > 0.0 and _blocked(
                b, px + nx * 2e-3, py + ny * 2e-3, pz + nz * 2e-3, lx, ly, lz,
                valid, shape, scale, cos, sin, base, centre, radius, consts,
            ):  # fmt: skip
                lit = 0.0
            light_sum = amb + (1.0 - amb0) * ndl * lit
            fall = 1.0 - 0.06 * min(max(py, 0.0), 6.0) if w == -2 else 1.0
            col0, col1, col2 = (
                alb[0] * light_sum * fall,
                alb[1] * light_sum * fall,
                alb[2] * light_sum * fall,
            )
            if w >= 0:
                vx, vy, vz = d[b, p, 0], d[b, p, 1], d[b, p, 2]
                hx, hy, hz = lx - vx, ly - vy, lz - vz
                hn = math.sqrt(hx * hx + hy * hy + hz * hz)
                nh = min(max((nx * hx + ny * hy + nz * hz) / hn, 0.0), 1.0)
                nh8 = (nh * nh) ** 4
                spec = (1.1 * nh8**8 if metal[b, w] else 0.12 * nh8) * lit
                if metal[b, w]:
                    refl_y = vy - 2.0 * (vx * nx + vy * ny + vz * nz) * ny
                    if refl_y < 0:
                        e0, e1, e2 = (
                            floor_rgb[b, 0] * 0.7,
                            floor_rgb[b, 1] * 0.7,
                            floor_rgb[b, 2] * 0.7,
                        )
                    else:
                        e0, e1, e2 = back_rgb[b, 0], back_rgb[b, 1], back_rgb[b, 2]
                    col0 = col0 * 0.55 + 0.8 * alb[0] * e0
                    col1 = col1 * 0.55 + 0.8 * alb[1] * e1
                    col2 = col2 * 0.55 + 0.8 * alb[2] * e2
                col0, col1, col2 = col0 + spec, col1 + spec, col2 + spec
            out[b, p, 0] = int(math.sqrt(min(max(col0, 0.0), 1.0)) * 255.0 + 0.5)
            out[b, p, 1] = int(math.sqrt(min(max(col1, 0.0), 1.0)) * 255.0 + 0.5)
            out[b, p, 2] = int(math.sqrt(min(max(col2, 0.0), 1.0)) * 255.0 + 0.5)
    return out
