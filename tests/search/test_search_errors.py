"""Every bad search input of issue 15 gives an AnyseekError with a message naming the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scene_gallery import Gallery

from anyseek.errors import AnyseekError, NotFoundError
from anyseek.search.query import CursorError, LikeItem, QueryPart, SearchInputError, SearchQuery
from anyseek.search.searcher import Searcher


@pytest.fixture(scope="module")
def searcher(gallery: Gallery) -> Searcher:
    return Searcher(gallery.model, gallery.store)


def _search(searcher: Searcher, gallery: Gallery, *parts: QueryPart, **options) -> None:
    searcher.search(SearchQuery(gallery.collection, parts, **options))


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def test_a_query_needs_a_modality_or_an_item() -> None:
    with pytest.raises(SearchInputError, match="the query is empty"):
        SearchQuery("scenes")


@pytest.mark.parametrize(
    ("part", "match"),
    [
        (lambda tmp: QueryPart("smell", "roses"), "unknown query modality 'smell'.*caption"),
        (lambda tmp: QueryPart("caption", ""), "caption: the caption is empty"),
        (lambda tmp: QueryPart("caption", "a" * 10_000_000), "caption: .*10,000,000 characters"),
        (lambda tmp: QueryPart("caption", b"\x89PNG"), "caption: the caption is empty"),
        (
            lambda tmp: QueryPart("sketch", _text_file(tmp)),
            "sketch: .*notes.txt: not a readable image",
        ),
        (lambda tmp: QueryPart("image", b"not an image at all"), "image: .*not a readable image"),
        (lambda tmp: QueryPart("image", tmp / "missing.png"), "image: image file not found"),
        (lambda tmp: QueryPart("depth", np.zeros((64, 64, 3))), "depth: .*single-channel"),
        (lambda tmp: QueryPart("depth", np.zeros((64, 64))), "depth: .*no valid pixel"),
        (
            lambda tmp: QueryPart("depth", _png(tmp / "d.png", np.zeros((32, 32), np.uint16))),
            "depth: .*no valid pixel",
        ),
        (
            lambda tmp: QueryPart("semseg", _png(tmp / "s.png", np.full((32, 32), 9, np.uint8))),
            r"semseg: .*class ids 9 outside this model's palette \(ids 0..6",
        ),
        (
            lambda tmp: QueryPart(
                "semseg", _png(tmp / "c.png", np.full((32, 32, 3), (1, 2, 3), np.uint8))
            ),
            r"semseg: .*colours outside this model's palette, e.g. \(1, 2, 3\)",
        ),
        (
            lambda tmp: QueryPart(
                "sketch", _png(tmp / "blank.png", np.full((32, 32), 255, np.uint8))
            ),
            "sketch: the sketch is empty",
        ),
    ],
)
def test_bad_query_values(
    searcher: Searcher, gallery: Gallery, tmp_path: Path, part, match: str
) -> None:
    with pytest.raises(SearchInputError, match=match):
        _search(searcher, gallery, part(tmp_path))


def _text_file(folder: Path) -> Path:
    path = folder / "notes.txt"
    path.write_text("not an image")
    return path


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"k": 0}, SearchInputError, "k must be at least 1"),
        ({"k": -3}, SearchInputError, "k must be at least 1"),
        ({"k": 10**9}, SearchInputError, "k must be at most 1000"),
        ({"k": 2.5}, SearchInputError, "k must be an integer"),
        ({"offset": -1}, SearchInputError, "offset must be 0 or more"),
        ({"offset": 9_999}, SearchInputError, "offset \\+ k must be at most 5000"),
        ({"cursor": "garbage!"}, SearchInputError, "invalid cursor"),
        ({"spaces": {"colour": 1.0}}, NotFoundError, "unknown space 'colour'.*bind"),
        ({"spaces": {"bind": -1.0}}, SearchInputError, "weight of space 'bind' must be positive"),
        ({"fusion": "max"}, SearchInputError, "unknown fusion 'max'"),
        ({"combine": "vote"}, SearchInputError, "unknown combination 'vote'"),
        ({"min_score": float("nan")}, SearchInputError, "min_score must be a finite number"),
    ],
)
def test_bad_options(searcher: Searcher, gallery: Gallery, options: dict, error, match) -> None:
    with pytest.raises(error, match=match):
        _search(searcher, gallery, QueryPart("caption", "a red cube"), **options)


def test_unknown_collection_and_item(searcher: Searcher, gallery: Gallery) -> None:
    with pytest.raises(NotFoundError, match="no collection named 'nowhere'"):
        searcher.search(SearchQuery("nowhere", (QueryPart("caption", "a red cube"),)))
    with pytest.raises(NotFoundError, match="has no item 987654"):
        searcher.search(SearchQuery(gallery.collection, like=(LikeItem(987654),)))
    with pytest.raises(CursorError, match="belongs to collection 'scenes'"):
        first = searcher.search(
            SearchQuery(gallery.collection, (QueryPart("caption", "a red cube"),), k=2)
        )
        searcher.search(
            SearchQuery("other", (QueryPart("caption", "x"),), cursor=first.next_cursor)
        )


def test_bad_weights() -> None:
    with pytest.raises(SearchInputError, match="weight of modality 'sketch' is 0"):
        QueryPart("sketch", "x", 0)
    with pytest.raises(SearchInputError, match="finite number"):
        QueryPart("sketch", "x", float("inf"))
    with pytest.raises(SearchInputError, match="every weight is negative"):
        SearchQuery("scenes", (QueryPart("caption", "a cube", -1.0),))
    with pytest.raises(SearchInputError, match="each modality may be given once"):
        SearchQuery("scenes", (QueryPart("caption", "a"), QueryPart("caption", "b")))
    with pytest.raises(SearchInputError, match="non-negative integers"):
        LikeItem(-4)


def test_every_error_is_an_anyseek_error() -> None:
    assert issubclass(SearchInputError, AnyseekError) and issubclass(NotFoundError, AnyseekError)


def test_query_images_obey_the_one_pixel_limit(gallery: Gallery, tmp_path: Path) -> None:
    """Query files are opened under ANYSEEK_API__MAX_IMAGE_PIXELS, the limit indexing uses."""
    sketch = _png(tmp_path / "big.png", np.full((100, 120), 255, np.uint8))
    sketch_bytes = sketch.read_bytes()
    strict = Searcher(gallery.model, gallery.store, max_query_pixels=10_000)
    for value in (str(sketch), sketch_bytes):
        with pytest.raises(SearchInputError, match=r"sketch: .*0\.012 MP.*at most 0\.01 MP"):
            _search(strict, gallery, QueryPart("sketch", value))
    with pytest.raises(SearchInputError, match="sketch is empty"):  # read, then found blank
        _search(Searcher(gallery.model, gallery.store), gallery, QueryPart("sketch", sketch_bytes))
