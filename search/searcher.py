"""The search service: one :class:`Searcher` over a loaded model and an open store, one method.

``Searcher(model, store, settings).search(query)`` turns the query's parts into model inputs,
predicts one vector per space (one joint encoder pass when every weight is 1; otherwise the
parts combined by guidance or fusion, see ``model.families.combination``), adds the stored vectors
of "more like this" items, gathers every space's candidates from the store, scores their union in
every space and fuses them (``search.candidates``). The HTTP API and ``anyseek search`` are thin
layers over it: they build a :class:`SearchQuery` and render the :class:`SearchResults`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from anyseek.errors import AnyseekError
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
from search.candidates import FUSIONS, Candidates, SpaceQuery, best_first, gather, payloads_of
from search.cursor import (
    MAX_TIED,
    SCORE_TOLERANCE,
    PageCursor,
    decode_cursor,
    encode_cursor,
    fingerprint,
)
from search.inputs import describe_inputs, model_inputs, query_warnings, warm_up
from search.query import (
    Explanation,
    SearchHitResult,
    SearchInputError,
    SearchQuery,
    SearchResults,
    SpaceExplanation,
    SpaceScore,
    UnknownReferenceError,
)
from search.reconstruct import explain_reconstructions
from search.relevance import calibration_of, query_kind, uncalibrated_note
from search.steering import steer
from search.stores.base import MAX_K, Payload, VectorStore

WEIGHTED_COMBINATIONS = tuple(name for name in COMBINATIONS if name != "joint")
PriorsLookup = Callable[[str], Mapping[str, torch.Tensor] | None]  # collection -> its priors
SnapshotLookup = Callable[[str], int | None]  # collection -> its newest indexed item id


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


@dataclass
class Plan:
    """One query on its way: checked options, model inputs, then the model's prediction.

    :meth:`Searcher.prepare` makes one (the API does so before the query joins a micro-batch,
    so decoding happens per request and never inside the batch)."""

    query: SearchQuery
    fusion: str
    combine: str
    offset: int  # hits served before this page (the offset, or the cursor's count)
    cursor: PageCursor | None
    spaces: dict[str, float]
    inputs: dict[str, torch.Tensor]
    timer: _Timer
    target: str  # the store collection searched: the collection's current version
    priors: Mapping[str, torch.Tensor] | None = None  # the collection's, for query information
    source: str | None = None  # the model source it was prepared for (search.versions)
    predicted: dict[str, QueryEmbedding] | Exception = field(default_factory=dict)
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
    ``snapshot`` gives a collection's newest indexed item id (``search.snapshots``): the first
    page's cursor keeps it, so later pages leave out items indexed since (without it, paging is
    still keyed by score, so no hit repeats and none is skipped).
    """

    def __init__(
        self,
        model: SearchModel,
        store: VectorStore,
        settings: SearchSettings | None = None,
        max_query_pixels: int = MAX_PIXELS,
        priors: PriorsLookup | None = None,
        snapshot: SnapshotLookup | None = None,
    ) -> None:
        self.model = model
        self.store = store
        self.settings = settings or SearchSettings()
        self.max_query_pixels = max_query_pixels  # ANYSEEK_API__MAX_QUERY_PIXELS
        self.priors = priors
        self.snapshot = snapshot
        self.calibration = calibration_of(model)  # None: uncalibrated

    def close(self) -> None:
        """Close the store and, when they have them, the lookups' database connections."""
        try:
            self.store.close()
        finally:
            for lookup in (self.priors, self.snapshot):
                close = getattr(lookup, "close", None)
                if close is not None:
                    close()

    def warm_up(self) -> list[str]:
        """Run every query transform and the model once, so the first query is not the slow one
        (lazy imports of image libraries take ~0.4 s); returns the modalities warmed up."""
        return warm_up(self.model)

    def search(self, query: SearchQuery) -> SearchResults:
        """Answer one query: a page of hits best first, and an explanation when asked."""
        [answer] = self.search_many([query])
        if isinstance(answer, Exception):
            raise answer
        return answer

    def search_many(
        self, queries: Sequence[SearchQuery | Plan], targets: Sequence[str] | None = None
    ) -> list[SearchResults | Exception]:
        """Answer several queries (or prepared plans) with one batched model call
        (micro-batching for the API); a bad query gets its error in its place and spoils nothing
        for the others, whatever the error. ``targets`` names the store collection of each query
        not yet prepared (its collection's current version, see ``search.versions``); by default
        the collection's own name."""
        plans: list[Plan | Exception] = []
        for i, query in enumerate(queries):
            try:
                if isinstance(query, Plan):
                    plans.append(query)
                else:
                    plans.append(self.prepare(query, targets[i] if targets else None))
            except Exception as exc:
                plans.append(exc)
        self._predict([p for p in plans if isinstance(p, Plan) and p.inputs])
        answers: list[SearchResults | Exception] = []
        for plan in plans:
            try:
                answers.append(plan if isinstance(plan, Exception) else self._answer(plan))
            except Exception as exc:
                answers.append(exc)
        return answers

    def prepare(self, query: SearchQuery, target: str | None = None) -> Plan:
        """Check the query and turn its parts into model inputs, to be searched in the store
        collection ``target`` (by default the collection's own name)."""
        target = target or query.collection
        timer = _Timer()
        fusion, combine = self._methods(query)
        self._check_relevance(query)
        offset, cursor = self._window(query)
        spaces = self._spaces(query, target)
        with timer.stage("transform"):
            inputs = model_inputs(self.model, query.parts, self.max_query_pixels)
            warnings = query_warnings(self.model, query.parts)
        priors = None
        if self.priors is not None and inputs:
            with timer.stage("priors"):
                priors = self.priors(query.collection)
        if cursor is None:
            with timer.stage("snapshot"):
                watermark = self.snapshot(query.collection) if self.snapshot else None
            cursor = PageCursor(query.collection, fingerprint(query), watermark, offset, 0.0, ())
            offset_in_order = offset
        else:
            offset_in_order = 0  # the cursor's key says where the page starts
        return Plan(
            query,
            fusion,
            combine,
            offset_in_order,
            cursor,
            spaces,
            inputs,
            timer,
            target,
            priors,
            warnings=warnings,
        )

    def _predict(self, plans: list[Plan]) -> None:
        """Every plan's prediction from one batched model call (one by one if that fails, so
        an error reaches only the query that caused it)."""
        if not plans:
            return
        requests = [p.request for p in plans]
        start = time.perf_counter()
        try:
            found: list = self.model.embed_queries(requests)
        except Exception:
            found = []
            for request in requests:
                try:
                    found.append(self.model.embed_queries([request])[0])
                except Exception as exc:
                    found.append(exc)
        ms = round((time.perf_counter() - start) * 1000, 3)
        for plan, prediction in zip(plans, found, strict=True):
            plan.predicted = prediction
            plan.timer.ms["model"] = ms

    def _answer(self, plan: Plan) -> SearchResults:
        """Add liked items, gather and fuse the candidates, and cut the page."""
        query, timer, offset = plan.query, plan.timer, plan.offset
        if isinstance(plan.predicted, Exception):
            raise plan.predicted
        with timer.stage("items"):
            liked = self._liked(query, plan.target)
        vectors, information = _query_vectors(plan.predicted, plan.sign, liked, plan.spaces)
        fused_weights = _space_weights(information, plan.spaces)
        queries = [SpaceQuery(s, vectors[s], fused_weights[s]) for s in plan.spaces]
        settings = self.settings
        served = plan.cursor.served if plan.cursor else offset
        per_space = min(
            MAX_K, max(settings.min_candidates, settings.candidate_factor * (served + query.k))
        )
        with timer.stage("store"):
            exclude = {item.id for item in query.like if item.weight > 0}
            candidates = gather(self.store, plan.target, queries, per_space, query.filter, exclude)
        with timer.stage("fuse"):
            fused = FUSIONS[plan.fusion](candidates, fused_weights, settings.rrf_k)
            order = best_first(candidates, fused)
            relevant = self._relevance(plan, candidates, fused_weights)
            if query.min_score is not None:
                order = order[fused[order] >= query.min_score]
            if query.min_relevance is not None and relevant is not None:
                order = order[relevant[order] >= query.min_relevance]
            order = _after(order, candidates.ids, fused, plan.cursor, bool(query.cursor))
            page = order[offset : offset + query.k]
        with timer.stage("payloads"):
            shown = candidates.ids[page].tolist()
            payloads = payloads_of(self.store, plan.target, shown)
            hits = tuple(
                _hit(candidates, fused, relevant, int(i), payloads[item])
                for i, item in zip(page, shown, strict=True)
                if item in payloads
            )
        timer.ms["total"] = round(sum(timer.ms.values()), 3)
        more = len(order) > offset + query.k and served + query.k < settings.max_window
        next_cursor = None
        if more and plan.cursor is not None:
            next_cursor = encode_cursor(
                _next(plan.cursor, hits, served + len(hits)), self._cursor_key
            )
        explanation = None
        if query.explain:  # extra model work (per-part passes, captions): only when asked
            explanation = self._explain(plan, information, fused_weights, candidates)
        return SearchResults(
            hits=hits,
            collection=query.collection,
            offset=served,
            next_cursor=next_cursor,
            explanation=explanation,
            model={"name": self.model.name, "version": self.model.version},
            timings_ms=dict(timer.ms),
            warnings=plan.warnings,
            relevance_note=self.relevance_note,
        )

    @property
    def relevance_note(self) -> str | None:
        """Why this model's hits carry no relevance; None when it has a calibration."""
        if self.calibration is not None:
            return None
        return uncalibrated_note(self.model.name, self.model.version)

    def _relevance(
        self, plan: Plan, candidates: Candidates, fused_weights: Mapping[str, float]
    ) -> np.ndarray | None:
        """Every candidate's relevance in [0, 1] (``search.relevance``): from its scores fused by
        information, whichever fusion orders the results, as the calibration was fitted; None
        for a model without a calibration."""
        if self.calibration is None:
            return None
        scores = FUSIONS["information"](candidates, fused_weights, self.settings.rrf_k)
        if not len(scores):
            return np.zeros(0)
        positive = [p.modality for p in plan.query.parts if p.weight > 0]
        kind = query_kind(positive, bool(plan.query.like))
        found = self.calibration.relevance(kind, scores, float(np.max(scores)))
        return np.round(found, 4)  # as reported: the filter keeps what the hits say

    def _explain(
        self,
        plan: Plan,
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

    def _imagine(self, plan: Plan) -> str | None:
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

    def _reconstruct(self, plan: Plan) -> dict[str, str] | None:
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

    def _check_relevance(self, query: SearchQuery) -> None:
        """Refuse a minimum relevance the model cannot measure (it has no calibration)."""
        if query.min_relevance is not None and self.relevance_note is not None:
            raise SearchInputError(f"min_relevance: {self.relevance_note}", "min_relevance")

    def _methods(self, query: SearchQuery) -> tuple[str, str]:
        """The fusion and combination methods, refusing unknown names."""
        fusion = query.fusion or self.settings.fusion
        if fusion not in FUSIONS:
            raise SearchInputError(
                f"unknown fusion {fusion!r}; choose one of {list(FUSIONS)}", "fusion"
            )
        combine = query.combine or self.settings.combine
        if combine not in WEIGHTED_COMBINATIONS:
            raise SearchInputError(
                f"unknown combination {combine!r}; choose one of {list(WEIGHTED_COMBINATIONS)}",
                "combine",
            )
        return fusion, combine

    @property
    def _cursor_key(self) -> bytes:
        """The key cursors are signed with."""
        return self.settings.cursor_key.get_secret_value().encode()

    def _window(self, query: SearchQuery) -> tuple[int, PageCursor | None]:
        """Hits served before the page (the offset, or the cursor's count) and the decoded cursor,
        within the settings' limits: the one check of ``k``, ``offset`` and ``cursor`` for the API
        and the CLI (the OpenAPI document shows the limits)."""
        if query.k > self.settings.max_k:
            raise SearchInputError(
                f"k must be at most {self.settings.max_k} (ANYSEEK_SEARCH__MAX_K), got {query.k}; "
                "page with a cursor",
                "k",
            )
        cursor = decode_cursor(query.cursor, query, self._cursor_key) if query.cursor else None
        offset = cursor.served if cursor else query.offset
        if offset + query.k > self.settings.max_window:
            raise SearchInputError(
                f"offset + k must be at most {self.settings.max_window} "
                f"(ANYSEEK_SEARCH__MAX_WINDOW), got {offset + query.k}: narrow the query with a "
                "filter instead of paging this deep",
                "cursor" if query.cursor else "offset",
            )
        return offset, cursor

    def _spaces(self, query: SearchQuery, target: str) -> dict[str, float]:
        """Spaces to score in, with the caller's weights: those both model and collection have."""
        stored = {s.name: s.dim for s in self.store.spaces(target)}
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
            raise UnknownReferenceError(
                f"unknown space {', '.join(map(repr, unknown))}; collection {query.collection!r} "
                f"can be searched in: {', '.join(usable)}",
                "spaces",
            )
        return {s: float(w) for s, w in query.spaces.items()}

    def _liked(self, query: SearchQuery, target: str) -> list[tuple[float, dict]]:
        """(weight, stored vectors per space) of every "more like this" item."""
        if not query.like:
            return []
        ids = [item.id for item in query.like]
        found = {i.id: i for i in self.store.retrieve(target, ids, with_vectors=True)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise UnknownReferenceError(
                f"collection {query.collection!r} has no item {', '.join(map(str, missing))}",
                "like",
            )
        return [(item.weight, found[item.id].vectors) for item in query.like]


def _query_vectors(
    predicted: Mapping[str, QueryEmbedding],
    sign: float,
    liked: list[tuple[float, dict]],
    spaces: Mapping[str, float],
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per space: the model's prediction (times ``sign``) plus the weighted stored vectors of liked
    items, unit length, then steered away from "not like this" items (``search.steering``); and
    the information fusion weighs it by (the model's, or 1 for items)."""
    vectors, information = {}, {}
    for space in spaces:
        total = sign * predicted[space].vector.astype(np.float64) if predicted else 0.0
        negatives = []
        for weight, stored in liked:
            if space not in stored:
                continue
            item = stored[space].astype(np.float64)
            if weight > 0:
                total = total + weight * item
            else:
                negatives.append((weight, item / max(float(np.linalg.norm(item)), 1e-12)))
        total = _unit(total, space)
        vectors[space] = _unit(steer(total, negatives), space).astype(np.float32)
        information[space] = predicted[space].information if predicted else 1.0
    return vectors, information


def _unit(vector: np.ndarray | float, space: str) -> np.ndarray:
    """The vector at unit length, or a clear error when the query's parts cancel out."""
    norm = float(np.linalg.norm(vector)) if not np.isscalar(vector) else 0.0
    if norm < 1e-6:
        raise SearchInputError(
            f"the query's parts cancel out in space {space!r}: give the positive parts more "
            "weight than the negative ones",
            "parts",
        )
    return np.asarray(vector) / norm


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


def _after(
    order: np.ndarray, ids: np.ndarray, fused: np.ndarray, cursor: PageCursor | None, keyed: bool
) -> np.ndarray:
    """The ranked candidate positions a page may show: within the snapshot's watermark and, for a
    page after a cursor, after its key (scores below the last served one, ties not yet served)."""
    if cursor is None:
        return order
    keep = np.ones(len(order), dtype=bool)
    if cursor.watermark is not None:
        keep &= ids[order] <= cursor.watermark
    if keyed:
        keep &= fused[order] < cursor.score + SCORE_TOLERANCE
        if cursor.tied:
            keep &= ~np.isin(ids[order], np.array(cursor.tied, dtype=np.int64))
    return order[keep]


def _next(cursor: PageCursor, hits: Sequence[SearchHitResult], served: int) -> PageCursor:
    """The cursor after a page: keyed by its last hit's score, carrying the ids served at (about)
    that score, from this page and, when the score barely moved, from the previous ones."""
    score = hits[-1].score
    tied = [h.id for h in hits if abs(h.score - score) <= SCORE_TOLERANCE]
    if cursor.served and abs(cursor.score - score) <= SCORE_TOLERANCE:
        tied = list(cursor.tied) + tied
    return PageCursor(
        cursor.collection,
        cursor.query,
        cursor.watermark,
        served,
        score,
        tuple(dict.fromkeys(tied))[-MAX_TIED:],
    )


def _hit(
    candidates: Candidates,
    fused: np.ndarray,
    relevant: np.ndarray | None,
    i: int,
    payload: Payload,
) -> SearchHitResult:
    """The result of candidate position ``i``. Relevance is calibrated on photos: an item
    without one (a depth map, a caption: issue 51) gets none rather than a wrong one."""
    photo = "rgb" in payload.get("modalities", ("rgb",))
    return SearchHitResult(
        id=int(candidates.ids[i]),
        score=float(fused[i]),
        relevance=None if relevant is None or not photo else float(relevant[i]),
        payload=payload,
        spaces={
            s: SpaceScore(float(candidates.scores[s][i]), int(candidates.ranks[s][i]))
            for s in candidates.scores
        },
    )


def open_searcher(settings: Settings) -> Searcher:
    """A searcher with the configured model (loaded once) and store; close it when done. Paging
    snapshots (and, for models with per-collection priors, the priors) come from the metadata
    database."""
    from search.stores import open_store

    model = load_search_model(settings.model)
    from anyseek.db.migrate import open_database
    from search.snapshots import CollectionWatermark

    database = open_database(settings)  # the lookups share it; each closes it (idempotent)
    priors = None
    if isinstance(model, PriorModel):
        from search.priors import CollectionPriorsLookup

        priors = CollectionPriorsLookup(database, model)
    return Searcher(
        model,
        open_store(settings),
        settings.search,
        settings.api.max_query_pixels,
        priors,
        CollectionWatermark(database),
    )
