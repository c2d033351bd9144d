"""One query vector per space: scalar maths in plain numpy.

The model's prediction (times the plan's sign) plus the weighted stored vectors of "more like
this" items, at unit length, steered away from "not like this" items (``anyseek.search.steering``).
Each space's fusion weight is ``anyseek.model.service.query_fusion_weights``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from anyseek.model.service import QueryEmbedding
from anyseek.search.query import SearchInputError
from anyseek.search.steering import steer

Liked = list[tuple[float, dict[str, np.ndarray]]]  # (weight, stored vector per space) per item


def query_vectors(
    predicted: Mapping[str, QueryEmbedding],
    sign: float,
    liked: Liked,
    spaces: Mapping[str, float],
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per space: the query vector (float32, unit length) and the information fusion weighs it
    by (the model's, or 1 for a query of items only)."""
    vectors, information = {}, {}
    for space in spaces:
        total = sign * predicted[space].vector.astype(np.float64) if predicted else None
        negatives = []
        for weight, stored in liked:
            if space not in stored:
                continue
            item = stored[space].astype(np.float64)
            if weight > 0:
                total = weight * item if total is None else total + weight * item
            else:
                negatives.append((weight, item / max(float(np.linalg.norm(item)), 1e-12)))
        total = unit(total, space)
        vectors[space] = unit(steer(total, negatives), space).astype(np.float32)
        information[space] = float(predicted[space].information) if predicted else 1.0
    return vectors, information


def unit(vector: np.ndarray | None, space: str) -> np.ndarray:
    """The vector at unit length, or a clear error when the query's parts cancel out."""
    norm = float(np.linalg.norm(vector)) if vector is not None else 0.0
    if norm < 1e-6:
        raise SearchInputError(
            f"the query's parts cancel out in space {space!r}: give the positive parts more "
            "weight than the negative ones",
            "parts",
        )
    return np.asarray(vector) / norm
