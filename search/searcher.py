"""The search service: one :class:`Searcher` over a loaded model and an open store, one method.

``Searcher(model, store, settings).search(query)`` turns the query's parts into model inputs,
predicts one vector per space (one joint encoder pass when every weight is 1; otherwise the
parts combined by guidance or fusion, see ``model.families.combination``), adds the stored vectors
of "more like this" items, gathers every space's candidates from the store, scores their union in
every space and fuses them (``search.candidates``). The HTTP API and ``anyseek search`` are thin
layers over it: they build a :class:`SearchQuery` and render the :class:`SearchResults`.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from anyseek.errors import AnyseekError, NotFoundError
from anyseek.settings import SearchSettings, Settings
from model.service import (
    COMBINATIONS,
    MAX_PIXELS,
    DescribingModel,
    PriorModel,
    QueryEmbedding,
    QueryRequest,
    SearchModel,
    fusion_weights,
    load_search_model,
)
from search.candidates import FUSIONS, Candidates, SpaceQuery, best_first, gather
from search.inputs import describe_inputs, model_inputs, query_warnings, warm_up
from search.query import (
    Explanation,
    SearchHitResult,
    SearchInputError,
    SearchQuery,
    SearchResults,
    SpaceExplanation,
    SpaceScore,
)
from search.reconstruct import explain_reconstructions
from search.stores.base import MAX_K, VectorStore

CURSOR_PREFIX = "v1"
WEIGHTED_COMBINATIONS = tuple(name for name in COMBINATIONS if name != "joint")
PriorsLookup = Callable[[str], Mapping[str, torch.Tensor] | None]  # collection -> its priors


class _Timer:
    """Milliseconds spent per named stage."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round((time.perf_counter() - start) * 1000, 3)


def encode_cursor(collection: str, offset: int) -> str:
    """An opaque cursor for the page starting at ``offset``."""
    raw = f"{CURSOR_PREFIX}:{offset}:{collection}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, collection: str) -> int:
    """The offset a cursor stands for; refuses cursors of other collections or garbled ones."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, offset, owner = raw.split(":", 2)
        value = int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SearchInputError(
            f"invalid cursor {cursor!r}: pass next_cursor as given", "cursor"
        ) from None
    if prefix != CURSOR_PREFIX or owner != collection or value < 0:
        raise SearchInputError(
            f"cursor {cursor!r} does not belong to collection {collection!r}", "cursor"
        )
    return value


@dataclass
class _Plan:
    """One query on its way: checked options, model inputs, then the model's prediction."""

    query: SearchQuery
    fusion: str
    combine: str
    offset: int
    spaces: dict[str, float]
    inputs: dict[str, torch.Tensor]
    timer: _Timer
    priors: Mapping[str, torch.Tensor] | None = None  # the collection's, for query information
    predicted: dict[str, QueryEmbedding] | AnyseekError = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # what the model will not read of the parts

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


