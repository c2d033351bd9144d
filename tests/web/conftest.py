"""Browser-test fixtures: a real ``anyseek serve`` over a gallery of generated scenes, system
Chromium driven by Playwright, and a folder for the screenshots of every state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_gallery import COLLECTION, FIRST_SEED, GALLERY_SIZE
from web_server import (
    Server,
    check_watch,
    chromium_path,
    require,
    start_server,
    watched_context,
    watched_page,
)

from anyseek.scenes import SceneSample, generate_scene


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $ANYSEEK_ARTIFACTS/web, else a pytest tmp folder (printed)."""
    root = os.environ.get("ANYSEEK_ARTIFACTS")
    folder = Path(root) / "web" if root else tmp_path_factory.mktemp("web-artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser-test screenshots: {folder}")
    return folder


@pytest.fixture(scope="session")
def scenes() -> list[SceneSample]:
    return [generate_scene(FIRST_SEED + i, 64) for i in range(GALLERY_SIZE)]


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, scenes: list[SceneSample], artefacts: Path
) -> Iterator[Server]:
    """``anyseek serve`` in a subprocess on a free port, over the indexed gallery."""
    yield from start_server(tmp_path_factory.mktemp("web"), scenes, artefacts / "server.log")


@pytest.fixture(scope="session")
def browser():
    """System Chromium under Playwright, headless."""
    executable = chromium_path()
    require(executable is not None, "Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server: Server):
    """A fresh desktop-sized page; it may reach nothing but the server and may raise no error."""
    context, watch = watched_context(browser, server.url, viewport={"width": 1280, "height": 1500})
    page = watched_page(context, watch)
    yield page
    context.close()
    check_watch(watch)


@pytest.fixture
def collection() -> str:
    return COLLECTION
