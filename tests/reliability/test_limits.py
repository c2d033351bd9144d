"""Limits that hold: a body streamed without Content-Length is cut at the cap, and the image and
thumbnail routes serve only the regular file that was indexed, checked when served."""

from __future__ import annotations

import os
from pathlib import Path

from api_helpers import COLLECTION, Served

from anyseek.api import catalog
from anyseek.api.app import body_limit

SEARCH = f"/v1/collections/{COLLECTION}/search"
MB = 1 << 20


def test_a_streamed_body_without_length_is_cut_at_the_cap(guarded: Served) -> None:
    limit = body_limit(guarded.settings)
    sent = 0

    def chunks():
        nonlocal sent
        block = b"x" * MB
        while sent < limit + 8 * MB:
            sent += len(block)
            yield block

    response = guarded.client.post(
        SEARCH, content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert "ANYSEEK_API__MAX_UPLOAD_MB" in response.json()["detail"]
    assert "content-length" not in {k.lower() for k in response.request.headers}


def test_a_declared_length_over_the_cap_is_refused_before_reading(guarded: Served) -> None:
    limit = body_limit(guarded.settings)
    response = guarded.client.post(
        SEARCH, content=b"{}", headers={"content-length": str(limit + 1)}
    )
    assert response.status_code == 413


def _swap(path: Path, make) -> bytes:
    """Replace ``path`` by what ``make`` creates there; the original bytes, to put back."""
    original = path.read_bytes()
    path.unlink()
    make(path)
    return original


def _restore(path: Path, original: bytes) -> None:
    path.unlink()
    path.write_bytes(original)


def test_the_image_route_serves_only_the_indexed_regular_file(guarded: Served) -> None:
    item_id = guarded.ids[0]
    image = f"/v1/collections/{COLLECTION}/items/{item_id}/image"
    with guarded.database.session() as session:
        path = Path(catalog.get_item(session, COLLECTION, item_id).source_uri)
    assert guarded.client.get(image).status_code == 200
    for make in (
        lambda p: p.symlink_to("/etc/passwd"),
        os.mkfifo,
        lambda p: p.write_bytes(b"other bytes than those indexed"),
    ):
        original = _swap(path, make)
        try:
            response = guarded.client.get(image)
            assert response.status_code == 404, response.text
            assert b"root:" not in response.content
        finally:
            _restore(path, original)
    assert guarded.client.get(image).status_code == 200


def test_the_thumbnail_route_never_follows_a_link(guarded: Served) -> None:
    item_id = guarded.ids[1]
    thumbnail = f"/v1/collections/{COLLECTION}/items/{item_id}/thumbnail"
    path = catalog.thumbnail_path(guarded.settings, COLLECTION, item_id)
    assert guarded.client.get(thumbnail).status_code == 200
    original = _swap(path, lambda p: p.symlink_to("/etc/passwd"))
    try:
        assert guarded.client.get(thumbnail).status_code == 404
    finally:
        _restore(path, original)
