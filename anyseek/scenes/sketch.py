"""Hand-drawn-looking line drawings of a rendered scene: what a user would draw on a canvas.

The drawing starts from exact geometry, not from image edges: object outlines are traced from the
instance map (only where the object is not covered by a nearer one, so shared boundaries are drawn
once), and visible creases (cube edges, the rim of a cylinder's top) come from the 3-D edges of the
scene graph, projected and depth-tested against the depth map. The polylines are then drawn the way
a hand draws: slow wobble and fast tremor across the stroke, closed outlines in one or two strokes
that overshoot where they meet, gaps, a pressure profile, and a small per-object misplacement.
Several styles (pen, pencil, marker, scribble) are picked by the scene seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import find_objects
from skimage.measure import find_contours

from anyseek.scenes.render import CYLINDER_RADIUS, Render, Rig, project
from anyseek.scenes.scene import Scene, SceneObject

SUPERSAMPLE = 4
STEP = 1.0
"""Spacing of stroke points, in pixels at 64 px."""
CHUNK = 10
"""Points per drawn line piece: the width (pen pressure) may change between pieces."""


@dataclass(frozen=True)
class StrokeStyle:
    """How a hand draws: widths in pixels at 64 px, ink darkness in [0, 1], jitter amplitudes."""

    name: str
    width: tuple[float, float]
    ink: tuple[float, float]
    passes: int
    wobble: float  # amplitude of the slow sideways drift, px
    tremor: float  # amplitude of the fast shake, px
    overshoot: tuple[float, float]  # how far strokes run past their end, px
    gap_rate: float  # chance that a stroke has a small gap
    creases: bool  # whether interior edges are drawn
    horizon: float  # chance of drawing the floor/backdrop line


STYLES: tuple[StrokeStyle, ...] = (
    StrokeStyle("pen", (0.9, 1.3), (0.92, 1.0), 1, 0.30, 0.06, (0.4, 1.6), 0.10, True, 0.3),
    StrokeStyle("pencil", (0.7, 1.0), (0.55, 0.8), 2, 0.35, 0.12, (0.6, 2.2), 0.20, True, 0.4),
    StrokeStyle("marker", (1.7, 2.4), (0.9, 1.0), 1, 0.35, 0.05, (0.2, 1.2), 0.05, False, 0.2),
    StrokeStyle("scribble", (0.8, 1.2), (0.7, 0.95), 3, 0.55, 0.15, (1.0, 3.0), 0.25, True, 0.3),
)


def _cube_edges(obj: SceneObject, steps: int) -> np.ndarray:
    """Points along the 12 edges of a cube: (12, steps, 3) world coordinates."""
    s = obj.scale
    corners = np.array(
        [[x, y, z] for x in (-s, s) for y in (0.0, 2 * s) for z in (-s, s)], dtype=np.float64
    )
    c, si = math.cos(obj.yaw), math.sin(obj.yaw)
    rot = np.array([[c, 0.0, si], [0.0, 1.0, 0.0], [-si, 0.0, c]])
    world = corners @ rot.T + np.array([obj.x, 0.0, obj.z])
    a, b = _CUBE_EDGE_PAIRS.T
    t = np.linspace(0.0, 1.0, steps)[None, :, None]
    return world[a][:, None] + t * (world[b] - world[a])[:, None]


def _rim(obj: SceneObject, steps: int) -> np.ndarray:
    """Points around the top rim of a cylinder: (1, 4 * steps, 3)."""
    a = np.linspace(0.0, 2.0 * math.pi, 4 * steps)
    r = CYLINDER_RADIUS * obj.scale
    ring = np.stack([obj.x + r * np.cos(a), np.full_like(a, 2 * obj.scale), obj.z + r * np.sin(a)])
    return ring.T[None]


_CUBE_EDGE_PAIRS = np.array(
    [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
)
CREASES = {"cube": _cube_edges, "cylinder": _rim}
"""Shapes with visible interior edges and the 3-D polylines that make them."""


@dataclass
class Lines:
    """Polylines collected for drawing: points, and per line whether it is closed and its group."""

    points: list[np.ndarray]
    closed: list[bool]
    group: list[int]

    def add_runs(self, xy: np.ndarray, keep: np.ndarray, breaks: np.ndarray, group: int) -> None:
        """Add every run of consecutive kept points (runs also end where ``breaks`` is True)."""
        k = keep & ~breaks
        edges = np.flatnonzero(np.diff(np.concatenate([[False], k, [False]]).astype(np.int8)))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b - a >= 3:
                self.points.append(xy[a:b])
                self.closed.append(False)
                self.group.append(group)


def _crease_lines(scene: Scene, rig: Rig, rendered: Render, lines: Lines) -> None:
    """Visible interior edges (cube edges, cylinder rims), depth-tested against the render."""
    size = rendered.depth.shape[0]
    steps = max(8, size // 4)
    pts, owner, poly = [], [], []
    for k, obj in enumerate(scene.objects):
        if obj.shape in CREASES:
            p = CREASES[obj.shape](obj, steps)
            pts.append(p.reshape(-1, 3))
            owner.append(np.full(p.shape[0] * p.shape[1], k + 1))
            poly.append(np.repeat(np.arange(p.shape[0]) + 100 * k, p.shape[1]))
    if not pts:
        return
    px = project(rig, size, np.concatenate(pts))
    owner_id, poly_id = np.concatenate(owner), np.concatenate(poly)
    col, row = np.floor(px[:, 0]).astype(int), np.floor(px[:, 1]).astype(int)
    inside = (col >= 1) & (col < size - 1) & (row >= 1) & (row < size - 1)
    c, r = np.clip(col, 1, size - 2), np.clip(row, 1, size - 2)
    inst = rendered.instance
    interior = (
        (inst[r, c] == owner_id)
        & (inst[r + 1, c] == owner_id)
        & (inst[r - 1, c] == owner_id)
        & (inst[r, c + 1] == owner_id)
        & (inst[r, c - 1] == owner_id)
    )
    visible = inside & interior & (px[:, 2] <= rendered.depth[r, c] * 1.03 + 0.03)
    breaks = np.concatenate([[False], poly_id[1:] != poly_id[:-1]])
    for k in np.unique(owner_id):
        sel = owner_id == k
        lines.add_runs(px[sel, :2], visible[sel], breaks[sel], int(k) - 1)


def _outline_lines(scene: Scene, rendered: Render, lines: Lines) -> None:
    """Outlines of every object where not covered by a nearer object (shared edges drawn once)."""
    inst, depth = rendered.instance, rendered.depth
    size = inst.shape[0]
    inst_p = np.zeros((size + 2, size + 2), dtype=inst.dtype)
    inst_p[1:-1, 1:-1] = inst
    depth_p = np.full((size + 2, size + 2), np.inf, dtype=np.float32)
    depth_p[1:-1, 1:-1] = depth
    corner_r, corner_c = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    boxes = find_objects(inst_p, max_label=len(scene.objects))
    spans = [(b[0].start, b[0].stop, b[1].start, b[1].stop) for b in boxes if b is not None]
    for k, box in enumerate(boxes):
        if box is None:
            continue
        r0, r1, c0, c1 = box[0].start - 1, box[0].stop + 1, box[1].start - 1, box[1].stop + 1
        touching = sum(a < r1 and r0 < b and c < c1 and c0 < d for a, b, c, d in spans) > 1
        win = (slice(r0, r1), slice(c0, c1))  # the box with a one-pixel margin (padding)
        mask = inst_p[win] == k + 1
        own_depth = float(depth_p[win][mask].mean())
        contours = find_contours(mask.astype(np.float32), 0.5)
        allc = np.concatenate(contours) + np.array([r0, c0])
        keep = ~((allc < 1.0).any(axis=1) | (allc > size).any(axis=1))  # not the image border
        if touching:  # the 2x2 pixels around each point: covered where one is a nearer object
            rr = np.minimum(allc[:, 0:1].astype(int) + corner_r, size + 1)
            cc = np.minimum(allc[:, 1:2].astype(int) + corner_c, size + 1)
            other = inst_p[rr, cc]
            keep &= ~((other > 0) & (other != k + 1) & (depth_p[rr, cc] < own_depth)).any(axis=1)
        xy = allc[:, ::-1] - 0.5  # (row, col) in the padded grid -> (x, y) pixel coordinates
        start = 0
        for contour in contours:
            stop = start + len(contour)
            piece, ok = xy[start:stop], keep[start:stop]
            start = stop
            if len(piece) > 4 and ok.all():
                lines.points.append(piece)  # find_contours repeats the first point at the end
                lines.closed.append(True)
                lines.group.append(k)
            else:
                lines.add_runs(piece, ok, np.zeros(len(ok), dtype=bool), k)


def _horizon_line(rendered: Render, lines: Lines, group: int) -> None:
    """The line where the floor meets the backdrop."""
    semseg = rendered.semseg
    size = semseg.shape[0]
    for contour in find_contours((semseg == 0).astype(np.float32), 0.5):
        below = np.minimum(contour[:, 0].astype(int) + 1, size - 1)
        keep = semseg[below, np.minimum(contour[:, 1].astype(int), size - 1)] == 1
        xy = contour[:, ::-1] + 0.5
        lines.add_runs(xy, keep, np.zeros(len(keep), dtype=bool), group)


def _flatten(lines: Lines) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All points (T, 2), their line id (T,), and each line's first and last point index."""
    pts = np.concatenate(lines.points)
    counts = np.array([len(p) for p in lines.points])
    last = np.cumsum(counts) - 1
    first = last - counts + 1
    return pts, np.repeat(np.arange(len(counts)), counts), first, last


