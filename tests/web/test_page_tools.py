"""The query tools one by one in a real browser: depth files and the near/far brush, undo/redo,
the space selector, the minimum score, paging and the JSON download."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
from page_drawing import draw_sketch, open_page, result_ids, search, shoot
from PIL import Image

from anyseek.scenes.modalities import DEPTH_SCALE

TARGET = 3


def canvas_pixels(page, selector: str) -> np.ndarray:
    """The canvas's RGBA pixels as [H, W, 4] (sent as base64: a JSON list is slow)."""
    text, width = page.locator(selector).evaluate(
        """(c) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let s = ''; for (let i = 0; i < d.length; i += 0x8000) {
                s += String.fromCharCode(...d.subarray(i, i + 0x8000));
            }
            return [btoa(s), c.width];
        }"""
    )
    return np.frombuffer(base64.b64decode(text), np.uint8).reshape(-1, width, 4)


def test_depth_files_preview_and_search(page, server, artefacts: Path, tmp_path) -> None:
    scene = server.scenes[TARGET]
    millimetres = np.round(scene.depth * DEPTH_SCALE).astype(np.uint16)
    png = tmp_path / "depth.png"
    Image.fromarray(millimetres).save(png)  # 16-bit greyscale
    npy = tmp_path / "depth.npy"
    np.save(npy, scene.depth.astype(np.float32))
    open_page(page, server)

    page.set_input_files("#depth-file", str(png))
    page.wait_for_function("document.querySelector('#part-depth > .weight') !== null")
    from_png = canvas_pixels(page, "#depth")
    shoot(page, artefacts, "12-depth-png")
    colours = {tuple(p) for p in from_png.reshape(-1, 4)[:, :3]}
    assert len(colours) > 20  # a false-colour ramp, not a few grey levels
    search(page)
    png_ids = result_ids(page)

    page.set_input_files("#depth-file", str(npy))
    page.wait_for_timeout(100)
    from_npy = canvas_pixels(page, "#depth")
    # the same map either way: the 16-bit PNG kept its precision (mm rounding only)
    assert np.abs(from_png.astype(int) - from_npy.astype(int)).max() <= 8
    search(page)
    assert result_ids(page)[:5] == png_ids[:5]
    assert server.ids[scene.seed] in png_ids[:5], png_ids[:5]

    # the near/far brush paints over the map; undo takes the stroke back
    page.locator("#depth-value").evaluate(
        "(el) => { el.value = 5; el.dispatchEvent(new Event('input')); }"
    )
    box = page.locator("#depth").bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 10, box["y"] + 10, steps=8)
    page.mouse.up()
    shoot(page, artefacts, "13-depth-brush")
    assert not np.array_equal(canvas_pixels(page, "#depth"), from_npy)
    page.click("#part-depth [data-act='undo']")
    assert np.array_equal(canvas_pixels(page, "#depth"), from_npy)


def test_sketch_undo_redo_clear_and_eraser(page, server) -> None:
    open_page(page, server)
    blank = canvas_pixels(page, "#sketch")
    draw_sketch(page, server.scenes[TARGET].sketch)
    drawn = canvas_pixels(page, "#sketch")
    assert (drawn[..., 0] < 128).sum() > 100
    page.click("#part-sketch [data-pen='eraser']")
    box = page.locator("#sketch").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()
    erased = canvas_pixels(page, "#sketch")
    assert (erased[..., 0] < 128).sum() < (drawn[..., 0] < 128).sum()
    page.click("#part-sketch [data-act='undo']")
    assert np.array_equal(canvas_pixels(page, "#sketch"), drawn)
    page.click("#part-sketch [data-act='redo']")
    assert np.array_equal(canvas_pixels(page, "#sketch"), erased)
    page.click("#part-sketch [data-act='clear']")
    assert np.array_equal(canvas_pixels(page, "#sketch"), blank)
    page.keyboard.press("Control+z")  # keyboard undo while the sketch tools have the focus
    assert np.array_equal(canvas_pixels(page, "#sketch"), erased)


def test_spaces_min_score_paging_and_download(page, server, artefacts: Path) -> None:
    scene = server.scenes[TARGET]
    open_page(page, server)
    page.fill("#caption", scene.captions[0])
    assert page.is_checked("#spaces input[value='bind']")  # the model's one space
    page.press("#caption", "Enter")  # Enter in the caption box searches
    page.wait_for_function("Number(document.body.dataset.searched || 0) >= 1")
    assert page.is_visible("#grid li:first-child .score")
    page.uncheck("#show-scores")  # the scores toggle
    assert page.is_hidden("#grid li:first-child .score")
    page.check("#show-scores")
    tip = page.get_attribute("#grid li:first-child button", "title")
    assert "bind #" in tip
    shown = sorted(float(s) for s in page.locator("#grid .score").all_inner_texts())
    step = float(page.get_attribute("#min-score", "step"))  # the slider moves in steps
    floor = round((math.floor(shown[0] / step) + 1) * step, 2)  # the step above the lowest shown
    assert floor <= shown[-1], shown  # ... that the best shown still clears

    page.locator("#min-score").evaluate(
        f"(el) => {{ el.value = {floor}; el.dispatchEvent(new Event('input')); }}"
    )
    search(page)
    shoot(page, artefacts, "14-min-score")
    scores = [float(s) for s in page.locator("#grid .score").all_inner_texts()]
    assert scores and min(scores) >= floor and len(scores) < len(server.scenes)

    page.locator("#min-score").evaluate(
        "(el) => { el.value = 0; el.dispatchEvent(new Event('input')); }"
    )
    search(page)
    assert page.locator("#grid li").count() == 24  # one page of 24
    whole = result_ids(page)

    # 12 per page on a short screen: scrolling down to the end loads the next page
    page.set_viewport_size({"width": 1280, "height": 600})
    page.select_option("#page-size", "12")
    search(page)
    assert len(result_ids(page)) == 12 and page.is_visible("#more")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function("document.querySelectorAll('#grid li').length === 24")
    assert result_ids(page) == whole
    assert page.is_hidden("#more")  # no page after the last
    shoot(page, artefacts, "15-paged")

    with page.expect_download() as download:
        page.click("#download")
    body = json.loads(Path(download.value.path()).read_text())
    assert [h["id"] for h in body["hits"]] == whole
    assert body["collection"] == "scenes" and body["parts"][0]["modality"] == "caption"
    assert body["params"]["k"] == 12 and "#q=" in body["url"]
