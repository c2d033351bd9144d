"""Uploading through the page: drop images into a collection and watch their job finish."""

from __future__ import annotations

from pathlib import Path

from page_drawing import result_ids, search, shoot
from PIL import Image

from anyseek.scenes import generate_scene

NEW_SEED = 994_321  # a scene the gallery does not hold


def test_dropped_images_are_indexed_and_found(page, server, artefacts: Path, tmp_path) -> None:
    scene = generate_scene(NEW_SEED, 64)
    path = tmp_path / f"scene{NEW_SEED}.png"
    Image.fromarray(scene.rgb).save(path)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    page.fill("#upload-collection", "uploads")  # a new collection, made by the upload

    # a real drop: a DataTransfer holding the file, dispatched on the drop zone
    data = path.read_bytes()
    transfer = page.evaluate_handle(
        """([bytes, name]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], name, { type: "image/png" }));
            return dt;
        }""",
        [list(data), path.name],
    )
    page.dispatch_event("#drop", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("#jobs li:first-child[data-job]")  # the upload's job, newest first
    shoot(page, artefacts, "09-upload-running")
    page.wait_for_selector("#jobs li:first-child[data-status]", timeout=60_000)
    shoot(page, artefacts, "10-upload-done")
    row = page.locator("#jobs li").first
    assert row.get_attribute("data-status") == "succeeded", row.inner_text()
    assert page.locator("#jobs li progress").first.evaluate("p => p.value") == 1
    page.wait_for_selector("#collection option[value='uploads']", state="attached")
    assert page.inner_text("#collection option[value='uploads']") == "uploads (1 item)"
    page.select_option("#collection", "uploads")

    # the new image is searchable at once: its own picture finds it first
    page.set_input_files("#image-file", str(path))
    page.wait_for_selector("#image-preview:not([hidden])")
    search(page)
    shoot(page, artefacts, "11-upload-found")
    top = page.locator("#grid li img").first.get_attribute("alt")
    assert top == path.name, (top, result_ids(page)[:3])


def test_a_drop_whose_every_file_fails_shows_a_failed_job(page, server, tmp_path) -> None:
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    page.fill("#upload-collection", "unreadable")
    transfer = page.evaluate_handle(
        """() => {
            const dt = new DataTransfer();
            const bytes = new Uint8Array([1, 2, 3, 4]);
            dt.items.add(new File([bytes], "broken.png", { type: "image/png" }));
            return dt;
        }"""
    )
    page.dispatch_event("#drop", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("#jobs li:first-child[data-status]", timeout=60_000)
    row = page.locator("#jobs li").first
    assert row.get_attribute("data-status") == "failed", row.inner_text()
    assert row.inner_text().count("failed: 0 indexed, 1 failed") == 1, row.inner_text()
