"""Near-duplicate detection when vectors reach the store: a new image whose mean cosine over the
collection's spaces to an indexed item (or to an earlier image of the same batch) is at least the
threshold is linked to it (kept and searchable; re-encodes, resizes, crops, slight recolourings).

Candidates are each space's nearest stored items; the similarity is measured in every space from
the stored vectors, so a match in one space alone (same layout, other objects) does not count.
Items are compared within one kind only (the same modalities: a photo's sketch is no copy of it,
however near its vector; issue 51).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from anyseek.search.stores import VectorStore

NEIGHBOURS = 3  # stored candidates per space and image
PHOTO = ("rgb",)  # the kind of an item indexed before items had parts


@dataclass(frozen=True)
class DuplicateLink:
    """``item_id`` is a near-duplicate of ``original_id`` with this mean cosine."""

    item_id: int
    original_id: int
    similarity: float


def _unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (as cosine spaces store them)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def find_near_duplicates(
    store: VectorStore,
    collection: str,
    ids: Sequence[int],
    vectors: Mapping[str, np.ndarray],
    threshold: float,
    kinds: Sequence[tuple[str, ...]] | None = None,
) -> list[DuplicateLink]:
    """For each new item, its most similar earlier item of the same kind (``kinds``: each new
    item's modalities; photos when not given) when at or above ``threshold``."""
    if threshold <= 0 or not ids or (store.count(collection) == 0 and len(ids) < 2):
        return []
    spaces = sorted(vectors)
    new = {s: _unit(np.asarray(vectors[s], dtype=np.float32)) for s in spaces}
    fresh = set(int(i) for i in ids)
    kinds = list(kinds) if kinds is not None else [PHOTO] * len(ids)
    best: dict[int, tuple[float, int]] = {}
    if store.count(collection):
        candidates: list[set[int]] = [set() for _ in ids]
        for space in spaces:
            found = store.nearest_ids(collection, space, new[space], NEIGHBOURS)
            for row, near in enumerate(found.tolist()):
                candidates[row].update(i for i in near if i >= 0 and i not in fresh)
        wanted = sorted(set().union(*candidates))
        stored = [
            item
            for item in store.retrieve(collection, wanted, with_vectors=True)
            if all(s in item.vectors for s in spaces)
        ]
        column = {item.id: n for n, item in enumerate(stored)}
        kind_of = [tuple(item.payload.get("modalities", PHOTO)) for item in stored]
        pairs = [
            (r, column[c])
            for r, found in enumerate(candidates)
            for c in found
            if c in column and kind_of[column[c]] == kinds[r]
        ]
        if pairs:  # every (new item, candidate) pair's mean cosine at once
            rows, cols = (np.array(side) for side in zip(*pairs, strict=True))
            scores = sum(
                np.einsum("ij,ij->i", new[s][rows], np.stack([i.vectors[s] for i in stored])[cols])
                for s in spaces
            ) / len(spaces)
            for row, col, score in zip(rows.tolist(), cols.tolist(), scores.tolist(), strict=True):
                if score > best.get(ids[row], (-2.0, 0))[0]:
                    best[ids[row]] = (score, stored[col].id)
    within = sum(new[s] @ new[s].T for s in spaces) / len(spaces)  # earlier rows of the batch
    same = np.array([[a == b for b in kinds] for a in kinds])
    within = np.where(same, within, -2.0)
    for row in range(1, len(ids)):
        earlier = int(np.argmax(within[row, :row]))
        score = float(within[row, earlier])
        if score > best.get(ids[row], (-2.0, 0))[0]:
            best[ids[row]] = (score, int(ids[earlier]))
    return [
        DuplicateLink(int(item), original, round(score, 6))
        for item, (score, original) in best.items()
        if score >= threshold
    ]