def _misplace(
    pts: np.ndarray, line: np.ndarray, groups: np.ndarray, rng: np.random.Generator, unit: float
) -> np.ndarray:
    """Rotate/scale/shift each group's lines a little about their centre, as a hand would."""
    g = groups[line]
    n = groups.max() + 1
    count = np.maximum(np.bincount(g, minlength=n), 1)
    centre = np.stack([np.bincount(g, pts[:, i], minlength=n) / count for i in (0, 1)], axis=1)
    angle, scale = rng.normal(0.0, 0.035, n), 1.0 + rng.normal(0.0, 0.03, n)
    shift = rng.normal(0.0, 0.5 * unit, (n, 2))
    rel = pts - centre[g]
    cos, sin = np.cos(angle[g]) * scale[g], np.sin(angle[g]) * scale[g]
    out = np.stack([cos * rel[:, 0] - sin * rel[:, 1], sin * rel[:, 0] + cos * rel[:, 1]], 1)
    return out + centre[g] + shift[g]


def _smooth(
    pts: np.ndarray,
    line: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    closed: np.ndarray,
    passes: int,
) -> np.ndarray:
    """Moving-average smoothing within each line (wrapping round closed ones)."""
    idx = np.arange(len(pts))
    start, end, wrap = first[line], last[line], closed[line]
    prev = np.where(idx == start, np.where(wrap, end - 1, idx), idx - 1)
    nxt = np.where(idx == end, np.where(wrap, start + 1, idx), idx + 1)
    for _ in range(passes):
        pts = (pts[prev] + 2.0 * pts[idx] + pts[nxt]) / 4.0
    return pts


