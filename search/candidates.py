"""Fusion across spaces over a real store: gather each space's top candidates, score their union in
every space, and fuse.

``model.runtime.fusion.fuse`` needs dense [Q, N] similarities, which only evaluation has. A store
answers top-k per space, and an item near the top in one space may be outside the top k' of
another, so the union of every space's candidates is scored in every space from the stored vectors
(``retrieve``), and then fused: by the query's information per space (``information``, the
default, as evaluation measures) or by weighted reciprocal ranks (``rrf``). Adding a fusion
method is one entry in :data:`FUSIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from search.stores.base import Filter, Payload, VectorStore

MISSING_SCORE = -1.0  # an item without a vector in a space scores the lowest cosine there


@dataclass(frozen=True)
class SpaceQuery:
    """One space's query vector (unit length) and its fusion weight."""

    name: str
    vector: np.ndarray
    weight: float  # fusion weight, summing to 1 over the spaces


@dataclass(frozen=True)
class Candidates:
    """The union of every space's candidates, scored and ranked in every space."""

    ids: np.ndarray  # [M] int64, ascending
    scores: dict[str, np.ndarray]  # space -> [M] cosine
    ranks: dict[str, np.ndarray]  # space -> [M] 1-based rank among the union
    found: dict[str, int]  # space -> how many candidates the store gave


def gather(
    store: VectorStore,
    collection: str,
    queries: Sequence[SpaceQuery],
    per_space: int,
    filter: Filter | None = None,
    exclude: Collection[int] = (),
) -> Candidates:
    """Top ``per_space`` items of every space, their union scored in every space (without their
    payloads: only a page's are read, by :func:`payloads_of`)."""
    found: dict[str, int] = {}
    union: set[int] = set()
    for query in queries:
        [result] = store.search(
            collection, query.name, query.vector, per_space, filter, with_payload=False
        )
        found[query.name] = len(result.hits)
        union.update(result.ids)
    ids = np.array(sorted(union - set(exclude)), dtype=np.int64)
    items = store.retrieve(collection, ids.tolist(), with_vectors=True, with_payload=False)
    ids = np.array([item.id for item in items], dtype=np.int64)  # deleted meanwhile: left out
    scores = {q.name: _scores(items, q) for q in queries}
    ranks = {space: _ranks(s, ids) for space, s in scores.items()}
    return Candidates(ids, scores, ranks, found)


def payloads_of(store: VectorStore, collection: str, ids: Sequence[int]) -> dict[int, Payload]:
    """The payloads of a page's items by id (an item deleted since it was gathered is absent)."""
    items = store.retrieve(collection, ids, with_vectors=False)
    return {item.id: item.payload for item in items}


def _scores(items: Sequence, query: SpaceQuery) -> np.ndarray:
    """Cosine of every item's stored vector in this space with the query."""
    out = np.full(len(items), MISSING_SCORE, dtype=np.float32)
    rows = [i for i, item in enumerate(items) if query.name in item.vectors]
    if rows:
        matrix = np.stack([items[i].vectors[query.name] for i in rows]).astype(np.float32)
        out[rows] = matrix @ query.vector.astype(np.float32)
    return out


def _ranks(scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """1-based ranks, best score first, ties broken by id (so results never depend on order)."""
    order = np.lexsort((ids, -scores))
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[order] = np.arange(1, len(ids) + 1)
    return ranks


Fusion = Callable[[Candidates, Mapping[str, float], int], np.ndarray]


def information_fusion(candidates: Candidates, weights: Mapping[str, float], _: int) -> np.ndarray:
    """Sum of cosines weighted by the query's information per space (``model.runtime.fusion``)."""
    return sum(w * candidates.scores[s].astype(np.float64) for s, w in weights.items())


def rrf_fusion(candidates: Candidates, weights: Mapping[str, float], rrf_k: int) -> np.ndarray:
    """Weighted reciprocal-rank fusion: sum of weight / (rrf_k + rank) over spaces."""
    return sum(w / (rrf_k + candidates.ranks[s].astype(np.float64)) for s, w in weights.items())


FUSIONS: dict[str, Fusion] = {"information": information_fusion, "rrf": rrf_fusion}
"""Every way of fusing the spaces' scores of the candidates, by name."""


def best_first(candidates: Candidates, fused: np.ndarray) -> np.ndarray:
    """Candidate positions ordered by fused score, ties by id."""
    return np.lexsort((candidates.ids, -fused))
