"""The model as one process loads it: once, lazily, as ``settings.model`` says."""

from __future__ import annotations

from anyseek.model.service import SearchModel
from anyseek.settings import Settings

_MODELS: dict[str, SearchModel] = {}


def process_model(settings: Settings, source: str | None = None) -> SearchModel:
    """This process's model for ``settings.model``, or for another ``source`` with the same
    device and dtype (loaded on first use, then reused)."""
    model_settings = settings.model
    if source is not None and source != model_settings.source:
        model_settings = model_settings.model_copy(update={"source": source})
    key = model_settings.model_dump_json()
    if key not in _MODELS:
        from anyseek.model.service import load_search_model

        _MODELS[key] = load_search_model(model_settings)
    return _MODELS[key]
