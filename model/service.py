"""The model as the service sees it: the one module that search, indexer, api and workers import.

Everything above ``model/`` that serves searches goes through these names (``make lint`` refuses
an import of any other ``model`` module from those layers), so the rooms behind it can be
rearranged without touching the service. What a search model is:
``anyseek.model.families.interface``.
"""

from __future__ import annotations

from anyseek.identity import ModelIdentity
from anyseek.model.bundle.files import resolve_bundle_source
from anyseek.model.families.combination import COMBINATIONS
from anyseek.model.families.interface import (
    NUMPY_MAGIC,
    RECONSTRUCTION_KINDS,
    DescribingModel,
    FolderModel,
    ModelError,
    PriorModel,
    QueryEmbedding,
    QueryModality,
    QueryRequest,
    ReconstructingModel,
    SearchModel,
    SpaceInfo,
    embed_items,
    item_request,
)
from anyseek.model.families.open_clip.catalog import (
    CachedRepo,
    PulledFile,
    cached_models,
    offered_models,
    pull_model,
)
from anyseek.model.families.registry import load_search_model
from anyseek.model.queries import (
    QUERY_KINDS,
    QueryKind,
    item_name,
    query_kind,
    query_kinds_markdown,
    query_name,
    with_parameter_per_kind,
)
from anyseek.model.runtime.fusion import fusion_weights, query_fusion_weights
from anyseek.model.runtime.threads import default_threads, use_threads
from anyseek.model.transforms.base import MAX_PIXELS, UserInputError, open_image
from anyseek.model.transforms.depth import load_depth
from anyseek.model.transforms.rgb import to_rgb

__all__ = [
    "COMBINATIONS",
    "MAX_PIXELS",
    "NUMPY_MAGIC",
    "QUERY_KINDS",
    "RECONSTRUCTION_KINDS",
    "CachedRepo",
    "DescribingModel",
    "FolderModel",
    "ModelError",
    "ModelIdentity",
    "PriorModel",
    "PulledFile",
    "QueryEmbedding",
    "QueryKind",
    "QueryModality",
    "QueryRequest",
    "ReconstructingModel",
    "SearchModel",
    "SpaceInfo",
    "UserInputError",
    "cached_models",
    "default_threads",
    "embed_items",
    "fusion_weights",
    "item_modalities",
    "item_name",
    "item_request",
    "load_depth",
    "load_search_model",
    "model_identity",
    "offered_models",
    "open_image",
    "pull_model",
    "query_fusion_weights",
    "query_kind",
    "query_kinds_markdown",
    "query_name",
    "resolve_bundle_source",
    "to_rgb",
    "use_threads",
    "with_parameter_per_kind",
]


def model_identity(model: SearchModel, source: str | None = None) -> ModelIdentity:
    """The identity of a loaded model (its digest was computed once, when it loaded), loaded from
    ``source``, with the precision its gallery vectors are computed in: the one place an identity
    is made from a model."""
    return ModelIdentity(model.name, model.version, source, model.precision)


def item_modalities(model: SearchModel) -> dict[str, QueryModality]:
    """What an item indexed with ``model`` may hold, by part name (``rgb``, ``depth``,
    ``caption``...): every query modality the model reads, since an item's vectors are the model's
    prediction from all of its parts at once, as a query's are."""
    return {item_name(name): modality for name, modality in model.query_modalities.items()}
