"""Procedural 3-D scenes with perfectly aligned modalities, for training and evaluation.

Public API: :func:`generate_scene` (seed, size -> :class:`SceneSample`), :class:`SceneReader`
(a split on disk -> samples), and, in :mod:`model.data.torch_dataset`, ``SceneDataset`` and
``collate_scenes`` for PyTorch. See docs/data.md for the modalities and the on-disk format.

The names load on first use: importing a plain-data submodule (:mod:`model.data.classes`) must not
load the renderer, whose numba and scipy come with the ``scenes`` extra, not with the service.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.data.classes import CLASSES
    from model.data.dataset import SceneReader
    from model.data.modalities import MODALITIES
    from model.data.sample import SUPPORTED_SIZES, SceneSample, generate_scene
    from model.data.scene import Scene, sample_scene

_HOMES = {
    "CLASSES": "model.data.classes",
    "MODALITIES": "model.data.modalities",
    "SUPPORTED_SIZES": "model.data.sample",
    "Scene": "model.data.scene",
    "SceneReader": "model.data.dataset",
    "SceneSample": "model.data.sample",
    "generate_scene": "model.data.sample",
    "sample_scene": "model.data.scene",
}

__all__ = [
    "CLASSES",
    "MODALITIES",
    "SUPPORTED_SIZES",
    "Scene",
    "SceneReader",
    "SceneSample",
    "generate_scene",
    "sample_scene",
]


def __getattr__(name: str) -> Any:
    """A public name from the submodule that defines it, imported on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