def _strokes(
    lines: Lines,
    length: np.ndarray,
    style: StrokeStyle,
    rng: np.random.Generator,
    unit: float,
    zoom: float,
) -> np.ndarray:
    """Stroke table: line, start/end arc position, width, ink, wobble wavelength and phase.

    Open lines overshoot at both ends; closed outlines start anywhere, are drawn in one or two
    strokes, and run on past the point where they close. Some strokes get a small gap.
    """
    spec = []
    n = len(length)
    r = rng.random((style.passes, n, 12))
    lo, hi = style.overshoot
    for p in range(style.passes):
        for i in range(n):
            u = r[p, i]
            total = length[i]
            head, tail = (lo + (hi - lo) * u[0]) * unit, (lo + (hi - lo) * u[1]) * unit
            if lines.closed[i]:
                s0 = u[2] * total
                if u[3] < 0.4:
                    cut = s0 + total * (0.35 + 0.3 * u[4])
                    pieces = [(s0, cut + head), (cut, s0 + total + tail)]
                else:
                    pieces = [(s0, s0 + total + tail)]
            elif u[5] < style.gap_rate and total > 10 * unit:
                g = total * (0.3 + 0.4 * u[6])
                pieces = [(-head, g), (g + (1.5 + u[7]) * unit, total + tail)]
            else:
                pieces = [(-head, total + tail)]
            width = style.width[0] + (style.width[1] - style.width[0]) * u[8]
            ink = style.ink[0] + (style.ink[1] - style.ink[0]) * u[9]
            wavelength, phase = (10.0 + 14.0 * u[10]) * zoom, 2.0 * math.pi * u[11]
            for a, b in pieces:
                spec.append((i, a, b, width, ink, wavelength, phase))
    return np.array(spec, dtype=np.float64).reshape(-1, 7)


