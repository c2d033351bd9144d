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
from skimage.measure import find_contours

from model.data.render import CYLINDER_RADIUS, Render, Rig, project
from model.data.scene import Scene, SceneObject

SUPERSAMPLE = 4
STEP = 1.0
"""Spacing of stroke points, in pixels at 64 px."""


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


def _cube_edges(obj: SceneObject) -> list[np.ndarray]:
    """The 12 edges of a cube as (2, 3) world-space segments."""
    s = obj.scale
    corners = np.array(
        [[x, y, z] for x in (-s, s) for y in (0.0, 2 * s) for z in (-s, s)], dtype=np.float64
    )
    pairs = [(a, b) for a in range(8) for b in range(a + 1, 8)]
    pairs = [(a, b) for a, b in pairs if np.count_nonzero(corners[a] != corners[b]) == 1]
    c, si = math.cos(obj.yaw), math.sin(obj.yaw)
    rot = np.array([[c, 0.0, si], [0.0, 1.0, 0.0], [-si, 0.0, c]])
    world = corners @ rot.T + np.array([obj.x, 0.0, obj.z])
    return [world[[a, b]] for a, b in pairs]


def _rim(obj: SceneObject) -> list[np.ndarray]:
    """The top rim of a cylinder as a closed world-space polyline."""
    a = np.linspace(0.0, 2.0 * math.pi, 49)
    r = CYLINDER_RADIUS * obj.scale
    ring = np.stack([obj.x + r * np.cos(a), np.full_like(a, 2 * obj.scale), obj.z + r * np.sin(a)])
    return [ring.T]


CREASES = {"cube": _cube_edges, "cylinder": _rim}
"""Shapes with visible interior edges and the 3-D polylines that make them."""


def _split(points: np.ndarray, keep: np.ndarray, min_len: int = 2) -> list[np.ndarray]:
    """Runs of consecutive kept points, as separate polylines."""
    runs, start = [], None
    for i, k in enumerate([*keep.tolist(), False]):
        if k and start is None:
            start = i
        elif not k and start is not None:
            if i - start >= min_len:
                runs.append(points[start:i])
            start = None
    return runs


def _crease_lines(scene: Scene, k: int, rig: Rig, rendered: Render) -> list[np.ndarray]:
    """Visible interior edges of object ``k`` as (x, y) pixel polylines."""
    obj = scene.objects[k]
    size = rendered.depth.shape[0]
    inst = rendered.instance
    lines = []
    for seg in CREASES.get(obj.shape, lambda _o: [])(obj):
        steps = max(8, int(np.linalg.norm(np.diff(seg, axis=0), axis=1).sum() * size / 3))
        t = np.linspace(0.0, 1.0, steps)[:, None]
        pts = np.concatenate([seg[i] + t * (seg[i + 1] - seg[i]) for i in range(len(seg) - 1)])
        px = project(rig, size, pts)
        col, row = np.floor(px[:, 0]).astype(int), np.floor(px[:, 1]).astype(int)
        inside = (col >= 1) & (col < size - 1) & (row >= 1) & (row < size - 1)
        c, r = np.clip(col, 1, size - 2), np.clip(row, 1, size - 2)
        interior = np.ones(len(px), dtype=bool)
        for dr, dc in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
            interior &= inst[r + dr, c + dc] == k + 1
        depth = rendered.depth[r, c]
        visible = inside & interior & (px[:, 2] <= depth * 1.03 + 0.03)
        lines += _split(px[:, :2], visible, min_len=3)
    return lines


def _outline_lines(k: int, rendered: Render) -> list[np.ndarray]:
    """Outline of object ``k`` where it is not covered by a nearer object, as pixel polylines."""
    inst, depth = rendered.instance, rendered.depth
    size = inst.shape[0]
    mask = np.pad(inst == k + 1, 1)
    if mask.sum() < 2:
        return []
    inst_p = np.pad(inst, 1)
    depth_p = np.pad(depth, 1, constant_values=np.inf)
    own_depth = float(np.median(depth[inst == k + 1]))
    lines = []
    for contour in find_contours(mask.astype(np.float32), 0.5):
        r0, c0 = np.floor(contour[:, 0]).astype(int), np.floor(contour[:, 1]).astype(int)
        covered = np.zeros(len(contour), dtype=bool)
        for dr in (0, 1):
            for dc in (0, 1):
                rr = np.clip(r0 + dr, 0, size + 1)
                cc = np.clip(c0 + dc, 0, size + 1)
                other = inst_p[rr, cc]
                covered |= (other > 0) & (other != k + 1) & (depth_p[rr, cc] < own_depth)
        on_border = (
            (contour[:, 0] < 1.0)
            | (contour[:, 0] > size)
            | (contour[:, 1] < 1.0)
            | (contour[:, 1] > size)
        )
        xy = np.stack([contour[:, 1] - 0.5, contour[:, 0] - 0.5], axis=1)  # padded index -> px
        closed = not covered.any() and not on_border.any() and len(xy) > 4
        if closed:
            lines.append(np.concatenate([xy, xy[:1]]))
        else:
            lines += _split(xy, ~covered & ~on_border, min_len=3)
    return lines


def _horizon_line(rendered: Render) -> list[np.ndarray]:
    """The line where the floor meets the backdrop, as pixel polylines."""
    back = (rendered.semseg == 0).astype(np.float32)
    size = back.shape[0]
    lines = []
    for contour in find_contours(back, 0.5):
        xy = np.stack([contour[:, 1] + 0.5, contour[:, 0] + 0.5], axis=1)
        keep = (
            rendered.semseg[
                np.clip(contour[:, 0].astype(int) + 1, 0, size - 1),
                np.clip(contour[:, 1].astype(int), 0, size - 1),
            ]
            == 1
        )
        lines += _split(xy, keep, min_len=4)
    return lines


