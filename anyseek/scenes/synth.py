"""Generate a scene dataset split on disk, in parallel, with a progress bar."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from anyseek.errors import AlreadyExistsError, SettingsError
from anyseek.scenes.dataset import (
    MANIFEST,
    SCENES,
    json_records,
    make_split_dirs,
    manifest_dict,
    read_manifest,
    write_images,
)
from anyseek.scenes.modalities import MODALITIES
from anyseek.scenes.sample import SUPPORTED_SIZES, batch_size, generate_batch

CHUNK = 64
"""Most samples per worker task: large enough to amortise inter-process traffic."""
TASKS_PER_WORKER = 8
"""Smallest number of tasks each worker gets, so the last tasks do not leave workers idle."""


@dataclass(frozen=True)
class SynthRequest:
    """What to generate: ``n`` scenes of ``size`` px into ``out/split``, seeded from ``seed``."""

    out: Path
    n: int
    size: int = 64
    seed: int = 0
    workers: int = 1
    split: str = "train"
    overwrite: bool = False


def scene_seed(base_seed: int, index: int) -> int:
    """Seed of sample ``index`` of a dataset generated with ``base_seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(base_seed), int(index)]).generate_state(1)[0])


def validate(req: SynthRequest) -> None:
    """Raise a SettingsError naming the first bad argument, or an error if out is unusable."""
    if req.n <= 0:
        raise SettingsError(f"--n must be a positive number of scenes, got {req.n}")
    if req.size not in SUPPORTED_SIZES:
        raise SettingsError(
            f"--size {req.size} is not supported; choose one of {list(SUPPORTED_SIZES)}"
        )
    if req.workers <= 0:
        raise SettingsError(f"--workers must be at least 1, got {req.workers}")
    if not req.split or not req.split.replace("-", "").replace("_", "").isalnum():
        raise SettingsError(f"--split must be a simple name like 'train', got {req.split!r}")
    try:
        req.out.mkdir(parents=True, exist_ok=True)
        probe = req.out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SettingsError(
            f"output folder {req.out} is not writable: {exc.strerror or exc}"
        ) from exc


def _existing_splits(req: SynthRequest) -> dict[str, dict[str, Any]]:
    """Splits already in ``out`` (checked for a matching size); refuses to clobber ``split``."""
    if not (req.out / MANIFEST).exists():
        if (req.out / req.split).exists() and not req.overwrite:
            raise AlreadyExistsError(
                f"{req.out / req.split} exists; pass --overwrite to replace it"
            )
        return {}
    manifest = read_manifest(req.out)
    if manifest["size"] != req.size:
        raise SettingsError(
            f"{req.out} holds {manifest['size']} px scenes; cannot add {req.size} px ones"
        )
    splits = dict(manifest["splits"])
    if req.split in splits and not req.overwrite:
        raise AlreadyExistsError(
            f"split {req.split!r} already exists in {req.out}; pass --overwrite or another --split"
        )
    splits.pop(req.split, None)
    return splits


def _generate_chunk(args: tuple[str, int, int, int, int]) -> list[dict[str, dict[str, Any]]]:
    """Worker: generate samples [start, stop), write their images, return their JSON records."""
    split_dir, size, base_seed, start, stop = args
    out = []
    step = batch_size(size)
    for first in range(start, stop, step):
        indices = range(first, min(stop, first + step))
        samples = generate_batch([scene_seed(base_seed, i) for i in indices], size)
        for index, sample in zip(indices, samples, strict=True):
            write_images(Path(split_dir), index, sample)
            out.append(json_records(index, sample))
    return out


def chunk_size(n: int, size: int, workers: int) -> int:
    """Samples per task: whole render batches, small enough to keep every worker busy to the end."""
    batch = batch_size(size)
    per_task = -(-n // (workers * TASKS_PER_WORKER))  # ceiling division
    return max(batch, min(CHUNK, -(-per_task // batch) * batch))


def _chunks(req: SynthRequest, split_dir: Path) -> Iterator[tuple[str, int, int, int, int]]:
    """Worker tasks (seed index ranges, not scenes) covering samples 0..n-1."""
    step = chunk_size(req.n, req.size, req.workers)
    for start in range(0, req.n, step):
        yield (str(split_dir), req.size, req.seed, start, min(req.n, start + step))


def synthesize(req: SynthRequest, progress: bool = True) -> dict[str, Any]:
    """Generate the split described by ``req`` and return the updated manifest."""
    validate(req)
    splits = _existing_splits(req)
    split_dir = req.out / req.split
    if split_dir.exists():
        shutil.rmtree(split_dir)
    make_split_dirs(split_dir)
    names = [SCENES] + [m.name for m in MODALITIES if m.kind == "jsonl"]
    files = {name: (split_dir / f"{name}.jsonl").open("w") for name in names}
    bar = tqdm(total=req.n, unit="scene", disable=not progress, desc=f"synth {req.split}")
    try:
        if req.workers == 1:
            results: Iterator = map(_generate_chunk, _chunks(req, split_dir))
            pool = None
        else:
            generate_batch([0], SUPPORTED_SIZES[0])  # compile the kernels once, before forking
            pool = mp.get_context("fork" if os.name == "posix" else "spawn").Pool(req.workers)
            results = pool.imap(_generate_chunk, _chunks(req, split_dir))
        for chunk in results:
            for records in chunk:
                for name, record in records.items():
                    files[name].write(json.dumps(record, separators=(",", ":")) + "\n")
            bar.update(len(chunk))
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        bar.close()
        for fh in files.values():
            fh.close()
    splits[req.split] = {"count": req.n, "seed": req.seed}
    manifest = manifest_dict(req.size, splits)
    tmp = req.out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(req.out / MANIFEST)
    return manifest