def _trace(
    pts: np.ndarray,
    line: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    arc: np.ndarray,
    closed: np.ndarray,
    spec: np.ndarray,
    step: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample every stroke every ``step`` px along its line: positions, tangents, stroke ids."""
    s_line = spec[:, 0].astype(int)
    n = np.maximum(2, np.ceil((spec[:, 2] - spec[:, 1]) / step).astype(int) + 1)
    sid = np.repeat(np.arange(len(spec)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    frac_k = k / (n[sid] - 1)
    s = spec[sid, 1] + frac_k * (spec[sid, 2] - spec[sid, 1])
    ln = s_line[sid]
    total = arc[last[ln]]
    s = np.where(closed[ln], np.mod(s, np.maximum(total, 1e-9)), s)
    s_in = np.clip(s, 0.0, total)
    length = arc[last]
    offset = np.concatenate([[0.0], np.cumsum(length[:-1] + 1.0)])  # lines apart on one axis
    global_arc = arc + offset[line]
    j = np.searchsorted(global_arc, s_in + offset[ln], side="right") - 1
    j = np.clip(j, first[ln], np.maximum(first[ln], last[ln] - 1))  # a segment of the line
    seg = pts[j + 1] - pts[j]
    seg_len = np.maximum(np.hypot(seg[:, 0], seg[:, 1]), 1e-9)
    tangent = seg / seg_len[:, None]
    pos = pts[j] + tangent * (s_in - arc[j])[:, None] + tangent * (s - s_in)[:, None]
    return pos, tangent, sid, frac_k, s


def draw_sketch(
    scene: Scene, rendered: Render, rig: Rig, style: StrokeStyle | None = None
) -> np.ndarray:
    """Ink map (S, S) uint8 of a hand-drawn sketch of the scene: 0 paper, 255 full ink."""
    size = rendered.depth.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence([scene.seed, 0x5E7C4]))
    style = style or STYLES[int(rng.integers(len(STYLES)))]
    unit = max(1.0, size / 96.0)
    lines = Lines([], [], [])
    _outline_lines(scene, rendered, lines)
    if style.creases:
        _crease_lines(scene, rig, rendered, lines)
    if rng.random() < style.horizon:
        _horizon_line(rendered, lines, len(scene.objects))
    big = size * SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    if not lines.points:
        return np.zeros((size, size), dtype=np.uint8)

    pts, line, first, last = _flatten(lines)
    closed = np.array(lines.closed)
    pts = _misplace(pts, line, np.array(lines.group), rng, unit)
    pts = _smooth(pts, line, first, last, closed, passes=1 if size <= 96 else 2)
    step_len = np.hypot(*(pts[1:] - pts[:-1]).T)
    step_len[last[:-1]] = 0.0  # no arc length across line boundaries
    arc = np.concatenate([[0.0], np.cumsum(step_len)])
    arc = arc - arc[first][line]
    length = arc[last]

    spec = _strokes(lines, length, style, rng, unit, zoom=size / 64.0)
    pos, tangent, sid, frac_k, s = _trace(pts, line, first, last, arc, closed, spec, STEP * unit)
    noise = rng.normal(0.0, 1.0, len(pos))
    shake = (np.roll(noise, 1) + noise + np.roll(noise, -1)) / 3.0
    wobble = np.sin(2.0 * math.pi * s / spec[sid, 5] + spec[sid, 6])
    offset = style.wobble * unit * wobble + style.tremor * unit * shake
    pos = pos + np.stack([-tangent[:, 1], tangent[:, 0]], axis=1) * offset[:, None]
    pressure = 0.55 + 0.45 * np.sin(math.pi * (0.1 + 0.8 * frac_k))
    width = np.maximum(1, np.round(spec[sid, 3] * unit * SUPERSAMPLE * pressure)).astype(int)
    ink = (255 * spec[:, 4]).astype(int).tolist()

    pen = ImageDraw.Draw(canvas)
    xy = (pos * SUPERSAMPLE).ravel().tolist()  # flat x0, y0, x1, y1, ...: no per-point lists
    widths = width.tolist()
    bounds = np.flatnonzero(np.diff(sid)) + 1
    for a, b in zip(
        np.concatenate([[0], bounds]).tolist(), [*bounds.tolist(), len(sid)], strict=True
    ):
        fill = ink[sid[a]]
        for c in range(a, b - 1, CHUNK):
            stop = min(b, c + CHUNK + 1)
            pen.line(xy[2 * c : 2 * stop], fill=fill, width=widths[c + (stop - c) // 2])
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8)