class Searcher:
    """Searches collections of one store with one loaded model; safe to share, holds no state.

    ``priors`` gives the stored priors of a collection (``search.priors``) for models whose
    query information is measured against them; each query carries its collection's.
    """

    def __init__(
        self,
        model: SearchModel,
        store: VectorStore,
        settings: SearchSettings | None = None,
        max_image_pixels: int = MAX_PIXELS,
        priors: PriorsLookup | None = None,
    ) -> None:
        self.model = model
        self.store = store
        self.settings = settings or SearchSettings()
        self.max_image_pixels = max_image_pixels  # ANYSEEK_API__MAX_IMAGE_PIXELS, as for indexing
        self.priors = priors

    def close(self) -> None:
        """Close the store and, when it has one, the priors lookup's database connections."""
        try:
            self.store.close()
        finally:
            close = getattr(self.priors, "close", None)
            if close is not None:
                close()

    def warm_up(self) -> list[str]:
        """Run every query transform and the model once, so the first query is not the slow one
        (lazy imports of image libraries take ~0.4 s); returns the modalities warmed up."""
        return warm_up(self.model)

    def search(self, query: SearchQuery) -> SearchResults:
        """Answer one query: a page of hits best first, and an explanation when asked."""
        [answer] = self.search_many([query])
        if isinstance(answer, AnyseekError):
            raise answer
        return answer

    def search_many(self, queries: Sequence[SearchQuery]) -> list[SearchResults | AnyseekError]:
        """Answer several queries with one batched model call (micro-batching for the API); a
        bad query gets its error in its place and spoils nothing for the others."""
        plans: list[_Plan | AnyseekError] = []
        for query in queries:
            try:
                plans.append(self._plan(query))
            except AnyseekError as exc:
                plans.append(exc)
        self._predict([p for p in plans if isinstance(p, _Plan) and p.inputs])
        answers: list[SearchResults | AnyseekError] = []
        for plan in plans:
            try:
                answers.append(plan if isinstance(plan, AnyseekError) else self._answer(plan))
            except AnyseekError as exc:
                answers.append(exc)
        return answers

    def _plan(self, query: SearchQuery) -> _Plan:
        """Check the query and turn its parts into model inputs."""
        timer = _Timer()
        fusion, combine = self._methods(query)
        offset = self._window(query)
        spaces = self._spaces(query)
        with timer.stage("transform"):
            inputs = model_inputs(self.model, query.parts, self.max_image_pixels)
            warnings = query_warnings(self.model, query.parts)
        priors = None
        if self.priors is not None and inputs:
            with timer.stage("priors"):
                priors = self.priors(query.collection)
        return _Plan(
            query, fusion, combine, offset, spaces, inputs, timer, priors, warnings=warnings
        )

    def _predict(self, plans: list[_Plan]) -> None:
        """Every plan's prediction from one batched model call (one by one if that fails, so
        an error reaches only the query that caused it)."""
        if not plans:
            return
        requests = [p.request for p in plans]
        start = time.perf_counter()
        try:
            found: list = self.model.embed_queries(requests)
        except AnyseekError:
            found = []
            for request in requests:
                try:
                    found.append(self.model.embed_queries([request])[0])
                except AnyseekError as exc:
                    found.append(exc)
        ms = round((time.perf_counter() - start) * 1000, 3)
        for plan, prediction in zip(plans, found, strict=True):
            plan.predicted = prediction
            plan.timer.ms["model"] = ms

    def _answer(self, plan: _Plan) -> SearchResults:
        """Add liked items, gather and fuse the candidates, and cut the page."""
        query, timer, offset = plan.query, plan.timer, plan.offset
        if isinstance(plan.predicted, AnyseekError):
            raise plan.predicted
        with timer.stage("items"):
            liked = self._liked(query)
        vectors, information = _query_vectors(plan.predicted, plan.sign, liked, plan.spaces)
        fused_weights = _space_weights(information, plan.spaces)
        queries = [SpaceQuery(s, vectors[s], fused_weights[s]) for s in plan.spaces]
        settings = self.settings
        per_space = min(
            MAX_K, max(settings.min_candidates, settings.candidate_factor * (offset + query.k))
        )
        with timer.stage("store"):
            exclude = {item.id for item in query.like if item.weight > 0}
            candidates = gather(
                self.store, query.collection, queries, per_space, query.filter, exclude
            )
        with timer.stage("fuse"):
            fused = FUSIONS[plan.fusion](candidates, fused_weights, settings.rrf_k)
            order = best_first(candidates, fused)
            if query.min_score is not None:
                order = order[fused[order] >= query.min_score]
            page = order[offset : offset + query.k]
            hits = tuple(_hit(candidates, fused, int(i)) for i in page)
        timer.ms["total"] = round(sum(timer.ms.values()), 3)
        more = len(order) > offset + query.k and offset + query.k < settings.max_window
        explanation = None
        if query.explain:  # extra model work (per-part passes, captions): only when asked
            explanation = self._explain(plan, information, fused_weights, candidates)
        return SearchResults(
            hits=hits,
            collection=query.collection,
            offset=offset,
            next_cursor=encode_cursor(query.collection, offset + query.k) if more else None,
            explanation=explanation,
            model={"name": self.model.name, "version": self.model.version},
            timings_ms=dict(timer.ms),
            warnings=plan.warnings,
        )

    def _explain(
        self,
        plan: _Plan,
        information: Mapping[str, float],
        fused_weights: Mapping[str, float],
        candidates: Candidates,
    ) -> Explanation:
        """Why the results are what they are; costs model passes the search itself does not."""
        imagined = self._imagine(plan)
        seen = self._reconstruct(plan)
        return Explanation(
            spaces={
                s: SpaceExplanation(information[s], fused_weights[s], candidates.found[s])
                for s in plan.spaces
            },
            fusion=plan.fusion,
            combine=_way(plan.query, plan.combine),
            inputs=self._describe(plan.inputs, plan.weights, plan.priors),
            union=len(candidates.ids),
            timings_ms=dict(plan.timer.ms),
            imagined=imagined,
            reconstructions=seen,
        )

    def _imagine(self, plan: _Plan) -> str | None:
        """What the model "imagines" for the query's positive parts (a caption it generates),
        when it can say; None for models that cannot, or for a query of liked items only."""
        positive = {k: v for k, v in plan.inputs.items() if plan.weights.get(k, 1.0) > 0}
        if not positive or not isinstance(self.model, DescribingModel):
            return None
        start = time.perf_counter()
        try:
            return self.model.describe(positive)
        except AnyseekError:  # e.g. a checkpoint that generates no captions
            return None
        finally:
            plan.timer.ms["imagine"] = round((time.perf_counter() - start) * 1000, 3)

    def _reconstruct(self, plan: _Plan) -> dict[str, str] | None:
        """The model's depth and segmentation of the query's image part, when asked and able."""
        if not plan.query.reconstruct:
            return None
        start = time.perf_counter()
        found = explain_reconstructions(self.model, plan.inputs)
        if found is not None:
            plan.timer.ms["reconstruct"] = round((time.perf_counter() - start) * 1000, 3)
        return found

    def _describe(
        self,
        inputs: Mapping[str, torch.Tensor],
        weights: Mapping[str, float],
        priors: Mapping[str, torch.Tensor] | None = None,
    ) -> dict[str, dict]:
        """What the model saw of each part and, for several parts, what each alone says per
        space (its information in nats: a sketch speaks to the layout space, a caption to the
        semantic one), which is what the combined prediction and the space weights follow."""
        described = describe_inputs(self.model, inputs, weights)
        if len(inputs) > 1:
            for name, x in inputs.items():
                alone = self.model.embed_query({name: x}, priors=priors)
                described[name]["information"] = {
                    s: round(e.information, 4) for s, e in alone.items()
                }
        return described

    # --- checks -----------------------------------------------------------------------------

    def _methods(self, query: SearchQuery) -> tuple[str, str]:
        """The fusion and combination methods, refusing unknown names."""
        fusion = query.fusion or self.settings.fusion
        if fusion not in FUSIONS:
            raise SearchInputError(f"unknown fusion {fusion!r}; choose one of {list(FUSIONS)}")
        combine = query.combine or self.settings.combine
        if combine not in WEIGHTED_COMBINATIONS:
            raise SearchInputError(
                f"unknown combination {combine!r}; choose one of {list(WEIGHTED_COMBINATIONS)}"
            )
        return fusion, combine

    def _window(self, query: SearchQuery) -> int:
        """The page's offset (from the cursor when given), within the settings' limits: the one
        check of ``k`` and ``offset`` for the API and the CLI (the OpenAPI document shows them)."""
        if query.k > self.settings.max_k:
            raise SearchInputError(
                f"k must be at most {self.settings.max_k} (ANYSEEK_SEARCH__MAX_K), got {query.k}; "
                "page with a cursor",
                "k",
            )
        offset = decode_cursor(query.cursor, query.collection) if query.cursor else query.offset
        if offset + query.k > self.settings.max_window:
            raise SearchInputError(
                f"offset + k must be at most {self.settings.max_window} "
                f"(ANYSEEK_SEARCH__MAX_WINDOW), got {offset + query.k}: narrow the query with a "
                "filter instead of paging this deep",
                "cursor" if query.cursor else "offset",
            )
        return offset

    def _spaces(self, query: SearchQuery) -> dict[str, float]:
        """Spaces to score in, with the caller's weights: those both model and collection have."""
        stored = {s.name: s.dim for s in self.store.spaces(query.collection)}
        usable = [s.name for s in self.model.spaces if stored.get(s.name) == s.dim]
        if not usable:
            raise SearchInputError(
                f"collection {query.collection!r} has spaces {sorted(stored)}, none of which the "
                f"model {self.model.name!r} predicts: index it again with this model"
            )
        if query.spaces is None:
            return {s: 1.0 for s in usable}
        unknown = sorted(set(query.spaces) - set(usable))
        if unknown:
            raise NotFoundError(
                f"unknown space {', '.join(map(repr, unknown))}; collection {query.collection!r} "
                f"can be searched in: {', '.join(usable)}"
            )
        return {s: float(w) for s, w in query.spaces.items()}

    def _liked(self, query: SearchQuery) -> list[tuple[float, dict]]:
        """(weight, stored vectors per space) of every "more like this" item."""
        if not query.like:
            return []
        ids = [item.id for item in query.like]
        found = {i.id: i for i in self.store.retrieve(query.collection, ids, with_vectors=True)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError(
                f"collection {query.collection!r} has no item {', '.join(map(str, missing))}"
            )
        return [(item.weight, found[item.id].vectors) for item in query.like]


def _query_vectors(
    predicted: Mapping[str, QueryEmbedding],
    sign: float,
    liked: list[tuple[float, dict]],
    spaces: Mapping[str, float],
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per space: the model's prediction (times ``sign``) plus the weighted stored vectors of liked
    items, unit length; and the information fusion weighs it by (the model's, or 1 for items)."""
    vectors, information = {}, {}
    for space in spaces:
        total = sign * predicted[space].vector.astype(np.float64) if predicted else 0.0
        for weight, stored in liked:
            if space in stored:
                total = total + weight * stored[space].astype(np.float64)
        norm = float(np.linalg.norm(total)) if not np.isscalar(total) else 0.0
        if norm < 1e-6:
            raise SearchInputError(
                f"the query's parts cancel out in space {space!r}: give the positive parts more "
                "weight than the negative ones"
            )
        vectors[space] = (total / norm).astype(np.float32)
        information[space] = predicted[space].information if predicted else 1.0
    return vectors, information


def _space_weights(information: Mapping[str, float], weights: Mapping[str, float]) -> dict:
    """Fusion weight per space (summing to 1): caller's weight times information squared."""
    found = fusion_weights({s: torch.tensor([i]) for s, i in information.items()}, dict(weights))
    return {s: float(w[0]) for s, w in found.items()}


def _way(query: SearchQuery, combine: str) -> str:
    """How the query's parts were turned into one prediction."""
    if not query.parts:
        return "items"
    if all(p.weight == 1.0 for p in query.parts) or (
        len(query.parts) == 1 and query.parts[0].weight > 0
    ):
        return "joint"
    return combine


def _hit(candidates: Candidates, fused: np.ndarray, i: int) -> SearchHitResult:
    """The result of candidate position ``i``."""
    return SearchHitResult(
        id=int(candidates.ids[i]),
        score=float(fused[i]),
        payload=candidates.payloads[i],
        spaces={
            s: SpaceScore(float(candidates.scores[s][i]), int(candidates.ranks[s][i]))
            for s in candidates.scores
        },
    )


def open_searcher(settings: Settings) -> Searcher:
    """A searcher with the configured model (loaded once) and store; close ``.store`` when done.
    Models with per-collection priors also read them from the metadata database."""
    from search.stores import open_store

    model = load_search_model(settings.model)
    priors = None
    if isinstance(model, PriorModel):
        from anyseek.db.migrate import open_database
        from search.priors import CollectionPriorsLookup

        priors = CollectionPriorsLookup(open_database(settings), model)
    return Searcher(
        model, open_store(settings), settings.search, settings.api.max_image_pixels, priors
    )
