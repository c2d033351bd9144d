"""Benchmark the scene generator: scenes per second per core, by stage, at several resolutions.

Per-core figures use process CPU time, so they stay meaningful when other processes share the
cores; wall-clock figures are printed beside them. Run from the repository root::

    PYTHONPATH=. python lab/scenes.py --n 400 --sizes 64 224 --out lab/results/scenes.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from anyseek.scenes.captions import write_captions
from anyseek.scenes.dataset import json_records, make_split_dirs, write_images
from anyseek.scenes.derived import canny_edges_batch, color_palette, metadata
from anyseek.scenes.layout import object_views
from anyseek.scenes.render import camera_rig, render_batch
from anyseek.scenes.sample import batch_size, generate_batch
from anyseek.scenes.scene import sample_scene
from anyseek.scenes.sketch import draw_sketch
from anyseek.scenes.synth import SynthRequest, synthesize


def stage_times(size: int, n: int) -> dict[str, float]:
    """CPU seconds per scene spent in each stage of generation."""
    spent: dict[str, float] = {}

    def timed(name: str, fn: Callable):
        """Run ``fn`` and add its CPU time to stage ``name``."""
        start = time.process_time()
        out = fn()
        spent[name] = spent.get(name, 0.0) + time.process_time() - start
        return out

    step = batch_size(size)
    for first in range(0, n, step):
        seeds = range(first, min(n, first + step))
        scenes = timed("scene graph", lambda s=seeds: [sample_scene(x) for x in s])
        renders = timed("ray casting", lambda sc=scenes: render_batch(sc, size))
        timed("edges", lambda rs=renders: canny_edges_batch([r.rgb for r in rs]))
        for scene, rendered in zip(scenes, renders, strict=True):
            rig = camera_rig(scene)
            views = timed("layout", lambda s=scene, r=rendered, g=rig: object_views(s, g, r))
            caps = timed("captions", lambda s=scene, v=views: write_captions(s, v, size))
            timed("palette", lambda r=rendered: color_palette(r.rgb))
            timed(
                "metadata",
                lambda r=rendered, v=views, c=caps: metadata(r.rgb, r.normals, r.semseg, v, c),
            )
            timed("sketch", lambda s=scene, r=rendered, g=rig: draw_sketch(s, r, g))
    return {k: v / n for k, v in spent.items()}


def write_time(size: int, n: int) -> float:
    """CPU seconds per scene to encode and write one sample's PNGs and JSON lines."""
    samples = generate_batch(list(range(n)), size)
    out = Path(tempfile.mkdtemp(prefix="scenes-bench-"))
    try:
        make_split_dirs(out)
        start = time.process_time()
        for i, sample in enumerate(samples):
            write_images(out, i, sample)
            json.dumps(json_records(i, sample))
        return (time.process_time() - start) / n
    finally:
        shutil.rmtree(out, ignore_errors=True)


def synth_rate(size: int, n: int, workers: int) -> tuple[float, float]:
    """(wall scenes/s, CPU s/scene of this process) of a full synth run, PNG writes included."""
    out = Path(tempfile.mkdtemp(prefix="scenes-bench-"))
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        synthesize(SynthRequest(out, n=n, size=size, seed=1, workers=workers), progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return n / wall, cpu / n


def reference_op_us() -> float:
    """CPU microseconds of one float32 multiply-add over 32k elements: a machine/load yardstick."""
    import numpy as np

    a = np.linspace(0.0, 1.0, 32768, dtype=np.float32)
    start = time.process_time()
    for _ in range(2000):
        a * a + a
    return (time.process_time() - start) / 2000 * 1e6


def main() -> None:
    """Run the benchmark and write a markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="scenes per measurement at 64 px")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    args = parser.parse_args()

    lines = [
        "# Scene generator speed",
        "",
        f"Command: `PYTHONPATH=. python {shlex.join(sys.argv)}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"load average at start {os.getloadavg()[0]:.1f} (other processes share the cores); "
        f"reference op (float32 multiply-add over 32k elements) {reference_op_us():.1f} us CPU.",
        "",
        "Per-core rates come from process CPU time of one process (generation and writing) and "
        "are the figure to compare with the 200 scenes/s/core target; the synth columns are "
        "wall-clock rates of `anyseek data synth` on this shared machine.",
        "",
        "| size | stage | ms/scene (CPU) |",
        "|---|---|---|",
    ]
    summary = [
        "",
        "| size | scenes/s per core (CPU) | synth, 1 worker (wall) | synth, 2 workers (wall) |",
        "|---|---|---|---|",
    ]
    generate_batch([0], 64)  # compile (or load) the numba kernels before any timing
    for size in args.sizes:
        n = max(16, args.n * 64 * 64 // (size * size))
        stages = stage_times(size, n)
        stages["write PNG + JSON"] = write_time(size, min(n, 64))
        total = sum(stages.values())
        for name, sec in stages.items():
            lines.append(f"| {size} | {name} | {sec * 1000:.2f} |")
        lines.append(f"| {size} | **all** | **{total * 1000:.2f}** |")
        one, _ = synth_rate(size, n, 1)
        two, _ = synth_rate(size, n, 2)
        summary.append(f"| {size} | {1 / total:.0f} | {one:.0f} scenes/s | {two:.0f} scenes/s |")
        print(f"{size}px: {1 / total:.0f} scenes/s/core (CPU), synth {one:.0f}/s, {two:.0f}/s")
    report = "\n".join(lines + summary) + "\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
