"""The plan stage: a query checked against its collection and model, and its parts turned into
model inputs, before it joins a batch.

A :class:`Plan` is one query on its way through the stages of ``anyseek.search.searcher``: made here
(on a request thread), given the model's prediction by the model stage (the inference thread),
answered by the store and rank stages (any thread). Each stage adds its milliseconds to the
plan's :class:`StageTimer`, which every answer reports as ``timings_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from anyseek.model.service import COMBINATIONS, QueryEmbedding, QueryRequest, SearchModel
from anyseek.search.candidates import FUSIONS
from anyseek.search.cursor import PageCursor
from anyseek.search.query import SearchInputError, SearchQuery, UnknownReferenceError
from anyseek.search.relevance import Calibration
from anyseek.search.resolve import Resolved
from anyseek.search.stores.base import SpaceSpec
from anyseek.settings import SearchSettings

WEIGHTED_COMBINATIONS = tuple(name for name in COMBINATIONS if name != "joint")


class StageTimer:
    """Milliseconds spent per named stage."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, start)

    def add(self, name: str, start: float) -> None:
        """Record stage ``name`` as having run from ``start`` (``time.perf_counter``) until now."""
        self.ms[name] = round((time.perf_counter() - start) * 1000, 3)


@dataclass
class Plan:
    """One query on its way: where it searches, checked options, model inputs, then the model's
    prediction (see the module docstring)."""

    query: SearchQuery
    resolved: Resolved  # the collection's current version: store collection, model, watermark
    model: SearchModel  # the model that made the version's vectors
    calibration: Calibration | None  # the model's relevance calibration; None: uncalibrated
    fusion: str
    combine: str
    offset: int  # hits served before this page (the offset, or the cursor's count)
    cursor: PageCursor | None
    spaces: dict[str, float]
    inputs: dict[str, torch.Tensor]
    timer: StageTimer
    priors: Mapping[str, torch.Tensor] | None = None  # the collection's, for query information
    predicted: dict[str, QueryEmbedding] | Exception = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # what the model will not read of the parts
    explained: Any = None  # with ``explain``: the model's part of it (``anyseek.search.explain``)
    prepared_at: float = 0.0  # ``time.perf_counter()`` when planned (0: not yet)

    @property
    def target(self) -> str:
        """The store collection searched: the collection's current version."""
        return self.resolved.store_name

    @property
    def weights(self) -> dict[str, float]:
        """Weight per modality."""
        return {p.modality: p.weight for p in self.query.parts}

    @property
    def sign(self) -> float:
        """-1 when every part is negative (next to a liked item): such parts are predicted as
        positives and the prediction subtracted."""
        return 1.0 if any(w > 0 for w in self.weights.values()) else -1.0

    @property
    def request(self) -> QueryRequest:
        """What the model is asked for this query."""
        signed = {m: self.sign * w for m, w in self.weights.items()}
        return QueryRequest(self.inputs, signed, self.combine, self.priors)


def methods(query: SearchQuery, settings: SearchSettings) -> tuple[str, str]:
    """The fusion and combination methods, refusing unknown names."""
    fusion = query.fusion or settings.fusion
    if fusion not in FUSIONS:
        raise SearchInputError(
            f"unknown fusion {fusion!r}; choose one of {list(FUSIONS)}", "fusion"
        )
    combine = query.combine or settings.combine
    if combine not in WEIGHTED_COMBINATIONS:
        raise SearchInputError(
            f"unknown combination {combine!r}; choose one of {list(WEIGHTED_COMBINATIONS)}",
            "combine",
        )
    return fusion, combine


def check_relevance(query: SearchQuery, note: str | None) -> None:
    """Refuse a minimum relevance the model cannot measure (``note``: why it has none)."""
    if query.min_relevance is not None and note is not None:
        raise SearchInputError(f"min_relevance: {note}", "min_relevance")


def spaces_of(
    query: SearchQuery, stored: tuple[SpaceSpec, ...], model: SearchModel
) -> dict[str, float]:
    """Spaces to score in, with the caller's weights: those both model and collection have."""
    dims = {s.name: s.dim for s in stored}
    usable = [s.name for s in model.spaces if dims.get(s.name) == s.dim]
    if not usable:
        raise SearchInputError(
            f"collection {query.collection!r} has spaces {sorted(dims)}, none of which the "
            f"model {model.name!r} predicts: index it again with this model"
        )
    if query.spaces is None:
        return {s: 1.0 for s in usable}
    unknown = sorted(set(query.spaces) - set(usable))
    if unknown:
        raise UnknownReferenceError(
            f"unknown space {', '.join(map(repr, unknown))}; collection {query.collection!r} "
            f"can be searched in: {', '.join(usable)}",
            "spaces",
        )
    return {s: float(w) for s, w in query.spaces.items()}
