"""Every source path a user can get wrong is a 4xx naming it, and no message carries a memory
address or an internal repr."""

from __future__ import annotations

import base64
import os

import pytest
from api_helpers import COLLECTION, Served

from anyseek.errors import plain

WRONG_SOURCES = [
    "~nosuchuser-anyseek/x",
    "~",
    "/dev/zero",
    "/etc/passwd",
    "/nonexistent/folder",
    "relative/path",
    "{allowed}/missing.png",
    "{allowed}/pipe.png",
    "{allowed}/loop.png",
    "{allowed}/list.txt",
    "{allowed}/empty",
    "{allowed}/../..",
    "{allowed}/caf\\udce9.png",  # JSON escape of a lone surrogate: a non-UTF-8 byte
]


@pytest.fixture(scope="module")
def allowed(guarded: Served):
    root = guarded.settings.indexer.allowed_roots[0]
    root.mkdir(parents=True, exist_ok=True)
    (root / "empty").mkdir(exist_ok=True)
    if not (root / "pipe.png").exists():
        os.mkfifo(root / "pipe.png")
        os.mkfifo(root / "list.txt")
        (root / "loop.png").symlink_to(root / "loop.png")
    return root


@pytest.mark.timeout(120)
@pytest.mark.parametrize("source", WRONG_SOURCES)
def test_every_wrong_source_path_is_a_4xx(guarded: Served, allowed, source: str) -> None:
    path = source.format(allowed=allowed)
    body = '{"collection": "w", "source": "' + path + '"}'  # as sent: JSON escapes kept
    response = guarded.client.post(
        "/v1/jobs", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert " at 0x" not in response.text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("cannot identify image file <_io.BytesIO object at 0x7f12ab34cd50>", "BytesIO"),
        ("bad <PIL.PngImagePlugin.PngImageFile image mode=RGB size=2x2 at 0x7F0A>", "PngImageFile"),
        ("expected <class 'int'>", "expected int"),
    ],
)
def test_plain_drops_addresses_and_reprs(raw: str, shown: str) -> None:
    assert shown in plain(raw)
    assert "0x" not in plain(raw) and "<" not in plain(raw)


def test_undecodable_query_files_answer_without_reprs(guarded: Served) -> None:
    for modality in ("image", "sketch", "semseg", "depth"):
        data = base64.b64encode(b"\x00\x01garbage" * 10).decode()
        response = guarded.client.post(
            f"/v1/collections/{COLLECTION}/search",
            json={"parts": [{"modality": modality, "data": data}]},
        )
        assert response.status_code == 422, response.text
        assert " at 0x" not in response.text and "object>" not in response.text, response.text
