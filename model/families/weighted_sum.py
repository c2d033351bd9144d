"""What the one-space adapters (the built-in model, open_clip) share, written once: a query of
several parts is one vector, the normalised weighted sum of its parts' vectors; its information
is 1."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from anyseek.model.builtin.network import combine
from anyseek.model.families.base import SearchModelBase
from anyseek.model.families.combination import check_weights
from anyseek.model.families.interface import QueryEmbedding, QueryRequest


class WeightedSumModel(SearchModelBase):
    """A model of one space whose query is its parts' weighted sum; a subclass says how the
    parts of a batch of queries become vectors (:meth:`_part_vectors`)."""

    def embed_queries(self, requests: Sequence[QueryRequest]) -> list[dict[str, QueryEmbedding]]:
        """Every request checked, the parts of all of them embedded together, then each request's
        parts combined as their normalised weighted sum in the one space."""
        for request in requests:
            self.check_request(request)
            weights = request.weights or {}
            check_weights([float(weights.get(k, 1.0)) for k in request.inputs], request.combine)
        parts = self._part_vectors([request.inputs for request in requests])
        space = self.spaces[0].name
        out = []
        for request, found in zip(requests, parts, strict=True):
            vector = combine(found, dict(request.weights or {}))[0]
            out.append({space: QueryEmbedding(vector.cpu().numpy(), 1.0)})
        return out

    def _part_vectors(
        self, inputs: Sequence[Mapping[str, torch.Tensor]]
    ) -> list[dict[str, torch.Tensor]]:
        """Each request's inputs (batched across requests as the model likes) -> its parts' unit
        vectors [1, D] by modality."""
        raise NotImplementedError
