"""What routes depend on: the app's state (settings, searcher, database, batcher) and API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from anyseek.db.session import Database
from anyseek.settings import Settings
from api.batching import SearchBatcher
from api.errors import ApiError
from api.metrics import Metrics
from search.searcher import Searcher

API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="one of ANYSEEK_API__API_KEYS"
)


@dataclass
class AppState:
    """Everything loaded once at start-up and shared by every request."""

    settings: Settings
    database: Database
    metrics: Metrics
    searcher: Searcher | None = None
    batcher: SearchBatcher | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ready_searcher(self) -> Searcher:
        """The searcher, or a 503 while the model is still loading."""
        if self.searcher is None:
            raise ApiError(503, "the model is still loading; retry in a few seconds")
        return self.searcher


def get_state(request: Request) -> AppState:
    """The app's state."""
    return request.app.state.anyseek


def _check_key(state: AppState, key: str | None, required: bool) -> None:
    """Refuse a missing key (when required) and any wrong key, comparing in constant time."""
    keys = [k.get_secret_value() for k in state.settings.api.api_keys]
    if not keys:
        return
    if key is None:
        if required:
            raise ApiError(401, f"this request needs an API key in the {API_KEY_HEADER} header")
        return
    if not any(secrets.compare_digest(key.encode(), k.encode()) for k in keys):
        raise ApiError(401, f"the API key in the {API_KEY_HEADER} header is not valid")


def write_access(
    state: AppState = Depends(get_state), key: str | None = Security(api_key_header)
) -> None:
    """Writes need a valid key whenever keys are configured."""
    _check_key(state, key, required=True)


def read_access(
    state: AppState = Depends(get_state), key: str | None = Security(api_key_header)
) -> None:
    """Reads need a key only with ``ANYSEEK_API__AUTH_READS``; a wrong key is refused anyway."""
    _check_key(state, key, required=state.settings.api.auth_reads)
