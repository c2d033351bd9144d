"""Procedural 3-D scenes with perfectly aligned modalities, for training and evaluation.

Public API: :func:`generate_scene` (seed, size -> :class:`SceneSample`), :class:`SceneReader`
(a split on disk -> samples), and, in :mod:`anyseek.scenes.torch_dataset`, ``SceneDataset`` and
``collate_scenes`` for PyTorch. See docs/data.md for the modalities and the on-disk format.

The scene world is its own package, installed by the ``scenes`` extra (numba, scipy) and never
imported by the service (a contract in pyproject.toml); the words and classes both read live in
:mod:`anyseek.model.vocabulary`. The names below load on first use, so reading the scene graph
(:mod:`anyseek.scenes.scene`) does not compile the renderer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anyseek.model.vocabulary.classes import CLASSES
    from anyseek.scenes.dataset import SceneReader
    from anyseek.scenes.modalities import MODALITIES
    from anyseek.scenes.sample import SUPPORTED_SIZES, SceneSample, generate_scene
    from anyseek.scenes.scene import Scene, sample_scene

_HOMES = {
    "CLASSES": "anyseek.model.vocabulary.classes",
    "MODALITIES": "anyseek.scenes.modalities",
    "SUPPORTED_SIZES": "anyseek.scenes.sample",
    "Scene": "anyseek.scenes.scene",
    "SceneReader": "anyseek.scenes.dataset",
    "SceneSample": "anyseek.scenes.sample",
    "generate_scene": "anyseek.scenes.sample",
    "sample_scene": "anyseek.scenes.scene",
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
