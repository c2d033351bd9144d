"""``anyseek search`` through the real entry point, on scenes indexed with the built-in model."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anyseek.cli import main
from anyseek.db import migrate, repository
from anyseek.db.session import database_for
from anyseek.model.families.registry import load_search_model
from anyseek.scenes import generate_scene
from anyseek.search.stores.faiss_store import FaissStore
from anyseek.settings import StoreSettings, load_settings

SCENES = 12


def _gallery_helpers():
    """tests/search/scene_gallery.py (test folders are not packages)."""
    path = Path(__file__).parents[1] / "search" / "scene_gallery.py"
    spec = importlib.util.spec_from_file_location("scene_gallery_for_cli", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A data directory whose FAISS store holds SCENES scenes in collection ``scenes``."""
    data_dir = tmp_path_factory.mktemp("data")
    scenes = [generate_scene(992_000 + i, 64) for i in range(SCENES)]
    store = FaissStore(StoreSettings(path=str(data_dir / "faiss")))
    _gallery_helpers().index_scenes(load_search_model("builtin"), store, "scenes", scenes)
    store.close()
    database = database_for(load_settings(data_dir=data_dir), create_dirs=True)
    migrate.upgrade(database)  # search reads paging snapshots and filter fields from it
    with database.session() as session:
        repository.create_collection(session, "scenes")
    database.dispose()
    return data_dir, scenes


Cli = Callable[..., tuple[int, str, str]]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli(indexed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Cli:
    for key in list(os.environ):
        if key.startswith("ANYSEEK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(indexed[0]))
    monkeypatch.setenv("ANYSEEK_MODEL__DEVICE", "cpu")
    monkeypatch.setenv("ANYSEEK_API__PORT", str(_closed_port()))  # no one's server: in-process

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_caption_and_sketch_from_the_shell(cli: Cli, indexed, tmp_path: Path) -> None:
    _, scenes = indexed
    sketch = tmp_path / "sketch.png"
    Image.fromarray(255 - scenes[4].sketch).save(sketch)
    code, out, err = cli(
        "search", "--collection", "scenes", "--caption", scenes[4].captions[0],
        "--sketch", str(sketch), "--weight", "sketch=0.5", "--k", "3", "--explain",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["rank", "id", "relevance", "score", "bind", "modalities", "key"]
    assert lines[1].split()[:2] == ["1", "5"]  # scene 4 is item 5
    assert "next page: --cursor" in out and "combined: fusion" in out


def test_json_output_with_filters_and_like(cli: Cli) -> None:
    code, out, err = cli(
        "search", "-c", "scenes", "--like", "3", "--ext", "png", "--max-bytes", "1900",
        "--since", "2023-11-14", "--json",
    )  # fmt: skip
    assert code == 0, err
    results = json.loads(out)
    assert results["hits"] and 3 not in [h["id"] for h in results["hits"]]
    for hit in results["hits"]:
        assert hit["payload"]["ext"] == "png" and hit["payload"]["bytes"] <= 1900
        assert set(hit["spaces"]) == {"bind"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "the query is empty"),
        (("--caption", ""), "the caption is empty"),
        (("--caption", "a cube", "--k", "0"), "k must be at least 1"),
        (("--caption", "a cube", "--weight", "depth=2"), "--weight for depth"),
        (("--caption", "a cube", "--weight", "caption=lots"), "expected NAME=NUMBER"),
        (("--like", "77"), "has no item 77"),
        (("--caption", "a cube", "--space", "colour"), "unknown space 'colour'"),
        (("--caption", "a cube", "--since", "yesterday"), "expected a date"),
        (("--depth", "missing.npy"), "depth file not found"),
    ],
)
def test_bad_input_is_one_error_line(cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    code, _, err = cli("search", "-c", "scenes", *args)
    assert code == 1 and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith("error: ") and fragment in line


def test_unknown_collection(cli: Cli) -> None:
    code, _, err = cli("search", "-c", "nowhere", "--caption", "a red cube")
    assert code == 1 and "no collection named 'nowhere'" in err


def test_depth_npy_query(cli: Cli, indexed, tmp_path: Path) -> None:
    _, scenes = indexed
    path = tmp_path / "depth.npy"
    np.save(path, scenes[2].depth)
    code, out, err = cli("search", "-c", "scenes", "--depth", str(path), "--k", "12")
    assert code == 0, err
    assert "3" in [line.split()[1] for line in out.splitlines()[1:4]]  # scene 2 in the top 3


def test_until_a_date_includes_that_day(cli: Cli) -> None:
    # item i was modified at 1_700_000_000 + i days = 2023-11-14 22:13:20 UTC + i days
    code, out, err = cli(
        "search", "-c", "scenes", "--caption", "a cube", "--until", "2023-11-16", "--json"
    )
    assert code == 0, err
    assert sorted(h["id"] for h in json.loads(out)["hits"]) == [1, 2, 3]  # 14th, 15th, 16th


def test_search_through_a_running_server_answers_the_same(cli: Cli, indexed) -> None:
    """``--server URL`` asks a running API (model loaded there) and prints what the in-process
    search prints; a URL with nothing behind it falls back to searching here, saying so."""
    import uvicorn

    from anyseek.api.app import create_app
    from anyseek.db import migrate
    from anyseek.db.session import database_for
    from anyseek.settings import load_settings

    port = _closed_port()
    settings = load_settings()
    database = database_for(settings, create_dirs=True)
    migrate.upgrade(database)  # the API wants its metadata database
    database.dispose()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.started
        args = ("search", "-c", "scenes", "--caption", indexed[1][3].captions[0], "--k", "5")
        code, remote, err = cli(*args, "--server", f"http://127.0.0.1:{port}")
        assert code == 0 and "no server" not in err, err
        code, local, _ = cli(*args, "--local")
        # the same hits and scores as printed; the next-page cursor embeds the last score to
        # full precision, which differs in the 7th digit (the server's inference thread runs
        # the model on 1 intra-op thread, this process on 2: another summation order)
        assert code == 0 and _no_cursor(remote) == _no_cursor(local) and "relevance" in local
        code, out, _ = cli(*args, "--server", f"http://127.0.0.1:{port}", "--json")
        assert code == 0 and json.loads(out)["timings_ms"]["total"] > 0, out  # kept from the API
        code, _, err = cli(*args, "--server", f"http://127.0.0.1:{_closed_port()}")
        assert code == 0 and "no server at" in err
        url = f"http://127.0.0.1:{port}"
        code, _, err = cli("search", "-c", "nowhere", "--caption", "x", "--server", url)
        assert code == 1 and "no collection named 'nowhere'" in err
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_unknown_caption_words_are_printed_as_warnings(cli: Cli) -> None:
    code, out, err = cli("search", "--collection", "scenes", "--caption", "a teal ball with dots")
    assert code == 0, err
    where, *warnings = err.splitlines()
    assert warnings == ['warning: unknown word "dots"']  # "with" is a word it knows
    assert where.startswith("searched here: no `anyseek serve` serves "), where
    assert out.splitlines()[0].split()[:3] == ["rank", "id", "relevance"]
    code, out, _ = cli("search", "--collection", "scenes", "--caption", "a teal ball", "--json")
    assert json.loads(out)["warnings"] == []


def _no_cursor(output: str) -> str:
    """The printed results without the next page's cursor token."""
    return re.sub(r"--cursor \S+", "--cursor <cursor>", output)
