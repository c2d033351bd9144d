"""What every model family's search adapter shares, written once.

An adapter (the built-in bundle, official 4M checkpoints, MultiMAE) subclasses
:class:`SearchModelBase` and adds what is its own: how it embeds gallery images and answers a
batch of queries. The base holds the identity and spaces it declares, its query modalities in
declared order, the gallery image input and the checks every request passes; the one-query call
comes from the :class:`SearchModel` protocol it subclasses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from anyseek.model.families.interface import (
    GALLERY_INPUT,
    ModelError,
    QueryEmbedding,
    QueryModality,
    QueryRequest,
    SearchModel,
    SpaceInfo,
    in_declared_order,
)
from anyseek.model.runtime.precision import gallery_precision
from anyseek.model.transforms.palette_semseg import ClassPalette


class SearchModelBase(SearchModel):
    """A model family behind the :class:`anyseek.model.families.interface.SearchModel` interface."""

    name: str
    version: str
    device: torch.device
    spaces: tuple[SpaceInfo, ...]
    palette: ClassPalette | None = None
    query_modalities: dict[str, QueryModality]
    item_weights: Mapping[str, float] = MappingProxyType({})  # an item's parts all alike
    precision: str = "float32"  # what gallery vectors are computed in (``use_precision``)

    def use_query_modalities(self, modalities: Iterable[QueryModality], what: str) -> None:
        """Take these query modalities (in declared order); one must read gallery images."""
        self.query_modalities = in_declared_order(modalities)
        if GALLERY_INPUT not in self.query_modalities:
            raise ModelError(f"{what} takes no rgb input: it cannot index images")

    def use_precision(self, setting: str, dtype: str = "float32") -> None:
        """Compute gallery vectors in ``setting`` (``ANYSEEK_MODEL__PRECISION``: auto, float32,
        bfloat16), resolved once here for this model's device and weights' dtype."""
        self.precision = gallery_precision(setting, device=self.device.type, dtype=dtype)

    def gallery_autocast(self) -> torch.autocast:
        """bfloat16 autocast around a gallery batch when its precision is bfloat16 (the weights
        stay as loaded; queries are computed outside it, in the model's own precision)."""
        bf16 = self.precision == "bfloat16"
        return torch.autocast(self.device.type, torch.bfloat16, enabled=bf16)

    @property
    def gallery_input(self) -> QueryModality:
        """The query modality gallery images are read and embedded through."""
        return self.query_modalities[GALLERY_INPUT]

    def image_input(self, image: Any) -> torch.Tensor:
        """One gallery image (path, bytes, PIL image) -> model-ready rgb [3, S, S]."""
        return self.gallery_input.transform(image)

    def embed_images(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Model-ready rgb [B, 3, S, S] -> {space: [B, dim] float32, L2-normalised}."""
        raise NotImplementedError

    def embed_queries(self, requests: Sequence[QueryRequest]) -> list[dict[str, QueryEmbedding]]:
        """Several queries at once -> each one's per-space prediction."""
        raise NotImplementedError

    def check_request(self, request: QueryRequest) -> None:
        """Refuse an empty query, modalities the model does not take, weights for parts not
        given: each a ModelError naming what the model takes."""
        unknown = sorted(set(request.inputs) - set(self.query_modalities))
        if unknown or not request.inputs:
            raise ModelError(
                f"query modalities {unknown or '(none)'} are not accepted; this model takes: "
                f"{', '.join(self.query_modalities)}"
            )
        stray = sorted(set(request.weights or {}) - set(request.inputs))
        if stray:
            raise ModelError(f"weights for modalities not in the query: {stray}")
