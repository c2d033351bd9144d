"""Vector stores behind one interface; ``open_store(settings)`` picks the backend by name.

Adding a backend is a module with a :class:`VectorStore` subclass taking ``StoreSettings`` and one
entry in ``anyseek.settings.STORE_BACKENDS``; the contract suite (``test_stores_contract.py``) then
runs against it.
"""

from __future__ import annotations

import importlib

from anyseek.errors import SettingsError
from anyseek.search.stores.base import (
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
from anyseek.settings import STORE_BACKENDS, Settings

#: backend name -> ``module:Class`` of its VectorStore, built as ``Backend(StoreSettings)`` and
#: imported only when used (qdrant-client alone takes a second to import); the contract suite runs
#: over this registry, which the settings own so that they can validate the backend's name
BACKENDS = STORE_BACKENDS


def backend_class(name: str) -> type[VectorStore]:
    """The VectorStore class registered as ``name``."""
    if name not in BACKENDS:
        raise SettingsError(
            f"ANYSEEK_STORE__BACKEND={name!r} is not a store; choose one of {sorted(BACKENDS)}"
        )
    module, _, attribute = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def open_store(settings: Settings) -> VectorStore:
    """The vector store named by ``settings.store.backend``, configured from the settings."""
    return backend_class(settings.store.backend)(settings.effective_store)


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
    "backend_class",
    "open_store",
]
