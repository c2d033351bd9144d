"""Serving cost of models side by side: size, load time, images/s, one query's latency, and
``anyseek index`` on a folder of generated scenes, each model measured in the same run.

    OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python bench/builtin.py \
        --models /tmp/old_builtin,builtin --dtypes float32,bfloat16 --index 2000 --out /tmp/t.md

The in-process rows go through the search-model interface (``anyseek.model.service``), exactly what
the indexer and the server call; the ``anyseek index`` column runs the command as a user does, on a
fresh data directory, with ``ANYSEEK_MODEL__SOURCE`` set to the model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("caption", "sketch", "depth", "semseg", "image")


def folder_mb(source: str) -> float:
    """Size of a model folder's files in MB (``builtin`` is the committed one)."""
    path = ROOT / "model" / "builtin" / "weights" if source == "builtin" else Path(source)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def query_values(scene) -> dict[str, object]:
    """One generated scene's queries as a user gives them."""
    return {
        "caption": scene.captions[0],
        "sketch": Image.fromarray(scene.sketch),
        "depth": scene.depth,
        "semseg": scene.semseg.astype(np.int64),
        "image": Image.fromarray(scene.rgb),
    }


def in_process(source: str, dtype: str, scenes: list, batch: int) -> dict[str, float]:
    """Load time, images/s through ``embed_images`` and median ms of one query per kind."""
    from anyseek.model.service import load_search_model

    t0 = time.perf_counter()
    model = load_search_model(source, dtype=dtype)
    load_s = time.perf_counter() - t0
    images = torch.stack([model.image_input(Image.fromarray(s.rgb)) for s in scenes[:batch]])
    model.embed_images(images)  # warm-up
    t0 = time.perf_counter()
    for _ in range(5):
        model.embed_images(images)
    row = {"load s": load_s, "images/s": 5 * batch / (time.perf_counter() - t0)}
    for kind in KINDS:
        times = []
        for scene in scenes[:40]:
            value = query_values(scene)[kind]
            x = model.query_modalities[kind].transform(value)
            t0 = time.perf_counter()
            model.embed_query({kind: x})
            times.append((time.perf_counter() - t0) * 1000)
        row[f"{kind} ms"] = statistics.median(times[5:])
    return row


def index_rate(source: str, folder: Path, n: int) -> float:
    """Images/s of ``anyseek index FOLDER`` on a fresh data directory (whole command)."""
    with tempfile.TemporaryDirectory(prefix="anyseek-bench-") as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANYSEEK_")}
        env |= {"ANYSEEK_DATA_DIR": data, "ANYSEEK_MODEL__SOURCE": source, "PYTHONPATH": str(ROOT)}
        run = [sys.executable, "-m", "anyseek.cli"]
        subprocess.run([*run, "db", "upgrade"], env=env, check=True, capture_output=True)
        t0 = time.perf_counter()
        subprocess.run(
            [*run, "index", str(folder), "--collection", "bench"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        return n / (time.perf_counter() - t0)


def main() -> None:
    """Measure every model and print one markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="builtin", help="comma-separated model sources")
    parser.add_argument("--dtypes", default="float32", help="comma-separated compute dtypes")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--index", type=int, default=0, help="scenes for `anyseek index` (0: skip)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from anyseek.scenes.sample import generate_scene
    from anyseek.scenes.synth import scene_seed

    scenes = [generate_scene(scene_seed(991_000, i), 64) for i in range(max(args.batch, 40))]
    folder = None
    if args.index:
        folder = Path(tempfile.mkdtemp(prefix="anyseek-bench-images-"))
        for i in range(args.index):
            scene = generate_scene(scene_seed(992_000, i), 64)
            Image.fromarray(scene.rgb).save(folder / f"scene-{i:05d}.png")
    head = ["model", "dtype", "MB", "load s", "images/s", *(f"{k} ms" for k in KINDS)]
    if folder is not None:
        head.append("`anyseek index` images/s")
    lines = [
        f"{torch.get_num_threads()} torch threads; load average at start "
        f"{os.getloadavg()[0]:.2f}; one query = transform done, `embed_query` timed (median of "
        f"35); images/s = `embed_images` on batches of {args.batch}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for source in args.models.split(","):
        for dtype in args.dtypes.split(","):
            row = in_process(source, dtype, scenes, args.batch)
            cells = [source, dtype, f"{folder_mb(source):.1f}"]
            cells += [f"{row[h]:.2f}" if h.endswith(" s") else f"{row[h]:.1f}" for h in head[3:]
                      if h in row]  # fmt: skip
            if folder is not None:
                cells.append(f"{index_rate(source, folder, args.index):.0f}" if dtype == "float32"
                             else "")  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
