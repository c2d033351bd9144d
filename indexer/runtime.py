"""The model as one process loads it: once, lazily, on the device the settings name."""

from __future__ import annotations

import functools

from anyseek.settings import Settings
from model.search_model import SearchModel, load_search_model


def pick_device(wanted: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    if wanted != "auto":
        return wanted
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def _load(source: str, device: str) -> SearchModel:
    """Load a model once per (source, device) in this process."""
    return load_search_model(source, device=device)


def process_model(settings: Settings) -> SearchModel:
    """This process's model for ``settings.model`` (loaded on first use, then reused)."""
    return _load(settings.model.source, pick_device(settings.model.device))
