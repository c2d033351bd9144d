"""Sources and bad input: allowed roots, symlinks, lists, URLs, uploads, phone formats."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from indexing_images import encoded, scene_png, write_good_images
from PIL import Image

from anyseek.cli import main
from anyseek.db.migrate import open_database
from anyseek.db.models import IndexJob
from anyseek.indexer import Upload, index_uploads, run_index
from anyseek.indexer.errors import SourceError
from anyseek.indexer.sources import expand_source
from anyseek.search.stores import open_store


def with_indexer(settings, **changes):
    """A copy of ``settings`` with indexer fields changed."""
    return settings.model_copy(update={"indexer": settings.indexer.model_copy(update=changes)})


def job_count(settings) -> int:
    """How many jobs the database holds (bad input must leave none behind)."""
    database = open_database(settings)
    try:
        with database.session() as session:
            return session.query(IndexJob).count()
    finally:
        database.dispose()


def test_bad_sources_are_refused_with_one_line_and_write_nothing(
    ready_settings, search_model, tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    write_good_images(allowed, count=1)
    (tmp_path / "empty").mkdir()
    settings = with_indexer(ready_settings, allowed_roots=[allowed, tmp_path / "empty"])
    cases = {
        tmp_path: "outside the allowed roots",
        allowed / "missing": "does not exist",
        tmp_path / "empty": "no images in",
        f"{allowed}/a\x00b.png": "is not a usable path",  # a NUL byte (found by API fuzzing)
    }
    for source, message in cases.items():
        with pytest.raises(SourceError, match=message):
            run_index(settings, "c", source, model=search_model)
    assert job_count(settings) == 0


def test_symlinks_never_lead_out_of_the_root(ready_settings, tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write_good_images(root, count=1)
    secret = write_good_images(outside, count=1, first_seed=7)[0]
    (root / "link.png").symlink_to(secret)
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "inside.png").symlink_to(root / "scene0.png")

    refs = expand_source(ready_settings.indexer, root)

    assert sorted(ref.path for ref in refs) == ["inside.png", "scene0.png"]


def test_include_and_exclude_globs(ready_settings, tmp_path: Path) -> None:
    write_good_images(tmp_path, count=4)
    (tmp_path / "README.txt").write_text("not an image")
    settings = with_indexer(ready_settings, exclude=["sub/*"])

    refs = expand_source(settings.indexer, tmp_path)

    assert [ref.path for ref in refs] == ["scene0.png", "scene2.png"]


class _Images(http.server.BaseHTTPRequestHandler):
    """Serves a PNG, an HTML page, a huge body and a slow response."""

    def do_GET(self) -> None:
        kinds = {
            "/scene.png": ("image/png", scene_png(3), 0),
            "/page.png": ("text/html", b"<html>login</html>", 0),
            "/huge.png": ("image/png", b"\0" * (3 << 20), 0),
            "/slow.png": ("image/png", scene_png(4), 3),
        }
        kind, body, delay = kinds.get(self.path, ("text/plain", b"", 0))
        time.sleep(delay)
        self.send_response(200 if self.path in kinds else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def image_server() -> Iterator[str]:
    """Base URL of a local HTTP server with good and bad images."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_csv_list_of_urls_and_paths(
    ready_settings, search_model, tmp_path: Path, image_server: str
) -> None:
    local = write_good_images(tmp_path / "photos", count=1)[0]
    listing = tmp_path / "list.csv"
    urls = [f"{image_server}/{name}" for name in ("scene.png", "page.png", "huge.png", "slow.png")]
    urls.append(f"{image_server}/missing.png")
    listing.write_text(
        "path,caption\n" + "\n".join(f"{u},x" for u in urls) + "\nphotos/scene0.png,y\n"
    )
    settings = with_indexer(ready_settings, url_timeout_s=1.0, url_max_mb=1.0)

    report = run_index(settings, "web", listing, model=search_model)

    assert (report.total, report.done, report.failed) == (6, 2, 4)
    reasons = {uri.rsplit("/", 1)[-1]: reason for uri, reason in report.failures}
    assert "content-type 'text/html'" in reasons["page.png"]
    assert "larger than 1.0 MB" in reasons["huge.png"]
    assert "timed out after 1 s" in reasons["slow.png"]
    assert "HTTP 404" in reasons["missing.png"]
    assert local.exists()


