"""Stable paging over both stores: a cursor is bound to its query and to a snapshot of the
collection; items added or deleted between pages cause no duplicate and no gap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scene_gallery import Gallery

from anyseek.search.cursor import PageCursor, encode_cursor
from anyseek.search.query import CursorError, QueryPart, SearchQuery
from anyseek.search.searcher import Searcher
from anyseek.search.stores import VectorStore, backend_class
from anyseek.settings import SearchSettings, StoreSettings

COPY = "paging"


@pytest.fixture(params=["faiss", "qdrant"])
def copied(request: pytest.FixtureRequest, gallery: Gallery, tmp_path: Path) -> Iterator[tuple]:
    """The gallery's items copied into a fresh collection of each store backend, with a searcher
    whose snapshot is the newest id present (what the database gives in the service)."""
    backend = request.param
    path = ":memory:" if backend == "qdrant" else str(tmp_path / backend)
    store: VectorStore = backend_class(backend)(
        StoreSettings(backend=backend, path=path, exact_threshold=100_000)
    )
    store.ensure_collection(COPY, gallery.store.spaces(gallery.collection))
    items = gallery.store.retrieve(gallery.collection, gallery.ids, with_vectors=True)
    vectors = {s.name: np.stack([i.vectors[s.name] for i in items]) for s in store.spaces(COPY)}
    store.upsert(COPY, [i.id for i in items], vectors, [i.payload for i in items])
    present = set(gallery.ids)
    searcher = Searcher(gallery.model, store, snapshot=lambda _: max(present))
    yield searcher, store, present
    store.close()


def _query(cursor: str | None = None, k: int = 7, caption: str = "a red cube") -> SearchQuery:
    return SearchQuery(COPY, (QueryPart("caption", caption),), k=k, cursor=cursor)


def _walk(searcher: Searcher, k: int, between=None) -> list[int]:
    """Every id, page after page; ``between(page_number)`` changes the collection between pages."""
    seen, cursor, page = [], None, 0
    while True:
        results = searcher.search(_query(cursor, k))
        seen += results.ids
        cursor, page = results.next_cursor, page + 1
        if cursor is None:
            return seen
        if between is not None:
            between(page)


def test_pages_walk_the_whole_ranking_once(copied: tuple) -> None:
    searcher, _, present = copied
    whole = searcher.search(_query(k=len(present))).ids
    assert _walk(searcher, 7) == whole and sorted(whole) == sorted(present)


def test_uploads_and_deletions_between_pages_cause_no_duplicate_and_no_gap(
    copied: tuple, gallery: Gallery
) -> None:
    """Upload near copies of top items (they would rank on every page) and delete items both
    already served and not yet served, between every two pages."""
    searcher, store, present = copied
    before = searcher.search(_query(k=len(present))).ids
    deleted: list[int] = []
    rng = np.random.default_rng(0)
    next_id = max(present) + 1

    def change(page: int) -> None:
        nonlocal next_id
        shown = before[: 7 * page]
        ahead = before[7 * page + 3]
        for gone in (shown[page - 1], ahead):  # one already served, one still to come
            store.delete(COPY, [gone])
            present.discard(gone)
            deleted.append(gone)
        [source] = store.retrieve(COPY, [before[7 * page]], with_vectors=True)  # next page's top
        jitter = {s: v + 0.01 * rng.normal(size=v.shape) for s, v in source.vectors.items()}
        store.upsert(COPY, [next_id], {s: v[None] for s, v in jitter.items()}, [source.payload])
        present.add(next_id)
        next_id += 1

    walked = _walk(searcher, 7, change)
    assert len(walked) == len(set(walked)), "an item appeared on two pages"
    assert all(i < min(gallery.ids) + len(gallery.ids) for i in walked), "a new item leaked in"
    served_before_deletion = set(deleted)
    missing = [i for i in before if i not in walked and i not in served_before_deletion]
    assert not missing, f"items skipped: {missing}"
    assert [i for i in before if i in walked] == walked  # the original order, minus deletions


def test_another_querys_or_a_forged_cursor_is_refused(copied: tuple) -> None:
    searcher, _, _ = copied
    first = searcher.search(_query(k=5))
    assert first.next_cursor is not None
    with pytest.raises(CursorError, match="another query"):
        searcher.search(_query(first.next_cursor, caption="a blue sphere"))
    other_k = searcher.search(_query(first.next_cursor, k=3))  # the page size may change
    assert not set(other_k.ids) & set(first.ids)
    forged = PageCursor(COPY, "x" * 24, None, 5, 0.0, ())
    with pytest.raises(CursorError, match="another query"):
        searcher.search(_query(encode_cursor(forged, b"anyseek-cursor")))
    tampered = first.next_cursor[:-3] + ("AAA" if not first.next_cursor.endswith("AAA") else "BBB")
    with pytest.raises(CursorError, match="invalid cursor"):
        searcher.search(_query(tampered))
    keyed = Searcher(searcher.model, searcher.store, SearchSettings(cursor_key="another"))
    with pytest.raises(CursorError, match="invalid cursor"):  # signed with another server's key
        keyed.search(_query(first.next_cursor))
