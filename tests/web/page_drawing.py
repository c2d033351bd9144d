"""Driving the page like a person: draw a scene's sketch with the mouse, paint its segmentation
with the class brushes, read the results grid, save screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

INK_THRESHOLD = 96  # sketch pixels at least this dark are drawn


def open_page(page, server) -> None:
    """Load the page and wait for its start-up calls (model, collections)."""
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")


def runs(mask: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(row, first column, last column) of every horizontal run of True pixels."""
    for y, row in enumerate(mask):
        padded = np.concatenate([[False], row, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            yield y, int(start), int(stop) - 1


def stroke_runs(page, selector: str, mask: np.ndarray, vertical: bool = False) -> int:
    """Drag the mouse along each horizontal run of a [S, S] mask on the canvas (and each
    vertical run of 2+ pixels when ``vertical``, so upright lines are lines, not dots)."""
    box = page.locator(selector).bounding_box()
    side = mask.shape[0]
    cell = box["width"] / side

    def at(x: int, y: int) -> tuple[float, float]:
        return box["x"] + (x + 0.5) * cell, box["y"] + (y + 0.5) * cell

    count = 0
    for y, x0, x1 in runs(mask):
        page.mouse.move(*at(x0, y))
        page.mouse.down()
        if x1 > x0:
            page.mouse.move(*at(x1, y))
        page.mouse.up()
        count += 1
    if vertical:
        for x, y0, y1 in runs(mask.T):
            if y1 > y0:
                page.mouse.move(*at(x, y0))
                page.mouse.down()
                page.mouse.move(*at(x, y1))
                page.mouse.up()
                count += 1
        # diagonal steps with no straight neighbour between them: joined, so slanted lines are
        # lines rather than staircases of dots
        for dx in (1, -1):
            a = mask[:-1, max(0, -dx) : mask.shape[1] - max(0, dx)]
            b = mask[1:, max(0, dx) : mask.shape[1] - max(0, -dx)]
            side = mask[:-1, max(0, dx) : mask.shape[1] - max(0, -dx)]
            below = mask[1:, max(0, -dx) : mask.shape[1] - max(0, dx)]
            for y, x in zip(*np.nonzero(a & b & ~side & ~below), strict=True):
                x0 = int(x) + max(0, -dx)
                page.mouse.move(*at(x0, int(y)))
                page.mouse.down()
                page.mouse.move(*at(x0 + dx, int(y) + 1))
                page.mouse.up()
                count += 1
    return count


def draw_sketch(page, sketch: np.ndarray, pad: str = "sketch") -> int:
    """Draw a scene's sketch or edges (0 paper .. 255 ink) on a drawing pad with the pen."""
    page.click(f"#part-{pad} [data-pen='4']")
    return stroke_runs(page, f"#{pad}", sketch >= INK_THRESHOLD, vertical=True)


def paint_segmentation(page, semseg: np.ndarray) -> list[int]:
    """Paint every class of a [64, 64] class map (background left unpainted) with its brush."""
    page.click("#part-semseg [data-tool='brush']")
    page.locator("#part-semseg [data-size]").evaluate(
        "(el) => { el.value = 1; el.dispatchEvent(new Event('input')); }"
    )
    classes = [int(c) for c in np.unique(semseg) if c != 0]
    for cls in classes:
        page.click(f"#semseg-classes [data-class='{cls}']")
        stroke_runs(page, "#semseg", semseg == cls)
    return classes


def search(page) -> None:
    """Press Search and wait for its answer to be on the page."""
    before = int(page.evaluate("document.body.dataset.searched || 0"))
    page.click("#search")
    page.wait_for_function(f"Number(document.body.dataset.searched || 0) > {before}")


def result_ids(page) -> list[int]:
    """The item ids of the results grid, best first."""
    return [
        int(x) for x in page.eval_on_selector_all("#grid li", "els => els.map(e => e.dataset.id)")
    ]


def shoot(page, folder: Path, name: str) -> Path:
    """A full-page screenshot of the current state, once its images have loaded."""
    page.wait_for_function("[...document.images].every((img) => img.complete)")
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
