"""Procedural 3-D scenes with perfectly aligned modalities, for training and evaluation.

Public API: :func:`generate_scene` (seed, size -> :class:`SceneSample`), :class:`SceneReader`
(a split on disk -> samples), and, in :mod:`model.data.torch_dataset`, ``SceneDataset`` and
``collate_scenes`` for PyTorch. See docs/data.md for the modalities and the on-disk format.
"""

from model.data.dataset import SceneReader
from model.data.modalities import CLASSES, MODALITIES
from model.data.sample import SUPPORTED_SIZES, SceneSample, generate_scene
from model.data.scene import Scene, sample_scene

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
