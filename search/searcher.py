"""The search service: one :class:`Searcher`, a query's stages in order.

1. **resolve** (``anyseek.search.resolve``): the collection's current version (store collection,
   model, paging snapshot) in one database read, kept on SQLite until the next commit to the
   file; the model from the registry, checked once per identity.
2. **plan** (``anyseek.search.plan``): options checked, the page decoded
   (``anyseek.search.paging``), the parts turned into model inputs (``anyseek.search.inputs``).
3. **model**: one batched model call per model for a batch of plans; the only stage on the
   server's inference thread (with ``explain``'s model passes, ``anyseek.search.explain``).
4. **store** (``anyseek.search.candidates``): one store search per space, returning scores,
   payloads and (for several spaces) the hits' vectors in the others; "more like this" items'
   vectors first.
5. **fuse**: the spaces' scores fused, relevance (``anyseek.search.relevance``), the page after the
   cursor's key within the snapshot; **page**: hits and the next cursor.

:meth:`Searcher.prepare` runs 1-2 (the API runs it per request, off the event loop),
:meth:`Searcher.predict` 3, :meth:`Searcher.finish` 4-5 (on any thread, so a batch's store work
leaves the inference thread free for the next batch); :meth:`Searcher.search_many` runs them in
turn and is where a query and a prepared plan are told apart. Every answer carries each stage's
milliseconds (``timings_ms``). The HTTP API and ``anyseek search`` are thin layers over it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from anyseek.db.session import Database
from anyseek.identity import ModelIdentity
from anyseek.model.service import (
    MAX_PIXELS,
    PriorModel,
    SearchModel,
    load_search_model,
    query_fusion_weights,
)
from anyseek.search.candidates import FUSIONS, Candidates, SpaceQuery, best_first, gather
from anyseek.search.cursor import encode_cursor
from anyseek.search.explain import explain, model_work
from anyseek.search.inputs import model_inputs, query_warnings, warm_up
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.paging import after, cursor_key, first_page, next_cursor, window
from anyseek.search.plan import Plan, StageTimer, check_relevance, methods, spaces_of
from anyseek.search.priors import CollectionPriorsLookup
from anyseek.search.query import (
    SearchHitResult,
    SearchQuery,
    SearchResults,
    SpaceScore,
    UnknownReferenceError,
)
from anyseek.search.relevance import (
    NOT_PHOTOS_NOTE,
    Calibration,
    calibration_key,
    calibration_of,
    uncalibrated_note,
)
from anyseek.search.resolve import (
    NameResolver,
    Resolved,
    SnapshotLookup,
    VersionResolver,
    check_model,
)
from anyseek.search.stores.base import MAX_K, VectorStore
from anyseek.search.vectors import Liked, query_vectors
from anyseek.settings import SearchSettings, Settings

PriorsLookup = Callable[[str], Mapping[str, torch.Tensor] | None]  # collection -> its priors


class ModelContext:
    """What the searcher keeps per loaded model: its calibration and its priors lookup, made
    once (not per query) and dropped with the model."""

    def __init__(
        self, model: SearchModel, database: Database | None, priors: PriorsLookup | None
    ) -> None:
        self.model = model
        self.calibration: Calibration | None = calibration_of(model)
        self.lookup = None
        if database is not None and isinstance(model, PriorModel):
            self.lookup = CollectionPriorsLookup(database, model)
        self.given = priors  # a lookup passed in (by collection name), without versions

    @property
    def relevance_note(self) -> str | None:
        """Why this model's hits carry no relevance; None when it has a calibration."""
        if self.calibration is not None:
            return None
        return uncalibrated_note(self.model.name, self.model.version)

    def priors(self, resolved: Resolved) -> Mapping[str, torch.Tensor] | None:
        """The collection's priors for this model, when it measures information against them."""
        if self.lookup is not None:
            return self.lookup.for_key(resolved.collection, resolved.priors)
        return self.given(resolved.collection) if self.given is not None else None


