"""Where and how large a person draws things, and on what shape of page, varied on the fly.

A person held out of training misplaces and resizes each object on its own and draws on a page
of another shape (``lab/results/held_out_knobs.md``: where things are drawn is the largest single
habit, then the page's shape and proportions). Moving the whole drawing teaches none of it
(``lab/results/levers_shift.md``) and a smooth field bending it apart barely more
(``levers_presence.md``'s ``warp``). Here each *object* of a rendered drawing moves and resizes by
itself: its pixels are found as a connected piece (a sketch's strokes near each other, a
painting's blob of one class) and drawn again elsewhere over a blank page, and a page of another
shape squeezes the whole drawing along one side, as a square reader sees a tall or wide page.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

FLOOR_CLASSES = 2  # a painting's classes below this (unpainted, floor) are its background
NEAR = np.ones((3, 3), dtype=bool)  # 8-connected: a stroke's diagonal steps stay one piece


def pieces(mask: np.ndarray, reach: int = 1) -> tuple[np.ndarray, int]:
    """[S, S] bool -> its connected pieces' labels [S, S] (0: none) and their count; pixels
    within ``reach`` of each other count as one piece (a broken stroke of one outline)."""
    grown = ndimage.binary_dilation(mask, NEAR, iterations=reach) if reach else mask
    labels, count = ndimage.label(grown, NEAR)
    return np.where(mask, labels, 0), count


def placed(
    values: torch.Tensor, shift: float, size: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each piece [P, S, S] (its value where it is, 0 elsewhere) moved by a normal shift (std
    ``shift`` of the page per axis) and resized about its own centre by exp(normal(0, ``size``))."""
    p, s, _ = values.shape
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
    there = (values != 0).float()
    weight = there.sum((1, 2)).clamp_min(1)
    cx = (there * xs).sum((1, 2)) / weight  # [P] centres, in grid units (-1..1)
    cy = (there * ys).sum((1, 2)) / weight
    scale = torch.exp(torch.randn(p, generator=generator) * size)
    move = torch.randn(p, 2, generator=generator) * (2 * shift)  # the grid spans 2
    # output point o samples source c + (o - c - move) / scale
    theta = torch.zeros(p, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, 0, 2] = cx - (cx + move[:, 0]) / scale
    theta[:, 1, 2] = cy - (cy + move[:, 1]) / scale
    grid = F.affine_grid(theta, [p, 1, s, s], align_corners=True)
    out = F.grid_sample(values[:, None].float(), grid, mode="nearest", align_corners=True)
    return out[:, 0]


def objects_moved(
    x: torch.Tensor,
    name: str,
    shift: float,
    size: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Drawings [B, 1, S, S] (a sketch: ink > 0) or paintings [B, S, S] (class ids) with each
    object moved and resized by itself (:func:`placed`), later pieces drawn over earlier ones."""
    sketch = name == "sketch"
    drawn = (x[:, 0] if sketch else x).numpy()
    each: list[np.ndarray] = []
    owner: list[int] = []
    backgrounds: list[int] = []  # per row, paintings only
    for row, classes in enumerate(drawn):
        objects = classes > 0 if sketch else classes >= FLOOR_CLASSES
        labels, count = pieces(objects, reach=1 if sketch else 0)
        if not sketch:  # what the painting shows where no object is (unpainted or floor)
            rest = classes[~objects].ravel().astype(np.int64)
            backgrounds.append(int(np.bincount(rest, minlength=FLOOR_CLASSES).argmax()))
        value = np.ones_like(classes, dtype=np.float32) if sketch else classes.astype(np.float32)
        for k in range(1, count + 1):
            each.append(np.where(labels == k, value, 0.0))
            owner.append(row)
    if not each:
        return x.clone()
    moved = placed(torch.from_numpy(np.stack(each)), shift, size, generator)  # [P, S, S]
    if sketch:
        ink = torch.zeros(drawn.shape, dtype=torch.bool).index_put_(
            (torch.tensor(owner),), moved > 0, accumulate=True
        )
        out = x.clone()
        moved_rows = sorted(set(owner))
        out[moved_rows, 0] = torch.where(ink[moved_rows], 1.0, -1.0).to(x.dtype)
        return out
    # the page as painted, each object's place filled with what surrounds objects most
    under = torch.tensor([backgrounds[row] for row in range(len(x))], dtype=x.dtype)
    painted = torch.where(x >= FLOOR_CLASSES, under[:, None, None], x)
    untouched = [row for row in range(len(x)) if row not in set(owner)]
    painted[untouched] = x[untouched]
    for row, piece in zip(owner, moved, strict=True):  # later pieces over earlier ones
        painted[row] = torch.where(piece > 0, piece.to(x.dtype), painted[row])
    return painted


def page_shaped(
    x: torch.Tensor, aspect: tuple[float, float], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Maps [B, C, S, S] squeezed along one side as if drawn on a page of width / height drawn
    log-uniformly from ``aspect`` and read into a square: a tall page narrows the drawing, a
    wide one flattens it (the edges' values fill what is left, as paper would)."""
    b = x.shape[0]
    low, high = math.log(aspect[0]), math.log(aspect[1])
    ratio = torch.exp(torch.rand(b, generator=generator) * (high - low) + low)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = 1 / ratio.clamp(max=1.0)  # a tall page (ratio < 1): narrower
    theta[:, 1, 1] = ratio.clamp(min=1.0)  # a wide page (ratio > 1): flatter
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="border", align_corners=False)
