"""The model as one process loads it: once, lazily, as ``settings.model`` says."""

from __future__ import annotations

from anyseek.settings import Settings
from model.service import SearchModel

_MODELS: dict[str, SearchModel] = {}


def process_model(settings: Settings) -> SearchModel:
    """This process's model for ``settings.model`` (loaded on first use, then reused)."""
    key = settings.model.model_dump_json()
    if key not in _MODELS:
        from model.service import load_search_model

        _MODELS[key] = load_search_model(settings.model)
    return _MODELS[key]
