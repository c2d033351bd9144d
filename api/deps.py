"""What routes depend on, as ``Annotated`` aliases: the app's typed state (:data:`State`), one
database session per request (:data:`DbSession`) and the API-key checks."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from anyseek.api.errors import ApiError
from anyseek.api.indexing import JobRunner
from anyseek.api.metrics import Metrics
from anyseek.db.session import Database
from anyseek.search.model_registry import ModelRegistry
from anyseek.search.runner import SearchRunner
from anyseek.search.searcher import Searcher
from anyseek.settings import Settings

API_KEY_HEADER = "X-API-Key"
KEY_FIELD = f"header.{API_KEY_HEADER}"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="one of ANYSEEK_API__API_KEYS"
)
LOADING = "the model is still loading; retry in a few seconds"


@dataclass
class AppState:
    """Everything loaded once at start-up and shared by every request; the lifespan fills in
    what needs the model (searcher, search runner, job runner)."""

    settings: Settings
    database: Database
    metrics: Metrics
    searcher: Searcher | None = None  # the default model's (ANYSEEK_MODEL__SOURCE)
    models: ModelRegistry | None = None  # every model a collection needs, loaded lazily
    versioned: Searcher | None = None  # each collection in its current version, own model
    runner: SearchRunner | None = None  # every search's one entry (anyseek.search.runner)
    jobs: JobRunner | None = None
    broker_check: Callable[[], None] | None = None  # raises when the broker does not answer

    @property
    def ready_searcher(self) -> Searcher:
        """The searcher, or a 503 while the model is still loading."""
        if self.searcher is None:
            raise ApiError(503, LOADING)
        return self.searcher

    @property
    def ready_models(self) -> ModelRegistry:
        """The model registry, or a 503 while the default model is still loading."""
        if self.models is None:
            raise ApiError(503, LOADING)
        return self.models

    @property
    def ready_runner(self) -> SearchRunner:
        """The search runner, or a 503 while the model is loading."""
        if self.runner is None:
            raise ApiError(503, LOADING)
        return self.runner

    @property
    def ready_jobs(self) -> JobRunner:
        """The index job runner, or a 503 while the model is still loading."""
        if self.jobs is None:
            raise ApiError(503, LOADING)
        return self.jobs


async def get_state(request: Request) -> AppState:
    """The app's state, set once by ``create_app`` (async, as every dependency that does not
    block: FastAPI runs a plain ``def`` one on its thread pool, a hop per request)."""
    state = request.app.state.anyseek
    assert isinstance(state, AppState)
    return state


State = Annotated[AppState, Depends(get_state)]


def get_session(state: State) -> Iterator[Session]:
    """The request's one database session: committed when the route returns (before the response
    is sent), rolled back when it raises."""
    with state.database.unit_of_work() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
ApiKey = Annotated[str | None, Security(api_key_header)]


def _check_key(state: AppState, key: str | None, required: bool) -> None:
    """Refuse a missing key (when required) and any wrong key, comparing in constant time."""
    keys = [k.get_secret_value() for k in state.settings.api.api_keys]
    if not keys:
        return
    if key is None:
        if required:
            raise ApiError(
                401, f"this request needs an API key in the {API_KEY_HEADER} header", KEY_FIELD
            )
        return
    if not any(secrets.compare_digest(key.encode(), k.encode()) for k in keys):
        raise ApiError(401, f"the API key in the {API_KEY_HEADER} header is not valid", KEY_FIELD)


async def write_access(state: State, key: ApiKey) -> None:
    """Writes need a valid key whenever keys are configured."""
    _check_key(state, key, required=True)


async def read_access(state: State, key: ApiKey) -> None:
    """Reads need a key only with ``ANYSEEK_API__AUTH_READS``; a wrong key is refused anyway."""
    _check_key(state, key, required=state.settings.api.auth_reads)


READ = Depends(read_access)  # a route's ``dependencies=[READ]``: its value is never used
WRITE = Depends(write_access)
