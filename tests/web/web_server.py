"""Running the page's server and watching its browser pages, for the browser tests: a real
``anyseek serve`` subprocess over an indexed gallery, browser contexts that may reach nothing but
that server."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from server_process import ONE_PROCESS, stop
from server_process import wait_ready as wait_until_ready
from web_gallery import build_gallery

from anyseek.scenes import SceneSample
from anyseek.settings import Settings, load_settings

START_TIMEOUT_S = 120


def _shared_require():
    """``require`` of tests/conftest.py, loaded by path: a plain ``from conftest import`` would
    get whichever conftest module pytest imported last."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("anyseek_tests_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.require


require = _shared_require()


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
    if wait_until_ready(server.url, server.process, START_TIMEOUT_S):
        return
    pytest.fail(f"anyseek serve did not become ready; its log:\n{server.log.read_text()[-4000:]}")


def start_server(
    folder: Path, scenes: list[SceneSample], log: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Index the scenes into a fresh data directory under ``folder``, then run ``anyseek serve``
    on it in a subprocess on a free port (``env``: extra ANYSEEK_* settings) until closed."""
    data_dir = folder / "data"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
    clean |= {"ANYSEEK_DATA_DIR": str(data_dir), "ANYSEEK_API__BATCH_WAIT_MS": "1", **ONE_PROCESS}
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("ANYSEEK_")}
    os.environ.update(env or {})  # the server's settings (e.g. its model) index the gallery too
    try:
        settings = load_settings(data_dir=data_dir)
    finally:
        for key in env or {}:
            os.environ.pop(key, None)
        os.environ.update(saved)
    ids = build_gallery(settings, scenes, folder / "images")
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "anyseek.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=clean | (env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", settings, scenes, ids, log, process)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(process, timeout=15)


@dataclass
class PageWatch:
    """What a page did that it should not: requests off the server, script errors."""

    offsite: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # error texts a test provokes on purpose


def watched_context(browser, origin: str, **options):
    """A browser context that may reach nothing but ``origin``; returns (context, watch)."""
    context = browser.new_context(accept_downloads=True, **options)
    watch = PageWatch()

    def gate(route) -> None:
        url = route.request.url
        if url.startswith((origin, "data:", "blob:")):
            route.continue_()
        else:
            watch.offsite.append(url)
            route.abort()

    context.route("**/*", gate)
    return context, watch


def watched_page(context, watch: PageWatch):
    """A page of the context whose script and console errors land in ``watch``."""
    page = context.new_page()
    page.on("pageerror", lambda exc: watch.errors.append(f"page error: {exc}"))
    # console errors too: a failed request (a 404 preview) is logged as one
    page.on(
        "console",
        lambda msg: (
            watch.errors.append(f"console error: {msg.text} ({msg.location.get('url')})")
            if msg.type == "error"
            else None
        ),
    )
    page.watch = watch
    return page


def check_watch(watch: PageWatch) -> None:
    """Nothing fetched beyond the server, no script error, no console error."""
    assert not watch.offsite, f"the page reached beyond the server: {watch.offsite}"
    errors = [e for e in watch.errors if not any(x in e for x in watch.expected)]
    assert not errors, f"the page logged errors: {errors}"
