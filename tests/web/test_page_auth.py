"""A server that wants an API key for reads and writes: the page asks for it, keeps it out of
links, and then searches, shows thumbnails and uploads with it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from page_drawing import result_ids, search, shoot
from PIL import Image
from web_server import Server, check_watch, start_server, watched_context, watched_page

KEY = "web-test-key"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, scenes, artefacts: Path) -> Iterator[Server]:
    env = {"ANYSEEK_API__API_KEYS": json.dumps([KEY]), "ANYSEEK_API__AUTH_READS": "true"}
    folder = tmp_path_factory.mktemp("web-keyed")
    yield from start_server(folder, scenes[:6], artefacts / "server-keyed.log", env)


def test_the_page_asks_for_the_key_and_uses_it(browser, keyed_server, artefacts, tmp_path) -> None:
    context, watch = watched_context(
        browser, keyed_server.url, viewport={"width": 1280, "height": 1200}
    )
    page = watched_page(context, watch)
    watch.expected.append("status of 401 (Unauthorized)")  # asked before the key is given
    try:
        page.goto(keyed_server.url)
        page.wait_for_selector("body[data-ready='1']")
        assert page.is_visible("#api-key")  # the key panel opened by itself
        assert "API key" in page.inner_text("#status")
        shoot(page, artefacts, "17-key-asked")

        page.fill("#api-key", KEY)
        page.click("#key-form button")
        page.wait_for_selector("#collection option[value='scenes']", state="attached")
        assert page.inner_text("#collection option:checked") == "scenes (6 items)"

        page.fill("#caption", keyed_server.scenes[1].captions[0])
        search(page)
        assert len(result_ids(page)) == 6
        assert KEY not in page.url  # a shared link carries no secret
        # thumbnails are fetched with the key (an <img src> could not send it)
        page.wait_for_function(
            "[...document.querySelectorAll('#grid img')].every((i) => i.naturalWidth > 0)"
        )

        path = tmp_path / "new.png"
        Image.fromarray(keyed_server.scenes[0].rgb[::-1].copy()).save(path)  # upside down: new
        page.set_input_files("#upload-file", str(path))
        page.wait_for_selector("#jobs li:first-child[data-status]", timeout=60_000)
        shoot(page, artefacts, "18-key-used")
        assert page.get_attribute("#jobs li:first-child", "data-status") == "succeeded"
    finally:
        context.close()
    check_watch(watch)
