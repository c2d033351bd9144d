"""Browser-test fixtures: a real ``anyseek serve`` over a gallery of generated scenes, system
Chromium driven by Playwright, and a folder for the screenshots of every state."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from web_gallery import COLLECTION, FIRST_SEED, GALLERY_SIZE, build_gallery

from anyseek.settings import Settings, load_settings
from model.data import SceneSample, generate_scene

REQUIRE_SERVICES = os.environ.get("ANYSEEK_REQUIRE_SERVICES") == "1"
START_TIMEOUT_S = 120


def require(available: bool, reason: str) -> None:
    """Skip when something external is absent; fail instead when CI demands it (as in
    tests/conftest.py, whose module name this conftest shadows)."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (ANYSEEK_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def chromium_path() -> str | None:
    """Debian's Chromium (Playwright's own browser download cannot work here)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Server:
    """A running ``anyseek serve``: its URL, data directory and the gallery it serves."""

    url: str
    settings: Settings
    scenes: list[SceneSample]
    ids: dict[int, int]  # scene seed -> item id
    log: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def seed_of(self) -> dict[int, int]:
        """item id -> scene seed."""
        return {item: seed for seed, item in self.ids.items()}


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(server: Server) -> None:
    """Until /readyz answers 200 (model loaded, store open), or fail with the server's log."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"anyseek serve did not become ready; its log:\n{server.log.read_text()[-4000:]}")


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
    data_dir = tmp_path_factory.mktemp("web-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    env |= {"ANYSEEK_DATA_DIR": str(data_dir), "ANYSEEK_API__BATCH_WAIT_MS": "1"}
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("ANYSEEK_")}
    try:
        settings = load_settings(data_dir=data_dir)
    finally:
        os.environ.update(saved)
    ids = build_gallery(settings, scenes, tmp_path_factory.mktemp("web-images"))
    port = free_port()
    log = artefacts / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "anyseek", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", settings, scenes, ids, log, process)
    try:
        wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


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


@dataclass
class PageWatch:
    """What a page did that it should not: requests off the server, script errors."""

    offsite: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser, server: Server):
    """A fresh desktop-sized page; it may reach nothing but the server and may log no error."""
    context = browser.new_context(viewport={"width": 1280, "height": 1500}, accept_downloads=True)
    watch = PageWatch()

    def gate(route) -> None:
        if route.request.url.startswith(server.url) or route.request.url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            watch.offsite.append(route.request.url)
            route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    page.on("pageerror", lambda exc: watch.errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            watch.errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.watch = watch
    yield page
    context.close()
    assert not watch.offsite, f"the page reached beyond the server: {watch.offsite}"
    script_errors = [e for e in watch.errors if e.startswith("page error")]
    assert not script_errors, f"the page's script failed: {script_errors}"


@pytest.fixture
def collection() -> str:
    return COLLECTION
