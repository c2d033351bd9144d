"""Mechanics of MultiMAE as a search model on generated scenes (random weights, CPU).

Run from the repository root::

    PYTHONPATH=. python bench/multimae_search.py [--threads 1] [--variants multimae_b]

Builds each variant with random weights, saves it as .safetensors, loads it through
``load_search_model`` and times gallery embedding, every query combination and the depth/semseg
reconstruction on ``generate_scene`` scenes. Random weights measure speed, shapes and determinism
only: retrieval quality needs the released checkpoint. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from anyseek.model.families.multimae import MultiMAE, MultiMAEConfig, save_multimae
from anyseek.model.families.registry import load_search_model
from anyseek.scenes.sample import generate_batch


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """Best wall time of ``repeat`` calls (seconds) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run(variant: str, batch: int, folder: Path) -> list[tuple[str, str]]:
    """Rows (what, value) for one variant."""
    torch.manual_seed(0)
    path = save_multimae(MultiMAE(MultiMAEConfig.named(variant)), folder / f"{variant}.safetensors")
    load_s, sm = timed(lambda: load_search_model(str(path)), 1)
    scenes = generate_batch(list(range(batch)), 64)
    images = torch.stack([sm.image_input(Image.fromarray(s.rgb)) for s in scenes])
    embed_s, first = timed(lambda: sm.embed_images(images))
    again = sm.embed_images(images)
    single = sm.embed_images(images[:1])
    vec = first["multimae"]
    depth = np.round(scenes[0].depth * 1000).astype(np.uint16)
    depth_png = folder / "depth.png"
    Image.fromarray(depth).save(depth_png)
    q = sm.query_modalities
    files = {
        "image": Image.fromarray(scenes[0].rgb),
        "depth": depth_png,
        "semseg": scenes[0].semseg,
    }
    tensors = {k: q[k].transform(v) for k, v in files.items()}
    rows = [
        ("checkpoint size", f"{path.stat().st_size / 1e6:.1f} MB"),
        ("load (load_search_model)", f"{load_s * 1000:.0f} ms"),
        ("image input", f"{tuple(images.shape[1:])}"),
        (
            "gallery vectors",
            f"{vec.shape} {vec.dtype}, norms {np.linalg.norm(vec, axis=1).min():.6f}",
        ),
        (f"embed_images, batch {batch}", f"{embed_s * 1000:.0f} ms ({batch / embed_s:.1f} img/s)"),
        ("repeat run, max abs diff", f"{np.abs(again['multimae'] - vec).max():.1e}"),
        (
            "batch of 1 vs batch, max abs diff",
            f"{np.abs(single['multimae'][0] - vec[0]).max():.1e}",
        ),
    ]
    for combo in (("image",), ("depth",), ("semseg",), ("image", "depth"), tuple(files)):
        inputs = {k: tensors[k] for k in combo}
        secs, found = timed(lambda inputs=inputs: sm.embed_query(inputs))
        cos = float(found["multimae"].vector @ vec[0])
        rows.append(
            (f"query {'+'.join(combo)}", f"{secs * 1000:.1f} ms, cos to its image {cos:.3f}")
        )
    rec_s, rec = timed(lambda: sm.reconstruct(images[:1]))
    rows.append(
        (
            "reconstruct depth+semseg, 1 image",
            f"{rec_s * 1000:.0f} ms -> depth "
            f"{tuple(rec.depth.shape)}, semseg {tuple(rec.semseg_logits.shape)}",
        )
    )
    return rows


def main() -> None:
    """Parse arguments, run every variant, print a Markdown table per variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--variants", nargs="+", default=["test_multimae_tiny", "multimae_b"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"CPU {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s), random weights\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            print(f"### {variant}\n\n| what | measured |\n|---|---|")
            for what, value in run(variant, args.batch, Path(tmp)):
                print(f"| {what} | {value} |")
            print()


if __name__ == "__main__":
    main()