def test_uploads_are_indexed_under_their_file_names(
    ready_settings, search_model, tmp_path: Path
) -> None:
    uploads = [Upload("holiday/../beach.png", scene_png(11)), Upload("b c.png", scene_png(12))]
    settings = with_indexer(ready_settings, allowed_roots=[tmp_path / "elsewhere"])

    report = index_uploads(settings, "uploads", uploads, model=search_model)
    again = index_uploads(settings, "uploads", uploads[:1], model=search_model)

    assert (report.done, report.failed, again.done, again.skipped) == (2, 0, 0, 1)
    assert not list((settings.data_dir / "uploads").rglob("*.tmp"))
    with open_store(settings) as store:
        payloads = [item.payload for item in store.retrieve("uploads", [1, 2], False)]
    assert [(p["path"], p["folder"], p["mtime"]) for p in payloads] == [
        ("beach.png", "", 0),
        ("b_c.png", "", 0),
    ]


def test_a_file_given_twice_is_indexed_once(ready_settings, search_model, tmp_path: Path) -> None:
    """The same broken file uploaded twice in one request (found by API fuzzing) is one failure,
    and the same good path listed twice is one item."""
    broken = Upload("broken.png", b"not an image at all")
    report = index_uploads(ready_settings, "twice", [broken, broken], model=search_model)
    assert (report.total, report.failed, report.done) == (1, 1, 0)
    [good] = write_good_images(tmp_path / "good", count=1)
    listed = run_index(ready_settings, "twice", [good, good], model=search_model)
    assert (listed.total, listed.done) == (1, 1)


def test_phone_formats_heic_and_avif(ready_settings, search_model, tmp_path: Path) -> None:
    image = Image.fromarray(np.full((40, 60, 3), 120, dtype=np.uint8))
    (tmp_path / "phone.heic").write_bytes(encoded(image, "HEIF"))
    (tmp_path / "phone.avif").write_bytes(encoded(image.rotate(90, expand=True), "AVIF"))

    report = run_index(ready_settings, "phone", tmp_path, model=search_model)

    assert (report.done, report.failed) == (2, 0), report.failures


def test_cli_prints_one_line_errors(ready_settings, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ANYSEEK_DATA_DIR", str(ready_settings.data_dir))
    cases = {
        ("index", str(tmp_path / "nope"), "-c", "x"): "does not exist",
        ("index", str(tmp_path), "-c", "x", "--workers"): "needs a broker",
        ("jobs", "show", "42"): "no index job 42",
        ("jobs", "list", "-c", "unknown"): "no collection named 'unknown'",
    }
    for argv, message in cases.items():
        assert main(list(argv)) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
    monkeypatch.setenv("ANYSEEK_BROKER_URL", "redis://127.0.0.1:1/0")
    write_good_images(tmp_path, count=1)
    assert main(["index", str(tmp_path), "-c", "x", "--workers"]) == 1
    assert "cannot reach the broker" in capsys.readouterr().err
    assert job_count(ready_settings) == 0


def test_one_pixel_limit_for_queries_and_indexing(ready_settings, search_model, tmp_path) -> None:
    from anyseek.model.transforms.base import MAX_PIXELS

    assert ready_settings.api.max_image_pixels == MAX_PIXELS
    (tmp_path / "big.png").write_bytes(encoded(Image.new("1", (3_000, 2_000)), "PNG"))
    settings = ready_settings.model_copy(
        update={"api": ready_settings.api.model_copy(update={"max_image_pixels": 5_000_000})}
    )

    report = run_index(settings, "limit", tmp_path, model=search_model)

    assert report.failed == 1 and "above the limit of 5 MP" in report.failures[0][1]