class Searcher:
    """Searches the collections of one store, each in its current version with the model that
    made it (with ``database``; else by name with ``model``); safe to share between threads.

    ``registry`` loads the other models versions name (without one, every version must be
    ``model``'s). ``priors`` and ``snapshot`` are lookups by collection name for a searcher
    without a database: the collection's stored priors (``anyseek.search.priors``) and newest
    indexed item id (``anyseek.search.cursor``: later pages leave out items indexed since the
    first).
    """

    def __init__(
        self,
        model: SearchModel,
        store: VectorStore,
        settings: SearchSettings | None = None,
        max_query_pixels: int = MAX_PIXELS,
        priors: PriorsLookup | None = None,
        snapshot: SnapshotLookup | None = None,
        *,
        database: Database | None = None,
        registry: ModelRegistry | None = None,
    ) -> None:
        self.model = model
        self.store = store
        self.settings = settings or SearchSettings()
        self.max_query_pixels = max_query_pixels  # ANYSEEK_API__MAX_QUERY_PIXELS
        self.database = database
        self.registry = registry
        self.resolve = VersionResolver(database) if database else NameResolver(snapshot)
        self._given_priors = priors
        self._default = ModelContext(model, database, priors)
        self._contexts: dict[str | None, ModelContext] = {}  # by source, for other models
        self._checked: set[tuple[ModelIdentity, int]] = set()  # (vectors' model, id(model)) ok
        self._lock = threading.Lock()

    def with_versions(self, database: Database, registry: ModelRegistry | None) -> Searcher:
        """This searcher's model, store and settings, each collection searched in its current
        version (read from ``database``) with the model ``registry`` loads for it."""
        return Searcher(
            self.model,
            self.store,
            self.settings,
            self.max_query_pixels,
            database=database,
            registry=registry,
        )

    @property
    def calibration(self) -> Calibration | None:
        """The default model's relevance calibration (None: uncalibrated)."""
        return self._default.calibration

    @property
    def relevance_note(self) -> str | None:
        """Why the default model's hits carry no relevance; None when it has a calibration."""
        return self._default.relevance_note

    def close(self) -> None:
        """Close the store and the database connections of the lookups."""
        try:
            self.store.close()
        finally:
            self.resolve.close()
            close = getattr(self._given_priors, "close", None)
            if close is not None:
                close()

    def warm_up(self) -> list[str]:
        """Run every query transform and the model once, so the first query is not the slow one
        (lazy imports of image libraries take ~0.4 s); returns the modalities warmed up."""
        return warm_up(self.model)

    # --- all stages -------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        """Answer one query: a page of hits best first, and an explanation when asked."""
        [answer] = self.search_many([query])
        if isinstance(answer, Exception):
            raise answer
        return answer

    def search_many(self, queries: Sequence[SearchQuery | Plan]) -> list[SearchResults | Exception]:
        """Answer several queries (or plans from :meth:`prepare`) with one batched model call
        per model; a bad query gets its error in its place and spoils nothing for the others,
        whatever the error. The one place a query and a prepared plan are told apart."""
        plans: list[Plan | Exception] = []
        for query in queries:
            try:
                plans.append(query if isinstance(query, Plan) else self.prepare(query))
            except Exception as exc:
                plans.append(exc)
        self.predict([p for p in plans if isinstance(p, Plan)])
        return [p if isinstance(p, Exception) else self.finish_safely(p) for p in plans]

    # --- 1-2: resolve and plan --------------------------------------------------------------

    def prepare(self, query: SearchQuery) -> Plan:
        """Resolve the query's collection and plan it: checked, its page decoded, its parts
        turned into model inputs by the model of the collection's current version."""
        timer = StageTimer()
        with timer.stage("resolve"):
            resolved = self.resolve(query.collection)
            context = self._context(resolved)
        fusion, combine = methods(query, self.settings)
        check_relevance(query, context.relevance_note)
        offset, cursor = window(query, self.settings)
        model = context.model
        with timer.stage("transform"):
            spaces = spaces_of(query, self.store.spaces(resolved.store_name), model)
            inputs = model_inputs(model, query.parts, self.max_query_pixels)
            warnings = query_warnings(model, query.parts)
        priors = None
        if inputs:
            with timer.stage("priors"):
                priors = context.priors(resolved)
        if cursor is None:
            cursor, in_order = first_page(query, resolved.watermark, offset), offset
        else:
            in_order = 0  # the cursor's key says where the page starts
        plan = Plan(
            query,
            resolved,
            model,
            context.calibration,
            fusion,
            combine,
            in_order,
            cursor,
            spaces,
            inputs,
            timer,
            priors,
            warnings=warnings,
        )
        plan.prepared_at = time.perf_counter()  # the model stage times the wait for its batch
        return plan

    def _context(self, resolved: Resolved) -> ModelContext:
        """The model (and its calibration, priors) of a resolved version, its identity checked
        against the vectors' once per loaded model (409 when another model is found there)."""
        source = resolved.source
        model = self.model if self.registry is None else self.registry.get(source)
        checked = (resolved.made_by, id(model))
        if resolved.made_by is not None and checked not in self._checked:
            check_model(resolved.collection, resolved.made_by, model)  # a mismatch: 409
            with self._lock:
                self._checked.add(checked)
        if model is self.model:
            return self._default
        with self._lock:
            if self.registry is not None:
                loaded = set(self.registry.loaded())
                for evicted in [s for s in self._contexts if s not in loaded]:
                    del self._contexts[evicted]
            context = self._contexts.get(source)
            if context is None or context.model is not model:
                context = self._contexts[source] = ModelContext(model, self.database, None)
            return context

    # --- 3: model ---------------------------------------------------------------------------

    def predict(self, plans: Sequence[Plan]) -> list[Plan]:
        """Every plan's prediction: one batched call per model (one by one if that fails, so an
        error reaches only the query that caused it); with ``explain``, its model passes too."""
        for plan in plans:
            if plan.prepared_at:
                plan.timer.add("queue", plan.prepared_at)
        groups: dict[int, list[Plan]] = {}
        for plan in plans:
            if plan.inputs:
                groups.setdefault(id(plan.model), []).append(plan)
        for group in groups.values():
            _predict(group)
        for plan in plans:
            if plan.query.explain and not isinstance(plan.predicted, Exception):
                plan.explained = model_work(plan)
        return list(plans)

    # --- 4-5: store, fuse, page -------------------------------------------------------------

    def finish_safely(self, plan: Plan) -> SearchResults | Exception:
        """:meth:`finish`, its error returned in its place."""
        try:
            return self.finish(plan)
        except Exception as exc:
            return exc

    def finish(self, plan: Plan) -> SearchResults:
        """Answer a predicted plan: its store search, fusion, relevance and page."""
        query, timer = plan.query, plan.timer
        if isinstance(plan.predicted, Exception):
            raise plan.predicted
        liked: Liked = []
        if query.like:
            with timer.stage("items"):
                liked = self._liked(query, plan.target)
        vectors, information = query_vectors(plan.predicted, plan.sign, liked, plan.spaces)
        fused_weights = query_fusion_weights(information, plan.spaces)
        queries = [SpaceQuery(s, vectors[s], fused_weights[s]) for s in plan.spaces]
        settings = self.settings
        served = plan.cursor.served if plan.cursor else plan.offset
        per_space = min(
            MAX_K, max(settings.min_candidates, settings.candidate_factor * (served + query.k))
        )
        with timer.stage("store"):
            exclude = {item.id for item in query.like if item.weight > 0}
            candidates = gather(self.store, plan.target, queries, per_space, query.filter, exclude)
        with timer.stage("fuse"):
            fused = FUSIONS[plan.fusion](candidates, fused_weights, settings.rrf_k)
            order = best_first(candidates, fused)
            relevant = _relevance(plan, candidates, fused_weights, settings.rrf_k)
            if query.min_score is not None:
                order = order[fused[order] >= query.min_score]
            if query.min_relevance is not None and relevant is not None:
                order = order[relevant[order] >= query.min_relevance]
            order = after(order, candidates.ids, fused, plan.cursor, bool(query.cursor))
        with timer.stage("page"):
            page = order[plan.offset : plan.offset + query.k]
            hits = tuple(_hit(candidates, fused, relevant, int(i)) for i in page)
            more = len(order) > plan.offset + query.k and served + query.k < settings.max_window
            cursor = None
            if more and plan.cursor is not None and hits:
                after_page = next_cursor(plan.cursor, hits, served + len(hits))
                cursor = encode_cursor(after_page, cursor_key(settings))
        timer.ms["total"] = round(sum(timer.ms.values()), 3)
        explanation = None
        if query.explain:
            explanation = explain(plan, information, fused_weights, candidates)
        return SearchResults(
            hits=hits,
            collection=query.collection,
            offset=served,
            next_cursor=cursor,
            explanation=explanation,
            model={"name": plan.model.name, "version": plan.model.version},
            timings_ms=dict(timer.ms),
            warnings=plan.warnings,
            relevance_note=_results_note(plan, hits),
        )

    def _liked(self, query: SearchQuery, target: str) -> Liked:
        """(weight, stored vectors per space) of every "more like this" item."""
        ids = [item.id for item in query.like]
        found = {i.id: i for i in self.store.retrieve(target, ids, with_vectors=True)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise UnknownReferenceError(
                f"collection {query.collection!r} has no item {', '.join(map(str, missing))}",
                "like",
            )
        return [(item.weight, found[item.id].vectors) for item in query.like]


def _predict(plans: list[Plan]) -> None:
    """The predictions of plans of one model from one batched call (one by one if it fails)."""
    model = plans[0].model
    requests = [p.request for p in plans]
    start = time.perf_counter()
    try:
        found: list = model.embed_queries(requests)
    except Exception:
        found = []
        for request in requests:
            try:
                found.append(model.embed_queries([request])[0])
            except Exception as exc:
                found.append(exc)
    for plan, prediction in zip(plans, found, strict=True):
        plan.predicted = prediction
        plan.timer.add("model", start)


def _results_note(plan: Plan, hits: tuple[SearchHitResult, ...]) -> str | None:
    """Why the hits carry no relevance: an uncalibrated model, or items that are no photos (the
    calibration's domain); None when some hit has one."""
    if plan.calibration is None:
        return _note(plan.model)
    if hits and all(hit.relevance is None for hit in hits):
        return NOT_PHOTOS_NOTE
    return None


def _note(model: SearchModel) -> str:
    """Why an uncalibrated model's hits carry no relevance."""
    return uncalibrated_note(model.name, model.version)


def _relevance(
    plan: Plan, candidates: Candidates, fused_weights: Mapping[str, float], rrf_k: int
) -> np.ndarray | None:
    """Every candidate's relevance in [0, 1] (``anyseek.search.relevance``): from its scores fused
    by information, whichever fusion orders the results, as the calibration was fitted; None for a
    model without a calibration."""
    if plan.calibration is None:
        return None
    scores = FUSIONS["information"](candidates, fused_weights, rrf_k)
    if not len(scores):
        return np.zeros(0)
    positive = [p.modality for p in plan.query.parts if p.weight > 0]
    kind = calibration_key(positive, bool(plan.query.like))
    found = plan.calibration.relevance(kind, scores, float(np.max(scores)))
    return np.round(found, 4)  # as reported: the filter keeps what the hits say


def _hit(
    candidates: Candidates, fused: np.ndarray, relevant: np.ndarray | None, i: int
) -> SearchHitResult:
    """The result of candidate position ``i``. Relevance is calibrated on photos: an item
    without one (a depth map, a caption: issue 51) gets none rather than a wrong one."""
    item = int(candidates.ids[i])
    payload = candidates.payloads[item]
    photo = "rgb" in payload.get("modalities", ("rgb",))
    return SearchHitResult(
        id=item,
        score=float(fused[i]),
        relevance=None if relevant is None or not photo else float(relevant[i]),
        payload=payload,
        spaces={
            s: SpaceScore(float(candidates.scores[s][i]), int(candidates.ranks[s][i]))
            for s in candidates.scores
        },
    )


def open_searcher(settings: Settings) -> Searcher:
    """The service's searcher: the configured model (loaded once) and store, each collection
    in its current version read from the metadata database, other versions' models loaded by a
    registry; close it when done."""
    from anyseek.db.migrate import open_database
    from anyseek.search.stores import open_store

    model = load_search_model(settings.model)
    database = open_database(settings)
    return Searcher(
        model,
        open_store(settings),
        settings.search,
        settings.api.max_query_pixels,
        database=database,
        registry=ModelRegistry(settings.model, default=model),
    )
