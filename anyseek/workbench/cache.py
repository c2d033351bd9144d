"""Pre-rendered scenes: the training set rendered once, in chunks, so the cores later train.

Each chunk of scenes is generated (``scenes``), passed through the service's own input
transforms (``anyseek.scenes.tensors.from_samples``) and drawn again by every training style of
``anyseek.workbench.styles`` (a person's sketch, painting and caption, read the way search reads a
user's file), then saved as ``chunk-NNNN.pt``. A chunk on disk is never redone, so an interrupted
build continues where it stopped; chunks are rendered by a pool of worker processes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from anyseek.scenes.tensors import SceneTensors
from anyseek.workbench.drawing_transforms import Readers, declared_readers, generator_sketch

SEED_STRIDE = 0x9E37  # a style's drawing seed is the scene's plus this times the style's number


@dataclass
class Drawings:
    """N scenes as one person gives them: sketch lines, painted class ids, own-words captions."""

    sketch: torch.Tensor  # [N, S, S] bool, True on the drawn lines (after the sketch transform)
    semseg: torch.Tensor  # [N, S, S] uint8 class ids (after the painted-segmentation transform)
    captions: list[str]

    def __len__(self) -> int:
        return int(self.sketch.shape[0])


@dataclass
class TrainingSet:
    """Generated scenes and, per drawing style, the same scenes drawn by that person."""

    scenes: SceneTensors
    drawings: dict[str, Drawings] = field(default_factory=dict)
    # [N, MAX_OBJECTS, cells] bool: which cells of the image trunk's last grid each object
    # occupies (``anyseek.workbench.cells``); None in sets rendered before it was kept
    occupied: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.scenes)

    @classmethod
    def concat(cls, parts: Sequence[TrainingSet]) -> TrainingSet:
        """The scenes of ``parts`` in order."""
        styles = list(parts[0].drawings)
        known = all(p.occupied is not None for p in parts)
        return cls(
            SceneTensors.concat([p.scenes for p in parts]),
            {
                s: Drawings(
                    torch.cat([p.drawings[s].sketch for p in parts]),
                    torch.cat([p.drawings[s].semseg for p in parts]),
                    [c for p in parts for c in p.drawings[s].captions],
                )
                for s in styles
            },
            torch.cat([p.occupied for p in parts]) if known else None,
        )


def draw_seed(scene_seed: int, style: str) -> int:
    """The drawing seed of one scene by one style (stable, and never the scene's own seed,
    which evaluation's person draws with)."""
    return scene_seed + SEED_STRIDE * (1 + zlib.crc32(style.encode()) % 997)


def drawings_of(
    samples: Sequence[Any],
    style_name: str,
    generated: SceneTensors,
    readers: Readers,
    seed_of: Callable[[int, str], int] = draw_seed,
) -> Drawings:
    """Every sample drawn by one style, read through the sketch and palette transforms the model
    declares. A drawing search would refuse (a sketch with no line: the person left every object
    out and drew no horizon) is the generator's instead."""
    from PIL import Image

    from anyseek.model.transforms.base import UserInputError
    from anyseek.scenes.human import draw_human_queries
    from anyseek.workbench.styles import style

    sketches, paintings, captions = [], [], []
    for i, s in enumerate(samples):
        seed = seed_of(s.seed, style_name)
        d = draw_human_queries(seed, s.objects, s.instance, s.semseg, style(style_name, seed))
        try:
            sketches.append(readers.sketch(Image.fromarray(d.sketch))[0] > 0)
        except UserInputError:
            sketches.append(generated.sketch[i])
        try:
            paintings.append(readers.semseg(Image.fromarray(d.painting)).to(torch.uint8))
        except UserInputError:
            paintings.append(generated.semseg[i])
        captions.append(d.caption)
    return Drawings(torch.stack(sketches), torch.stack(paintings), captions)


@dataclass(frozen=True)
class ChunkJob:
    """Scenes [start, stop) of the set with base seed ``seed``, drawn by ``styles`` and read by
    ``readers`` (None: the transforms a new built-in bundle declares)."""

    seed: int
    start: int
    stop: int
    size: int
    styles: tuple[str, ...]
    readers: Readers | None = None


def render_chunk(job: ChunkJob) -> TrainingSet:
    """Generate, transform and draw one chunk of scenes."""
    from anyseek.scenes.sample import generate_scene
    from anyseek.scenes.synth import scene_seed
    from anyseek.scenes.tensors import from_samples
    from anyseek.workbench.cells import occupancy

    seeds = [scene_seed(job.seed, i) for i in range(job.start, job.stop)]
    samples = [generate_scene(seed, job.size) for seed in seeds]
    readers = job.readers or declared_readers(job.size)
    generated = from_samples(samples, generator_sketch(readers))
    drawn = {s: drawings_of(samples, s, generated, readers) for s in job.styles}
    return TrainingSet(generated, drawn, torch.stack([occupancy(s) for s in samples]))


def _save(part: TrainingSet, path: Path) -> None:
    """Write a chunk atomically."""
    tmp = path.with_suffix(".tmp")
    data = {"scenes": part.scenes.__dict__, "drawings": part.drawings, "occupied": part.occupied}
    torch.save(data, tmp)
    tmp.replace(path)


def _load(path: Path) -> TrainingSet:
    """Read a chunk written by :func:`_save`."""
    data = torch.load(path, weights_only=False)
    return TrainingSet(SceneTensors(**data["scenes"]), data["drawings"], data.get("occupied"))


def _render_to(args: tuple[ChunkJob, str]) -> str:
    """Worker: render one chunk to its file."""
    job, path = args
    _save(render_chunk(job), Path(path))
    return path


def build_cache(
    folder: Path,
    *,
    n: int,
    seed: int,
    size: int,
    styles: tuple[str, ...],
    chunk: int = 1000,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
    readers: Readers | None = None,
) -> TrainingSet:
    """The set of ``n`` scenes from base ``seed``, rendered into ``folder`` chunk by chunk
    (chunks already there are read, not redone) and returned in memory; drawings (and, when they
    read a content box, the generator's sketches) read by ``readers`` (None: the transforms a new
    built-in bundle declares)."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [
        (
            ChunkJob(seed, a, min(n, a + chunk), size, styles, readers),
            folder / f"chunk-{a // chunk:04d}.pt",
        )
        for a in range(0, n, chunk)
    ]
    todo = [(job, str(path)) for job, path in jobs if not path.exists()]
    done = len(jobs) - len(todo)
    if progress is not None and done:
        progress(sum(j.stop - j.start for j, p in jobs if p.exists()))
    if todo:
        context = mp.get_context("fork" if os.name == "posix" else "spawn")
        # one torch thread per worker: a forked child must not enter the parent's OpenMP pool
        with context.Pool(max(1, min(workers, len(todo))), torch.set_num_threads, (1,)) as pool:
            for (job, _), _path in zip(todo, pool.imap(_render_to, todo), strict=True):
                if progress is not None:
                    progress(job.stop - job.start)
    return TrainingSet.concat([_load(path) for _, path in jobs])
