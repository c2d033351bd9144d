"""PyTorch view of a scene dataset: a map-style Dataset and a collate function to typed batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from anyseek.errors import SettingsError
from anyseek.scenes.dataset import SceneReader
from anyseek.scenes.sample import DEFAULT_SIZE, SceneSample, check_size, generate_scene
from anyseek.scenes.synth import scene_seed


@dataclass(frozen=True)
class SceneBatch:
    """A batch of aligned modalities as tensors (B = batch, S = side length)."""

    rgb: torch.Tensor  # (B, 3, S, S) float in [0, 1]
    depth: torch.Tensor  # (B, 1, S, S) float, metres (z-depth)
    normals: torch.Tensor  # (B, 3, S, S) float, camera-space unit vectors
    semseg: torch.Tensor  # (B, S, S) long class ids
    instance: torch.Tensor  # (B, S, S) long object ids
    edges: torch.Tensor  # (B, 1, S, S) float in {0, 1}
    sketch: torch.Tensor  # (B, 1, S, S) float ink in [0, 1]
    captions: list[tuple[str, ...]]
    color_palette: list[tuple]
    metadata: list[dict[str, Any]]
    seeds: list[int]


class SceneDataset(Dataset):
    """Map-style Dataset of one split; items are :class:`SceneSample` (optionally transformed)."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: Callable[[SceneSample], Any] | None = None,
    ) -> None:
        self.reader = SceneReader(root, split)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> Any:
        sample = self.reader[index]
        return self.transform(sample) if self.transform else sample


class GeneratedSceneDataset(Dataset):
    """Scenes generated on the fly, identical to what ``synth`` writes for the same seed.

    Sample i is ``generate_scene(scene_seed(seed, i), size)``: no files, no disk traffic; use
    DataLoader workers to generate in parallel.
    """

    def __init__(
        self,
        n: int,
        size: int = DEFAULT_SIZE,
        seed: int = 0,
        transform: Callable[[SceneSample], Any] | None = None,
    ) -> None:
        if n <= 0:
            raise SettingsError(f"a generated dataset needs at least one scene, got n={n}")
        self.n, self.size, self.seed = n, check_size(size), seed
        self.transform = transform

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < self.n:
            raise IndexError(f"sample {index} out of range 0..{self.n - 1}")
        sample = generate_scene(scene_seed(self.seed, index), self.size)
        return self.transform(sample) if self.transform else sample


def _chw(arrays: list[np.ndarray], scale: float) -> torch.Tensor:
    """Stack (S, S) or (S, S, C) arrays into a float (B, C, S, S) tensor, scaled."""
    stacked = np.stack(arrays).astype(np.float32) * scale
    stacked = stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(stacked))


def collate_scenes(samples: Sequence[SceneSample]) -> SceneBatch:
    """Stack samples into a :class:`SceneBatch` (use as a DataLoader's ``collate_fn``)."""
    return SceneBatch(
        rgb=_chw([s.rgb for s in samples], 1 / 255),
        depth=_chw([s.depth for s in samples], 1.0),
        normals=_chw([s.normals for s in samples], 1.0),
        semseg=torch.from_numpy(np.stack([s.semseg for s in samples]).astype(np.int64)),
        instance=torch.from_numpy(np.stack([s.instance for s in samples]).astype(np.int64)),
        edges=_chw([s.edges for s in samples], 1 / 255),
        sketch=_chw([s.sketch for s in samples], 1 / 255),
        captions=[s.captions for s in samples],
        color_palette=[s.color_palette for s in samples],
        metadata=[s.metadata for s in samples],
        seeds=[s.seed for s in samples],
    )
