"""Scene datasets held in memory as model-ready compact tensors.

A training run reads the generated scenes once and passes every modality through the same input
transforms the service applies to user files (``anyseek.model.transforms``), so training sees
exactly what queries will look like: sketches thinned to 1-pixel lines, depth standardised per map,
and so on. The results are kept compact (uint8 rgb, float16 depth/normals, bool line maps; ~30 kB
per 64 px scene) and turned into model inputs per batch by :data:`PIXEL_INPUTS`, one entry per
modality:

* ``rgb``: ImageNet-normalised float (the official rgb convention);
* ``depth``: truncated standardisation (middle 80 % of a map's values -> mean 0, std 1);
* ``normal``: camera-space normals in [-1, 1] from their RGB encoding;
* ``sketch`` / ``edges``: +1 on lines, -1 elsewhere (the edge-tokenizer convention);
* ``semseg``: class ids in the built-in model's numbering (0 background wall, 1 floor, 2.. the
  shapes in ``anyseek.scenes.scene.SHAPES`` order), read with ``SemsegTransform(ids="model")``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from anyseek.model.fourm.imagenet import normalize_images


@dataclass
class SceneTensors:
    """Aligned modalities of N scenes of side S, plus captions and scene graphs."""

    rgb: torch.Tensor  # [N, 3, S, S] uint8
    depth: torch.Tensor  # [N, S, S] float16, standardised
    normal: torch.Tensor  # [N, 3, S, S] float16 in [-1, 1]
    semseg: torch.Tensor  # [N, S, S] uint8 class ids
    edges: torch.Tensor  # [N, S, S] bool, True on (Canny) edges
    sketch: torch.Tensor  # [N, S, S] bool, True on (thinned) sketch lines
    captions: list[tuple[str, ...]]  # several phrasings per scene
    scenes: list[dict[str, Any]] = field(default_factory=list)  # facts for attribute checks
    seeds: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.rgb.shape[0])

    def head(self, n: int) -> SceneTensors:
        """The first ``n`` scenes (all of them if there are fewer)."""
        return SceneTensors(
            **{k: v[:n] if isinstance(v, torch.Tensor | list) else v for k, v in vars(self).items()}
        )

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

    @classmethod
    def concat(cls, parts: Sequence[SceneTensors]) -> SceneTensors:
        """The scenes of ``parts`` in order, as one set."""

        def joined(name: str, first: Any) -> Any:
            items = [getattr(p, name) for p in parts]
            if isinstance(first, torch.Tensor):
                return torch.cat(items)
            return [x for item in items for x in item]

        return cls(**{name: joined(name, value) for name, value in vars(parts[0]).items()})


PixelInput = Callable[[SceneTensors, torch.Tensor], torch.Tensor]

#: modality base name -> (scenes, indices) -> model input tensor
PIXEL_INPUTS: dict[str, PixelInput] = {
    "rgb": lambda t, i: normalize_images(t.rgb[i]),
    "depth": lambda t, i: t.depth[i].float()[:, None],
    "normal": lambda t, i: t.normal[i].float(),
    "semseg": lambda t, i: t.semseg[i].long(),
    "sketch": lambda t, i: t.sketch[i].float()[:, None] * 2 - 1,
    "edges": lambda t, i: t.edges[i].float()[:, None] * 2 - 1,
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


def service_transforms(size: int) -> dict[str, Callable[[Any], torch.Tensor]]:
    """The service's input transforms at ``size``, fed the way a user's files would be."""
    from anyseek.model.transforms import transform_for
    from anyseek.model.transforms.semseg import SemsegTransform

    return {
        "rgb": transform_for("rgb", size),
        "depth": transform_for("depth", size),
        "normal": transform_for("normal", size),
        "semseg": SemsegTransform(size=size, ids="model"),
        "sketch": transform_for("sketch", size),
        "edges": transform_for("edges", size),
    }


def _transformed(sample: Any, tr: dict[str, Callable[[Any], torch.Tensor]]) -> dict[str, Any]:
    """One scene's modalities after the service transforms (as PIL images, like uploads)."""
    from PIL import Image

    return {
        "depth": tr["depth"](sample.depth)[0].half(),
        "normal": tr["normal"](Image.fromarray(sample.normals_rgb)).half(),
        "semseg": tr["semseg"](Image.fromarray(sample.semseg)).to(torch.uint8),
        "sketch": tr["sketch"](Image.fromarray(sample.sketch))[0] > 0,
        "edges": tr["edges"](Image.fromarray(sample.edges))[0] > 0,
    }


def _load_range(args: tuple[str, str, int, int]) -> SceneTensors:
    """Worker: read scenes [start, stop) of a generated split and transform them."""
    from anyseek.scenes.dataset import SceneReader

    root, split, start, stop = args
    reader = SceneReader(root, split)
    return from_samples([reader[i] for i in range(start, stop)])


def load_split(
    root: Path, split: str, workers: int = 1, chunk: int = 500, progress: bool = True
) -> SceneTensors:
    """A generated split (``anyseek data synth``) as tensors, read and transformed in parallel."""
    import multiprocessing as mp
    import os

    from tqdm import tqdm

    from anyseek.scenes.dataset import SceneReader

    n = len(SceneReader(root, split))
    tasks = [(str(root), split, a, min(n, a + chunk)) for a in range(0, n, chunk)]
    bar = tqdm(total=n, desc=f"load {split}", unit="scene", leave=False, disable=not progress)
    parts = []
    if workers <= 1 or len(tasks) == 1:
        for task in tasks:
            parts.append(_load_range(task))
            bar.update(task[3] - task[2])
    else:
        context = mp.get_context("fork" if os.name == "posix" else "spawn")
        # one thread per worker: a forked child must not enter the parent's OpenMP pool (hangs)
        with context.Pool(min(workers, len(tasks)), torch.set_num_threads, (1,)) as pool:
            for task, part in zip(tasks, pool.imap(_load_range, tasks), strict=True):
                parts.append(part)
                bar.update(task[3] - task[2])
    bar.close()
    return SceneTensors.concat(parts)


def from_samples(
    samples: Sequence[Any], sketch: Callable[[Any], torch.Tensor] | None = None
) -> SceneTensors:
    """Transform and stack generated scene samples (``scenes`` records); ``sketch``: the
    transform that reads their sketches, when not the service's default (a model that reads a
    drawing's content box reads the generator's sketches so too)."""
    import numpy as np

    size = int(samples[0].rgb.shape[0])
    tr = service_transforms(size)
    if sketch is not None:
        tr["sketch"] = sketch
    parts = [_transformed(s, tr) for s in samples]
    rgb = torch.from_numpy(np.stack([s.rgb for s in samples])).permute(0, 3, 1, 2).contiguous()
    return SceneTensors(
        rgb=rgb,
        **{k: torch.stack([p[k] for p in parts]) for k in parts[0]},
        captions=[tuple(s.captions) for s in samples],
        scenes=[scene_facts(s) for s in samples],
        seeds=[int(s.seed) for s in samples],
    )
