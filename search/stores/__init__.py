"""Vector stores behind one interface; ``open_store(settings)`` picks the backend by name.

Adding a backend is one entry in ``BACKENDS``: a function from Settings to a VectorStore.
"""

from __future__ import annotations

from collections.abc import Callable

from anyseek.errors import SettingsError
from anyseek.settings import Settings
from search.stores.base import (
    MAX_K,
    Filter,
    InvalidInputError,
    Range,
    SearchHit,
    SearchResult,
    SpaceMismatchError,
    SpaceSpec,
    StoredItem,
    StoreHealth,
    VectorStore,
)


def _open_faiss(settings: Settings) -> VectorStore:
    from search.stores.faiss_store import FaissStore

    return FaissStore(settings.effective_faiss_dir, settings.store)


def _open_qdrant(settings: Settings) -> VectorStore:
    from search.stores.qdrant_store import QdrantStore

    return QdrantStore.from_settings(settings)


BACKENDS: dict[str, Callable[[Settings], VectorStore]] = {
    "faiss": _open_faiss,
    "qdrant": _open_qdrant,
}


def open_store(settings: Settings) -> VectorStore:
    """The vector store named by ``settings.store.backend``, configured from the settings."""
    backend = settings.store.backend
    if backend not in BACKENDS:
        raise SettingsError(
            f"ANYSEEK_STORE__BACKEND={backend!r} is not a store; choose one of {sorted(BACKENDS)}"
        )
    return BACKENDS[backend](settings)


__all__ = [
    "BACKENDS",
    "MAX_K",
    "Filter",
    "InvalidInputError",
    "Range",
    "SearchHit",
    "SearchResult",
    "SpaceMismatchError",
    "SpaceSpec",
    "StoreHealth",
    "StoredItem",
    "VectorStore",
    "open_store",
]
