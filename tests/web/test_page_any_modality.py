"""Items of any modality on the page (issue 51): captions uploaded as JSON lines come back as
text hits, depth maps as their colour map; the upload's modality is chosen on the page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from page_drawing import search, shoot
from PIL import Image

from anyseek.scenes import generate_scene
from anyseek.scenes.modalities import MODALITIES

SEEDS = (994_401, 994_402, 994_403)  # scenes the gallery does not hold
DEPTH = next(m for m in MODALITIES if m.name == "depth")


def _drop(page, path: Path, kind: str) -> None:
    """A real drop of one file on the upload zone, then its job's end."""
    transfer = page.evaluate_handle(
        """([bytes, name, kind]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], name, { type: kind }));
            return dt;
        }""",
        [list(path.read_bytes()), path.name, kind],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})  # its row comes first
    page.wait_for_selector("#jobs li:first-child[data-status]", timeout=60_000)
    row = page.locator("#jobs li").first
    assert row.get_attribute("data-status") == "succeeded", row.inner_text()


# the collections sort after the gallery's ("scenes"), which the page opens first for later tests
def test_captions_and_depth_maps_are_shown_in_their_own_form(
    page, server, artefacts: Path, tmp_path
) -> None:
    scenes = [generate_scene(seed, 64) for seed in SEEDS]
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    offered = page.eval_on_selector_all(
        "#upload-modality option:not([hidden])", "els => els.map(e => e.value)"
    )
    assert {"rgb", "depth", "caption"} <= set(offered)  # what the built-in model indexes

    captions = tmp_path / "captions.jsonl"
    lines = [json.dumps({"text": s.captions[0], "key": f"scene {s.seed}"}) for s in scenes]
    captions.write_text("\n".join(lines) + "\n")
    page.fill("#upload-collection", "with-captions")
    page.select_option("#upload-modality", "caption")
    _drop(page, captions, "application/jsonl")
    page.select_option("#collection", "with-captions")
    page.set_input_files("#image-file", str(_png(tmp_path / "photo.png", scenes[1].rgb)))
    page.wait_for_selector("#image-preview:not([hidden])")
    search(page)
    shoot(page, artefacts, "30-captions-as-text-hits")
    first = page.locator("#grid li").first
    assert first.locator("q.caption-hit").inner_text() == scenes[1].captions[0]
    assert first.locator("img").count() == 0  # a caption is text, not a broken thumbnail
    assert first.locator(".kinds").inner_text() == "caption"

    depth = _png(tmp_path / "depth.png", DEPTH.encode(scenes[2]))
    page.fill("#upload-collection", "with-depths")
    page.select_option("#upload-modality", "depth")
    _drop(page, depth, "image/png")
    page.select_option("#collection", "with-depths")
    page.fill("#caption", scenes[2].captions[0])
    search(page)
    shoot(page, artefacts, "31-depth-map-in-its-colour-map")
    tile = page.locator("#grid li img").first
    pixels = np.asarray(Image.open(_thumbnail(page, tile, tmp_path)).convert("RGB"))
    assert pixels.std(axis=(0, 1)).max() > 20 and np.ptp(pixels[..., 0] - pixels[..., 2]) > 50


def _png(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


def _thumbnail(page, tile, tmp_path: Path) -> Path:
    """The tile's picture as the server sends it (a colour map, not grey depth)."""
    url = tile.evaluate("img => img.src")
    data = page.evaluate(
        "async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer()))", url
    )
    path = tmp_path / "thumb.jpg"
    path.write_bytes(bytes(data))
    return path
