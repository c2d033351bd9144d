"""The store stage and fusion: one search per space, the union of their candidates scored in
every space, and fused.

``anyseek.model.runtime.fusion.fuse`` needs dense [Q, N] similarities, which only evaluation has. A
store answers top-k per space, and an item near the top in one space may be outside the top k' of
another, so each space's search also returns its hits' stored vectors in the *other* spaces (only
when the query has several) and their payloads: a hit keeps the score its own space's search gave
it, and is scored in the other spaces from those vectors; nothing is read twice. The union is then
fused: by the query's information per space (``information``, the default, as evaluation measures)
or by weighted reciprocal ranks (``rrf``). Adding a fusion method is one entry in :data:`FUSIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from anyseek.search.stores.base import Filter, Payload, VectorStore

MISSING_SCORE = -1.0  # an item without a vector in a space scores the lowest cosine there


@dataclass(frozen=True)
class SpaceQuery:
    """One space's query vector (unit length) and its fusion weight."""

    name: str
    vector: np.ndarray
    weight: float  # fusion weight, summing to 1 over the spaces


@dataclass(frozen=True)
class Candidates:
    """The union of every space's candidates, scored and ranked in every space, with payloads."""

    ids: np.ndarray  # [M] int64, ascending
    scores: dict[str, np.ndarray]  # space -> [M] cosine
    ranks: dict[str, np.ndarray]  # space -> [M] 1-based rank among the union
    found: dict[str, int]  # space -> how many candidates the store gave
    payloads: dict[int, Payload]  # id -> payload, for every candidate


def gather(
    store: VectorStore,
    collection: str,
    queries: Sequence[SpaceQuery],
    per_space: int,
    filter: Filter | None = None,
    exclude: Collection[int] = (),
) -> Candidates:
    """Top ``per_space`` items of every space (one store search each, with payloads and, for a
    query of several spaces, the hits' vectors in the others), their union scored in every
    space."""
    names = [q.name for q in queries]
    found: dict[str, int] = {}
    own: dict[str, dict[int, float]] = {}  # space -> id -> the score its search gave
    stored: dict[str, dict[int, np.ndarray]] = {name: {} for name in names}
    payloads: dict[int, Payload] = {}
    for query in queries:
        others = [name for name in names if name != query.name]
        [result] = store.search(
            collection,
            query.name,
            query.vector,
            per_space,
            filter,
            with_payload=True,
            with_vectors=others,
        )
        found[query.name] = len(result.hits)
        own[query.name] = {}
        for hit in result.hits:
            if hit.id in exclude:
                continue
            own[query.name][hit.id] = hit.score
            payloads.setdefault(hit.id, hit.payload)
            for name, vector in hit.vectors.items():
                stored[name].setdefault(hit.id, vector)
    ids = np.array(sorted(payloads), dtype=np.int64)
    scores = {q.name: _scores(ids, own[q.name], stored[q.name], q) for q in queries}
    ranks = {space: _ranks(s, ids) for space, s in scores.items()}
    return Candidates(ids, scores, ranks, found, payloads)


def _scores(
    ids: np.ndarray, own: Mapping[int, float], stored: Mapping[int, np.ndarray], query: SpaceQuery
) -> np.ndarray:
    """Every candidate's score in one space: the one this space's search gave it, else the
    cosine of its stored vector here (from another space's search) with the query."""
    out = np.full(len(ids), MISSING_SCORE, dtype=np.float32)
    rest = []
    for row, item in enumerate(ids.tolist()):
        score = own.get(item)
        if score is not None:
            out[row] = score
        elif item in stored:
            rest.append((row, item))
    if rest:
        matrix = np.stack([stored[item] for _, item in rest]).astype(np.float32)
        out[[row for row, _ in rest]] = matrix @ query.vector.astype(np.float32)
    return out


def _ranks(scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """1-based ranks, best score first, ties broken by id (so results never depend on order)."""
    order = np.lexsort((ids, -scores))
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[order] = np.arange(1, len(ids) + 1)
    return ranks


Fusion = Callable[[Candidates, Mapping[str, float], int], np.ndarray]


def information_fusion(candidates: Candidates, weights: Mapping[str, float], _: int) -> np.ndarray:
    """Sum of cosines weighted by the query's information per space
    (``anyseek.model.runtime.fusion``)."""
    return sum(w * candidates.scores[s].astype(np.float64) for s, w in weights.items())


def rrf_fusion(candidates: Candidates, weights: Mapping[str, float], rrf_k: int) -> np.ndarray:
    """Weighted reciprocal-rank fusion: sum of weight / (rrf_k + rank) over spaces."""
    return sum(w / (rrf_k + candidates.ranks[s].astype(np.float64)) for s, w in weights.items())


FUSIONS: dict[str, Fusion] = {"information": information_fusion, "rrf": rrf_fusion}
"""Every way of fusing the spaces' scores of the candidates, by name."""


def best_first(candidates: Candidates, fused: np.ndarray) -> np.ndarray:
    """Candidate positions ordered by fused score, ties by id."""
    return np.lexsort((candidates.ids, -fused))
