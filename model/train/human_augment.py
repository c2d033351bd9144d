"""Train for human-style queries: extra training samples whose sketch, segmentation and one caption
are a person's (``model.data.human``) instead of the generator's.

A recipe's ``human`` section turns it on: ``share`` of the training scenes (0 = off) are drawn
again ``copies`` times by the drawing model with the recipe's :class:`HumanStyle` (stroke widths,
wobble, shape and position jitter, missing horizon, partial drawings, synonyms and paraphrases),
read through the service's own transforms, and added to the training set beside the originals,
with the same rgb, depth and normals, so every stage after ``data`` (teachers, tokenizers, FM)
learns that a rough drawing of a scene means that scene. The evaluation's person
(``anyseek eval retrieval --human``) draws with the default style from other seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from model.data.human import HumanStyle, draw_human_queries
from model.data.synonyms import canonical_caption
from model.data.tensors import SceneTensors, from_samples

HUMAN_CAPTION_SLOT = 1  # which phrasing a human copy replaces (0, the object list, is split)
SEED_STRIDE = 0x9E37  # draw seeds of training copies never meet the evaluation's (the scene seed)


@dataclass(frozen=True)
class HumanAugmentConfig:
    """Recipe section ``human``: how many human-style training samples, drawn how."""

    share: float = 0.0  # fraction of training scenes drawn again by a person (0 = off)
    copies: int = 1  # drawings per chosen scene
    style: HumanStyle = field(default_factory=HumanStyle)

    def __post_init__(self) -> None:
        """Refuse a share outside [0, 1] or no copies."""
        if not 0.0 <= self.share <= 1.0 or self.copies < 1:
            raise ValueError(f"human: share must be in [0, 1] and copies >= 1, got {self}")


def service_readers(size: int) -> dict[str, Callable[[Any], torch.Tensor]]:
    """What search applies to a user's sketch and painted segmentation, at ``size`` px."""
    from model.bundle.definition import builtin_palette
    from model.transforms import transform_for
    from model.transforms.palette_semseg import PaletteSemsegTransform

    return {
        "sketch": transform_for("sketch", size),
        "semseg": PaletteSemsegTransform(builtin_palette(), size),
    }


def human_copies(samples: Sequence[Any], config: HumanAugmentConfig, copy: int) -> SceneTensors:
    """``samples`` as tensors with a person's sketch, painting and caption (draw ``copy``)."""
    readers = service_readers(int(samples[0].rgb.shape[0]))
    base = from_samples(samples)
    sketches, paintings, captions = [], [], []
    for sample, phrasings in zip(samples, base.captions, strict=True):
        drawn = draw_human_queries(
            sample.seed * SEED_STRIDE + copy + 1,
            sample.objects,
            sample.instance,
            sample.semseg,
            config.style,
        )
        sketches.append(readers["sketch"](Image.fromarray(drawn.sketch))[0] > 0)
        paintings.append(readers["semseg"](Image.fromarray(drawn.painting)).to(torch.uint8))
        own = list(phrasings)
        own[HUMAN_CAPTION_SLOT] = canonical_caption(drawn.caption)  # as search will read it
        captions.append(tuple(own))
    return replace(
        base, sketch=torch.stack(sketches), semseg=torch.stack(paintings), captions=captions
    )


def _human_range(args: tuple[str, str, HumanAugmentConfig, list[int]]) -> SceneTensors:
    """Worker: every copy of the chosen scenes ``indices`` of a generated split."""
    from model.data.dataset import SceneReader

    root, split, config, indices = args
    reader = SceneReader(root, split)
    samples = [reader[i] for i in indices]
    return SceneTensors.concat([human_copies(samples, config, c) for c in range(config.copies)])


def human_split(
    root: Path,
    split: str,
    config: HumanAugmentConfig,
    seed: int,
    workers: int = 1,
    chunk: int = 500,
) -> SceneTensors:
    """The human-style copies of a generated split's chosen share (``seed`` picks the scenes),
    drawn in ``workers`` processes, chunk by chunk."""
    import multiprocessing as mp
    import os

    from model.data.dataset import SceneReader

    n = len(SceneReader(root, split))
    chosen = [int(i) for i in np.nonzero(np.random.default_rng(seed).random(n) < config.share)[0]]
    if not chosen:
        raise ValueError(f"human.share {config.share} chose none of {n} scenes")
    tasks = [
        (str(root), split, config, chosen[a : a + chunk]) for a in range(0, len(chosen), chunk)
    ]
    if workers <= 1 or len(tasks) == 1:
        return SceneTensors.concat([_human_range(t) for t in tasks])
    context = mp.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(min(workers, len(tasks)), torch.set_num_threads, (1,)) as pool:
        return SceneTensors.concat(list(pool.imap(_human_range, tasks)))