def _smooth(line: np.ndarray, closed: bool, passes: int) -> np.ndarray:
    """Moving-average smoothing that removes the pixel staircase of traced outlines."""
    for _ in range(passes):
        if closed:
            body = line[:-1]
            body = (np.roll(body, 1, 0) + 2 * body + np.roll(body, -1, 0)) / 4
            line = np.concatenate([body, body[:1]])
        elif len(line) > 2:
            mid = (line[:-2] + 2 * line[1:-1] + line[2:]) / 4
            line = np.concatenate([line[:1], mid, line[-1:]])
    return line


def _resample(line: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` pixels along the polyline."""
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] < 1e-6:
        return line[:1]
    s = np.linspace(0.0, arc[-1], max(2, int(arc[-1] / step) + 1))
    return np.stack([np.interp(s, arc, line[:, 0]), np.interp(s, arc, line[:, 1])], axis=1)


def _hand(
    line: np.ndarray, closed: bool, style: StrokeStyle, rng: np.random.Generator, unit: float
) -> list[np.ndarray]:
    """Turn an exact polyline into one or more hand-drawn strokes (still in pixel units)."""
    pts = _resample(line, STEP * unit)
    if len(pts) < 2:
        return []
    if closed:  # start anywhere, sometimes lift the pen once, and overlap where the ends meet
        pts = np.roll(pts[:-1], int(rng.integers(len(pts) - 1)), axis=0)
        cut = int(rng.integers(len(pts) // 3, 2 * len(pts) // 3 + 1)) if rng.random() < 0.4 else 0
        extra = max(1, int(rng.uniform(*style.overshoot) / STEP))
        pieces = [pts[: cut + extra], pts[cut:]] if cut else [pts]
        pieces[-1] = np.concatenate([pieces[-1], pts[:extra]])
    else:
        pieces = [pts]
    strokes = []
    for piece in pieces:
        if len(piece) < 2:
            continue
        tangent = np.gradient(piece, axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        s = np.arange(len(piece)) * STEP
        wavelength = rng.uniform(8.0, 20.0)
        drift = style.wobble * unit * np.sin(2 * math.pi * s / wavelength + rng.uniform(0, 6.3))
        noise = rng.normal(0.0, 1.0, len(piece))
        shake = (np.roll(noise, 1) + noise + np.roll(noise, -1)) / 3
        offset = drift + style.tremor * unit * shake
        out = piece + normal * offset[:, None]
        head, tail = rng.uniform(*style.overshoot, 2) * unit * 0.5
        out = np.concatenate([out[:1] - tangent[:1] * head, out, out[-1:] + tangent[-1:] * tail])
        if rng.random() < style.gap_rate and len(out) > 12:
            g = int(rng.integers(4, len(out) - 6))
            strokes += [out[:g], out[g + int(rng.integers(2, 4)) :]]
        else:
            strokes.append(out)
    return strokes


def _misplace(lines: list[np.ndarray], rng: np.random.Generator, unit: float) -> list[np.ndarray]:
    """Rotate/scale/shift an object's lines a little around their centre, as a hand would."""
    if not lines:
        return lines
    centre = np.concatenate(lines).mean(axis=0)
    a = rng.normal(0.0, 0.035)
    scale = 1.0 + rng.normal(0.0, 0.03)
    m = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    shift = rng.normal(0.0, 0.5 * unit, 2)
    return [(ln - centre) @ m.T + centre + shift for ln in lines]


def draw_sketch(
    scene: Scene, rendered: Render, rig: Rig, style: StrokeStyle | None = None
) -> np.ndarray:
    """Ink map (S, S) uint8 of a hand-drawn sketch of the scene: 0 paper, 255 full ink."""
    size = rendered.depth.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence([scene.seed, 0x5E7C4]))
    style = style or STYLES[int(rng.integers(len(STYLES)))]
    unit = max(1.0, size / 96.0)
    big = size * SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    pen = ImageDraw.Draw(canvas)

    groups: list[list[np.ndarray]] = []
    for k in range(len(scene.objects)):
        lines = _outline_lines(k, rendered)
        if style.creases:
            lines += _crease_lines(scene, k, rig, rendered)
        groups.append(lines)
    if rng.random() < style.horizon:
        groups.append(_horizon_line(rendered))

    for lines in groups:
        lines = _misplace(lines, rng, unit)
        for line in lines:
            closed = len(line) > 4 and bool((line[0] == line[-1]).all())
            smooth = _smooth(line, closed, passes=2 if size <= 96 else 3)
            for _ in range(style.passes):
                ink = int(255 * rng.uniform(*style.ink))
                for stroke in _hand(smooth, closed, style, rng, unit):
                    _draw_stroke(pen, stroke, style, ink, rng, unit)
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8)


def _draw_stroke(
    pen: ImageDraw.ImageDraw,
    stroke: np.ndarray,
    style: StrokeStyle,
    ink: int,
    rng: np.random.Generator,
    unit: float,
) -> None:
    """Draw one stroke on the supersampled canvas with a pressure (width) profile."""
    n = len(stroke)
    if n < 2:
        return
    base = rng.uniform(*style.width) * unit * SUPERSAMPLE
    pressure = 0.55 + 0.45 * np.sin(np.linspace(0.15, math.pi - 0.15, n))
    pts = stroke * SUPERSAMPLE
    chunk = 6
    for i in range(0, n - 1, chunk):
        seg = pts[i : i + chunk + 1]
        width = max(1, round(base * pressure[min(i + chunk // 2, n - 1)]))
        pen.line([tuple(p) for p in seg.tolist()], fill=ink, width=width, joint="curve")
