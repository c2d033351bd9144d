"""The cursor stage: which page a query asks for, which ranked candidates it may show, and the
cursor of the next page (the cursor's format and signature are ``anyseek.search.cursor``'s)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anyseek.search.cursor import MAX_TIED, SCORE_TOLERANCE, PageCursor, decode_cursor, fingerprint
from anyseek.search.query import SearchHitResult, SearchInputError, SearchQuery
from anyseek.settings import SearchSettings


def cursor_key(settings: SearchSettings) -> bytes:
    """The key cursors are signed with."""
    return settings.cursor_key.get_secret_value().encode()


def window(query: SearchQuery, settings: SearchSettings) -> tuple[int, PageCursor | None]:
    """Hits served before the page (the offset, or the cursor's count) and the decoded cursor,
    within the settings' limits: the one check of ``k``, ``offset`` and ``cursor`` for the API
    and the CLI (the OpenAPI document shows the limits)."""
    if query.k > settings.max_k:
        raise SearchInputError(
            f"k must be at most {settings.max_k} (ANYSEEK_SEARCH__MAX_K), got {query.k}; "
            "page with a cursor",
            "k",
        )
    cursor = decode_cursor(query.cursor, query, cursor_key(settings)) if query.cursor else None
    offset = cursor.served if cursor else query.offset
    if offset + query.k > settings.max_window:
        raise SearchInputError(
            f"offset + k must be at most {settings.max_window} "
            f"(ANYSEEK_SEARCH__MAX_WINDOW), got {offset + query.k}: narrow the query with a "
            "filter instead of paging this deep",
            "cursor" if query.cursor else "offset",
        )
    return offset, cursor


def first_page(query: SearchQuery, watermark: int | None, offset: int) -> PageCursor:
    """The cursor a first page (no cursor given) is served under: bound to the query and to the
    collection's snapshot, ``offset`` hits already served."""
    return PageCursor(query.collection, fingerprint(query), watermark, offset, 0.0, ())


def after(
    order: np.ndarray, ids: np.ndarray, fused: np.ndarray, cursor: PageCursor | None, keyed: bool
) -> np.ndarray:
    """The ranked candidate positions a page may show: within the snapshot's watermark and, for a
    page after a cursor, after its key (scores below the last served one, ties not yet served)."""
    if cursor is None:
        return order
    keep = np.ones(len(order), dtype=bool)
    if cursor.watermark is not None:
        keep &= ids[order] <= cursor.watermark
    if keyed:
        keep &= fused[order] < cursor.score + SCORE_TOLERANCE
        if cursor.tied:
            keep &= ~np.isin(ids[order], np.array(cursor.tied, dtype=np.int64))
    return order[keep]


def next_cursor(cursor: PageCursor, hits: Sequence[SearchHitResult], served: int) -> PageCursor:
    """The cursor after a page: keyed by its last hit's score, carrying the ids served at (about)
    that score, from this page and, when the score barely moved, from the previous ones."""
    score = hits[-1].score
    tied = [h.id for h in hits if abs(h.score - score) <= SCORE_TOLERANCE]
    if cursor.served and abs(cursor.score - score) <= SCORE_TOLERANCE:
        tied = list(cursor.tied) + tied
    return PageCursor(
        cursor.collection,
        cursor.query,
        cursor.watermark,
        served,
        score,
        tuple(dict.fromkeys(tied))[-MAX_TIED:],
    )
