"""What a search asks and what it answers: typed, frozen, and the same for the API and the CLI.

A :class:`SearchQuery` holds query parts (a modality, the user's value for it, a weight; negative
weights mean "not like this"), indexed items to search like (no model call), the spaces to score
in with their weights, paging, a minimum score, a payload filter and the fusion method. A
:class:`SearchResults` holds the hits of one page, each with its fused score and its rank and
score in every space, the cursor of the next page, the milliseconds each stage took and, on request,
an :class:`Explanation` (which costs extra model work, so it is never computed unasked).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from anyseek.errors import AnyseekError, NotFoundError
from anyseek.search.stores.base import Filter, Payload


class SearchInputError(AnyseekError):
    """A search request that cannot be answered as asked (no modality, bad k, bad weight...);
    ``field`` names the query field at fault when it is one (``k``, ``offset``, ``cursor``);
    ``modality`` the query part at fault (the API names where the request gave it)."""

    def __init__(self, message: str, field: str | None = None, modality: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.modality = modality


class CursorError(SearchInputError):
    """A cursor that cannot continue this query: garbled, forged, or another query's (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "cursor")


class UnknownReferenceError(NotFoundError):
    """A space or liked item the query names that its collection does not have (HTTP 404);
    ``field`` names the query field (``spaces``, ``like``), as the API's errors do."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_weight(what: str, weight: object, field: str | None = None) -> float:
    """A finite number, not zero (a zero weight asks nothing)."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise SearchInputError(f"weight of {what} must be a finite number, got {weight!r}", field)
    if weight == 0:
        raise SearchInputError(f"weight of {what} is 0: leave it out instead", field)
    return float(weight)


@dataclass(frozen=True)
class QueryPart:
    """One query modality: its name (``sketch``), the user's value (file, bytes, text), weight."""

    modality: str
    value: Any
    weight: float = 1.0

    def __post_init__(self) -> None:
        try:
            weight = check_weight(f"modality {self.modality!r}", self.weight)
        except SearchInputError as exc:
            exc.modality = self.modality  # the part's weight
            raise
        object.__setattr__(self, "weight", weight)


@dataclass(frozen=True)
class LikeItem:
    """An indexed item to search like ("more like this"; negative weight: "not like this")."""

    id: int
    weight: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, int) or self.id < 0:
            raise SearchInputError(f"item ids are non-negative integers, got {self.id!r}", "like")
        object.__setattr__(self, "weight", check_weight(f"item {self.id}", self.weight, "like"))


@dataclass(frozen=True)
class SearchQuery:
    """One search request; see the module docstring. ``spaces`` None = every space, weight 1."""

    collection: str
    parts: tuple[QueryPart, ...] = ()
    like: tuple[LikeItem, ...] = ()
    spaces: Mapping[str, float] | None = None
    k: int = 10
    offset: int = 0
    cursor: str | None = None  # from a previous page's ``next_cursor``; replaces ``offset``
    min_score: float | None = None  # on the fused score (raw cosines: differs per query kind)
    min_relevance: float | None = None  # on relevance in [0, 1]; calibrated models only
    filter: Filter | None = None
    fusion: str | None = None  # "information" | "rrf"; None: the settings' default
    combine: str | None = None  # "guidance" | "fusion" for weighted parts; None: default
    explain: bool = False
    reconstruct: bool = True  # with explain: the model's depth/semseg of the image, when it can

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))
        object.__setattr__(self, "like", tuple(self.like))
        if not self.parts and not self.like:
            raise SearchInputError(
                "the query is empty: give at least one modality (caption, sketch, depth, "
                "semseg, image...) or an item id to search like",
                "parts",
            )
        names = [p.modality for p in self.parts]
        if len(set(names)) != len(names):
            raise SearchInputError(f"each modality may be given once, got {names}", "parts")
        if not any(p.weight > 0 for p in self.parts) and not any(i.weight > 0 for i in self.like):
            raise SearchInputError(
                "every weight is negative: a query needs something to look for next to what to "
                "avoid",
                "parts",
            )
        if self.spaces is not None:
            if not self.spaces:
                raise SearchInputError("spaces is empty: leave it out to use every space", "spaces")
            for space, weight in self.spaces.items():
                if check_weight(f"space {space!r}", weight, "spaces") < 0:
                    raise SearchInputError(f"weight of space {space!r} must be positive", "spaces")
        for name, value in (("k", self.k), ("offset", self.offset)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SearchInputError(f"{name} must be an integer, got {value!r}", name)
        if self.k <= 0:
            raise SearchInputError(f"k must be at least 1, got {self.k}", "k")
        if self.offset < 0:
            raise SearchInputError(f"offset must be 0 or more, got {self.offset}", "offset")
        if self.min_score is not None and not math.isfinite(self.min_score):
            raise SearchInputError(
                f"min_score must be a finite number, got {self.min_score!r}", "min_score"
            )
        if self.min_relevance is not None and not 0 <= self.min_relevance <= 1:
            raise SearchInputError(
                f"min_relevance must be between 0 and 1, got {self.min_relevance!r}",
                "min_relevance",
            )


@dataclass(frozen=True)
class SpaceScore:
    """An item's score and rank (1 = best among the candidates) in one space."""

    score: float
    rank: int


@dataclass(frozen=True)
class SearchHitResult:
    """One item found: id, fused score, payload, its score and rank in every space, and its
    relevance: the calibrated probability in [0, 1] that it is what the query describes (None
    when the model has no relevance calibration, see ``anyseek.search.relevance``)."""

    id: int
    score: float
    payload: Payload
    spaces: Mapping[str, SpaceScore]
    relevance: float | None = None


@dataclass(frozen=True)
class SpaceExplanation:
    """How one space took part: its query's information, its fusion weight, its candidates."""

    information: float
    weight: float
    candidates: int


@dataclass(frozen=True)
class Explanation:
    """Why the results are what they are: per-space weights, what the model saw, stage times."""

    spaces: Mapping[str, SpaceExplanation]
    fusion: str
    combine: str  # how the query parts were combined: joint | guidance | fusion | items
    inputs: Mapping[str, Mapping[str, Any]]  # per part: weight and what the model was given
    union: int  # candidates scored in every space
    timings_ms: Mapping[str, float]
    imagined: str | None = None  # a caption the model generates for the query, when it can
    # what the model sees in the query's image: {"depth"|"semseg": base64 PNG}, when it can
    reconstructions: Mapping[str, str] | None = None


@dataclass(frozen=True)
class SearchResults:
    """One page of results, best first, the cursor of the next page, the time each stage took
    (always: metrics read it), the explanation (only when the query asked for it) and warnings
    about what of the query the model could not read (``unknown word "teal"``); and, for a model
    without a relevance calibration, once, why its hits carry no relevance."""

    hits: tuple[SearchHitResult, ...]
    collection: str
    offset: int
    next_cursor: str | None = None
    explanation: Explanation | None = None
    model: Mapping[str, str] = field(default_factory=dict)  # name and version of the vectors
    timings_ms: Mapping[str, float] = field(default_factory=dict)  # per stage, explain or not
    warnings: tuple[str, ...] = ()  # what the model did not read of the query (unknown words)
    relevance_note: str | None = None  # why hits carry no relevance (uncalibrated model)

    @property
    def ids(self) -> list[int]:
        """Hit ids, best first."""
        return [hit.id for hit in self.hits]
