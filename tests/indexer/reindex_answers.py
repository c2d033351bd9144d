"""What the re-index tests ask a collection: captions, and the model and hits that answer each."""

from __future__ import annotations

from anyseek.search.query import QueryPart, SearchQuery

COLLECTION = "scenes"
CAPTIONS = ("a red cube", "a blue sphere and a green cone", "a yellow torus on the floor")


def query(caption: str) -> SearchQuery:
    """A caption search of :data:`COLLECTION`, top 5."""
    return SearchQuery(COLLECTION, (QueryPart("caption", caption),), k=5)


def answer(searcher, caption: str) -> tuple[str, tuple[tuple[int, float], ...]]:
    """The model that answered and the (id, score) hits."""
    found = searcher.search(query(caption))
    return (
        f"{found.model['name']}@{found.model['version']}",
        tuple((h.id, round(h.score, 6)) for h in found.hits),
    )
