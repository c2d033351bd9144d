"""Stable paging: a signed cursor bound to its query and to a snapshot of the collection.

A cursor carries what the next page needs and nothing the client may change unnoticed (it is
HMAC-signed with ``ANYSEEK_SEARCH__CURSOR_KEY``):

- the query's *fingerprint* (a hash of everything that orders or filters the results: parts,
  liked items, spaces, filter, minimum score, fusion, combination), so another query's cursor is
  refused;
- the collection's *watermark*, the newest item id when the first page was asked: items indexed
  later are left out of every following page (ids only grow), so uploads between pages add nothing;
- the *key* of the last hit served (its fused score) with the ids served at that score, so the next
  page starts strictly after it (keyset paging): an item deleted between pages shifts nothing, and
  an item's score recomputed a hair differently (another model batch) never repeats it;
- how many hits were served, which sizes the candidate window and the ``MAX_WINDOW`` limit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from anyseek.search.query import CursorError, SearchQuery

CURSOR_VERSION = 2
SCORE_TOLERANCE = 1e-4
"""Fused scores closer than this to the last served one count as ties: served ties are carried by
id and never repeated, unserved ones still come (a query re-embedded in another batch can move a
score by ~1e-6)."""
MAX_TIED = 64  # ids carried at the boundary score; more ties than this repeat at worst


@dataclass(frozen=True)
class PageCursor:
    """Where the next page starts: after ``score`` (minus ``tied`` ids), within ``watermark``."""

    collection: str
    query: str  # fingerprint of the query, see :func:`fingerprint`
    watermark: int | None  # newest item id of the snapshot; None: the store gave none
    served: int  # hits served before the next page
    score: float  # fused score of the last hit served
    tied: tuple[int, ...]  # ids served with a score within SCORE_TOLERANCE of ``score``


def _canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of a query value (bytes and images hashed)."""
    if isinstance(value, bytes | bytearray):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if isinstance(value, Path):
        return f"path:{value}"
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_canonical(v) for v in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    tobytes = getattr(value, "tobytes", None)  # numpy arrays and PIL images
    if callable(tobytes):
        return "sha256:" + hashlib.sha256(tobytes()).hexdigest()
    return repr(value)


def fingerprint(query: SearchQuery) -> str:
    """A short hash of what defines a query's ranking (not its page size or position)."""
    described = {
        "collection": query.collection,
        "parts": [(p.modality, _canonical(p.value), p.weight) for p in query.parts],
        "like": [(i.id, i.weight) for i in query.like],
        "spaces": _canonical(dict(query.spaces) if query.spaces is not None else None),
        "min_score": query.min_score,
        "min_relevance": query.min_relevance,
        "filter": _canonical(asdict(query.filter) if query.filter is not None else None),
        "fusion": query.fusion,
        "combine": query.combine,
    }
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _sign(key: bytes, body: bytes) -> bytes:
    """The cursor's signature (16 bytes of HMAC-SHA256)."""
    return hmac.new(key, body, hashlib.sha256).digest()[:16]


def encode_cursor(cursor: PageCursor, key: bytes) -> str:
    """The opaque, signed text of a cursor."""
    body = json.dumps(
        [
            CURSOR_VERSION,
            cursor.collection,
            cursor.query,
            cursor.watermark,
            cursor.served,
            cursor.score,
            list(cursor.tied),
        ],
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(_sign(key, body) + body).decode().rstrip("=")


def decode_cursor(text: str, query: SearchQuery, key: bytes) -> PageCursor:
    """The cursor a text stands for, refused (``CursorError``, a 400) when it is garbled, forged,
    of another collection or of another query."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        signature, body = raw[:16], raw[16:]
        if not hmac.compare_digest(signature, _sign(key, body)):
            raise ValueError("bad signature")
        version, collection, owner, watermark, served, score, tied = json.loads(body)
        if version != CURSOR_VERSION:
            raise ValueError("old version")
        cursor = PageCursor(
            str(collection),
            str(owner),
            None if watermark is None else int(watermark),
            int(served),
            float(score),
            tuple(int(i) for i in tied),
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise CursorError(
            f"invalid cursor {text[:40]!r}: pass next_cursor exactly as a previous page gave it"
        ) from None
    if cursor.collection != query.collection:
        raise CursorError(
            f"the cursor belongs to collection {cursor.collection!r}, not {query.collection!r}"
        )
    if cursor.query != fingerprint(query):
        raise CursorError(
            "the cursor belongs to another query: page with the same parts, items, spaces, "
            "filter and options as the first page, or start again without a cursor"
        )
    return cursor
