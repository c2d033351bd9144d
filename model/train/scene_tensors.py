"""Scene datasets held in memory as compact tensors, and their conversion to model inputs.

A training run reads the generated scenes once into :class:`SceneTensors` (uint8 images, float16
depth; about 40 kB per 64 px scene) and converts each batch to the model's input formats on the
fly. The conversions are one entry per modality in :data:`PIXEL_INPUTS`, so the built-in model's
input conventions live in one place:

* ``rgb``: ImageNet-normalised float, the official rgb convention;
* ``depth``: the official truncated standardisation (middle 80 % of the values -> mean 0, std 1);
* ``normal``: camera-space unit normals in [-1, 1] from the RGB encoding ``(n + 1) / 2``;
* ``sketch`` / ``edges``: ink in [0, 1], 1 = line, on a 0 background;
* ``semseg``: class-id map (the model embeds each class).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from model.train.teachers import normalize_images

TRUNCATE = 0.1


@dataclass
class SceneTensors:
    """Aligned modalities of N scenes of side S, plus captions and scene graphs."""

    rgb: torch.Tensor  # [N, 3, S, S] uint8
    depth: torch.Tensor  # [N, S, S] float16, metres
    normal: torch.Tensor  # [N, 3, S, S] uint8, (n + 1) / 2 * 255
    semseg: torch.Tensor  # [N, S, S] uint8 class ids
    edges: torch.Tensor  # [N, S, S] uint8, 255 on edges
    sketch: torch.Tensor  # [N, S, S] uint8 ink
    captions: list[tuple[str, ...]]  # several phrasings per scene
    scenes: list[dict[str, Any]] = field(default_factory=list)  # facts for attribute checks
    seeds: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def size(self) -> int:
        """Side length in pixels."""
        return int(self.rgb.shape[-1])

    def save(self, path: Path) -> None:
        """Write to one ``.pt`` file (atomically)."""
        tmp = path.with_suffix(".tmp")
        torch.save(self.__dict__, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> SceneTensors:
        """Read a file written by :meth:`save`."""
        return cls(**torch.load(path, weights_only=False))


def standardize_depth(depth: torch.Tensor) -> torch.Tensor:
    """[B, S, S] depth -> standardised by the middle 80 % of each map's values (official)."""
    flat = depth.float().flatten(1)
    ordered = flat.sort(1).values
    n = ordered.shape[1]
    kept = ordered[:, int(TRUNCATE * n) : int((1 - TRUNCATE) * n)]
    mean = kept.mean(1, keepdim=True)
    std = torch.sqrt(kept.var(1, keepdim=True) + 1e-6)
    return ((flat - mean) / std).view_as(depth)


PixelInput = Callable[[SceneTensors, torch.Tensor], torch.Tensor]

#: modality base name -> (scenes, indices) -> model input tensor
PIXEL_INPUTS: dict[str, PixelInput] = {
    "rgb": lambda t, i: normalize_images(t.rgb[i]),
    "depth": lambda t, i: standardize_depth(t.depth[i])[:, None],
    "normal": lambda t, i: t.normal[i].float() / 127.5 - 1.0,
    "semseg": lambda t, i: t.semseg[i].long(),
    "sketch": lambda t, i: t.sketch[i].float()[:, None] / 255.0,
    "edges": lambda t, i: t.edges[i].float()[:, None] / 255.0,
}


def pixel_inputs(
    scenes: SceneTensors, index: torch.Tensor, names: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Model inputs for ``names`` (``<base>@<res>``) of the scenes at ``index``."""
    return {name: PIXEL_INPUTS[name.split("@", 1)[0]](scenes, index) for name in names}


def scene_facts(sample: Any) -> dict[str, Any]:
    """The facts a caption can state about a scene: its visible objects' attributes."""
    return {
        "objects": [
            {
                "shape": v.obj.shape,
                "color": v.obj.color,
                "size": v.obj.size,
                "material": v.obj.material,
            }
            for v in sample.objects
            if v.mentionable
        ]
    }


def from_samples(samples: Sequence[Any]) -> SceneTensors:
    """Stack generated scene samples (``model.data`` records) into :class:`SceneTensors`."""
    import numpy as np

    def stack(values: list, dtype: torch.dtype) -> torch.Tensor:
        return torch.from_numpy(np.stack(values)).to(dtype)

    return SceneTensors(
        rgb=stack([s.rgb for s in samples], torch.uint8).permute(0, 3, 1, 2).contiguous(),
        depth=stack([s.depth for s in samples], torch.float16),
        normal=stack([s.normals_rgb for s in samples], torch.uint8).permute(0, 3, 1, 2).contiguous(),
        semseg=stack([s.semseg for s in samples], torch.uint8),
        edges=stack([s.edges for s in samples], torch.uint8),
        sketch=stack([s.sketch for s in samples], torch.uint8),
        captions=[tuple(s.captions) for s in samples],
        scenes=[scene_facts(s) for s in samples],
        seeds=[int(s.seed) for s in samples],
    )
