"""The FastAPI app: ``create_app(settings)`` wires routes, errors, auth, metrics and the lifespan.

The lifespan loads the model and opens the store once (``open_searcher`` + ``warm_up``, on the
inference thread so the loop stays free), starts the search runner (``anyseek.search.runner``),
and closes everything at shutdown. Tests pass an already loaded ``searcher`` to skip the loading.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from anyseek.api import errors
from anyseek.api.deps import WRITE, AppState
from anyseek.api.forward import WriteForwarder
from anyseek.api.indexing import JobRunner
from anyseek.api.metrics import Metrics, RequestTimer
from anyseek.api.openapi import finish
from anyseek.api.page import Page
from anyseek.api.query_bodies import MB
from anyseek.api.routes import collections, export, health, items, jobs, model, search, versions
from anyseek.db.session import Database, database_for
from anyseek.model.service import QUERY_KINDS, default_threads, use_threads
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.runner import inference_thread, runner_for
from anyseek.search.searcher import Searcher, open_searcher
from anyseek.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
ROUTERS = (  # search first: the router tries routes in turn, and searches are most requests
    search.router,
    collections.router,
    export.router,
    versions.router,
    items.router,
    jobs.router,
    model.router,
    health.router,
)
log = logging.getLogger("anyseek.api")


def _load(settings: Settings) -> Searcher:
    """Load the model and open the store, then run every transform once (on the inference
    thread, which the store then sets up for one query at a time)."""
    searcher = open_searcher(settings)
    searcher.store.use_for_single_queries()
    searcher.warm_up()
    return searcher


def _inference_threads(settings: Settings) -> int:
    """The model thread's intra-op threads: as set, else torch's default in this process."""
    return settings.api.inference_threads or default_threads()


def create_app(
    settings: Settings,
    *,
    searcher: Searcher | None = None,
    database: Database | None = None,
    writer_url: str | None = None,
    on_loaded: Callable[[], None] | None = None,
) -> FastAPI:
    """The API app; ``searcher``/``database`` given are used (and not closed) instead of opened.

    A given searcher must search with ``settings.search``: its limits are the ones the OpenAPI
    document publishes. With ``writer_url`` the app is a *reader* (``anyseek serve --workers``):
    it searches and reads, runs no index jobs, and forwards every write route's request to the
    writer process at that address (``anyseek.api.forward``). ``on_loaded`` runs (on a thread) once
    the model has loaded, before the server listens (``anyseek.api.readers``: the processes start
    together).
    """
    if searcher is not None and searcher.settings != settings.search:
        raise ValueError("the searcher's search settings differ from the app's settings.search")
    owns_searcher, owns_database = searcher is None, database is None
    database = database or database_for(settings)
    state = AppState(settings=settings, database=database, metrics=Metrics(database))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        inference = inference_thread(partial(use_threads, _inference_threads(settings)))
        use_threads(1)  # the event loop's own torch calls (small ones) stay off the cores
        if searcher is None:
            loop = asyncio.get_running_loop()
            state.searcher = await loop.run_in_executor(inference, _load, settings)
        else:
            state.searcher = searcher
        state.models = ModelRegistry(settings.model, default=state.searcher.model)
        state.versioned = state.searcher.with_versions(database, state.models)
        state.runner = runner_for(  # each search's one entry: pool, batches, pool
            state.versioned,
            workers=settings.api.query_decode_workers,
            max_batch=settings.api.batch_max,
            wait_ms=settings.api.batch_wait_ms,
            join_ms=settings.api.batch_join_ms,
            decode_timeout_s=settings.api.query_decode_timeout_s,
            on_batch=state.metrics.batches.observe,
            inference=inference,
        )
        if settings.broker_url:
            state.broker_check = _broker_probe(settings)
        if writer_url is None:  # the writer: index jobs run here (a reader forwards them)
            state.jobs = JobRunner(settings, database, state.searcher, state.models)
            await _resume_jobs(state.jobs)
        if on_loaded is not None:
            await asyncio.to_thread(on_loaded)
        log.info("anyseek API ready: model %s", state.searcher.model.name)
        try:
            yield
        finally:
            if state.jobs is not None:
                await asyncio.to_thread(state.jobs.shutdown)
            await asyncio.to_thread(state.runner.close)
            if owns_searcher:
                state.searcher.close()  # the store and the priors lookup's database
            if owns_database:
                database.dispose()

    app = FastAPI(
        title="anyseek",
        version="1",
        summary="Find images by caption, sketch, depth, segmentation or another image.",
        lifespan=lifespan,
        max_body_size=body_limit(settings),  # counted as it streams: Content-Length or not
    )
    app.state.anyseek = state
    app.openapi = _finished_openapi(app, settings)  # type: ignore[method-assign]
    if writer_url is not None:  # innermost: timed, and its 503s given a Retry-After
        app.add_middleware(WriteForwarder, writer_url=writer_url, write_routes=_write_routes())
    errors.install(app, settings.api.retry_after_s)
    app.add_middleware(RequestTimer, metrics=state.metrics)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/", Page(directory=STATIC_DIR, html=True), name="static")
    return app


async def _resume_jobs(runner: JobRunner) -> None:
    """Resume the index jobs a stopped server left unfinished."""
    try:
        resumed = await asyncio.to_thread(runner.resume_unfinished)
    except Exception as exc:  # database away: serve anyway, /readyz says why
        log.warning("could not look for unfinished index jobs: %s", exc)
        resumed = []
    if resumed:
        log.info("resuming index jobs %s", resumed)


def _finished_openapi(app: FastAPI, settings: Settings) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI document, built once the model has loaded: the search limits of its
    settings, the model's query modalities, every error each route answers, and the links
    between routes (``anyseek.api.openapi``)."""
    build = app.openapi
    kept: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if kept:
            return kept[0]
        app.openapi_schema = None  # FastAPI's own cache: built afresh until the model is known
        searcher = app.state.anyseek.searcher
        taken = list(searcher.model.query_modalities) if searcher else list(QUERY_KINDS)
        document = finish(build(), settings, _writes(ROUTERS), taken)
        if searcher is not None:
            kept.append(document)
        return document

    return openapi


def _write_routes(routers: tuple[APIRouter, ...] = ROUTERS) -> list[APIRoute]:
    """Every route that needs write access (``dependencies=[api.deps.WRITE]``)."""
    return [
        route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and WRITE in route.dependencies
    ]


def _writes(routers: tuple[APIRouter, ...]) -> set[tuple[str, str]]:
    """The (path, method) of every route that needs write access (``anyseek.api.deps.WRITE``)."""
    return {
        (route.path, method.lower()) for route in _write_routes(routers) for method in route.methods
    }


def _broker_probe(settings: Settings) -> Callable[[], None]:
    """A check that the configured broker answers (for /readyz)."""

    def probe() -> None:
        from anyseek.workers.app import check_broker, configure

        check_broker(configure(settings))

    return probe


def body_limit(settings: Settings) -> int:
    """The largest request body: every file modality's cap together, plus room for the rest.
    Starlette's body limit holds it whether or not the client sends ``Content-Length`` (a body
    streamed without one is cut with a 413 as soon as it passes the cap)."""
    return int(settings.api.max_upload_mb * MB * 8) + 16 * MB
