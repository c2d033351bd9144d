"""Fit the built-in model's relevance calibration (``model/builtin/relevance.json``) and report it.

Relevance is the probability that a hit is the scene the query describes. Raw fused cosines mean
different things per query kind (a caption's right answer scores ~0.5, a sketch's ~0.8), so one
minimum score cannot serve every kind. Per query kind, a logistic model over two features of each
of a query's top candidates, its fused score and its distance below the query's best score
(``search.relevance.FEATURES``), is fitted on held-out generated scenes (seeds disjoint from
training and from the tests' galleries), and checked on a second, disjoint set of scenes.

OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python bench/relevance.py --n 400 \
    --write model/builtin/relevance.json --out bench/results/relevance.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TOP = 50  # candidates per query the fit sees (a page, and what min-score filters among)
#: query kind as search names it -> the eval's modality bases
KINDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "caption": (("caption",), ("object",)),
    "sketch": (("sketch",),),
    "depth": (("depth",),),
    "semseg": (("semseg",),),
    "image": (("rgb",),),
    "caption+sketch": (("caption", "sketch"),),
    "caption+depth": (("caption", "depth"),),
    "semseg+sketch": (("sketch", "semseg"),),
}


def candidates(fused: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(features [Q*TOP, 2], is-the-scene labels) of each query's top candidates."""
    from search.relevance import features

    top = fused.topk(TOP, dim=1)
    scores = top.values.double().numpy()
    labels = (top.indices == torch.arange(len(fused))[:, None]).numpy()
    return features(scores, scores[:, :1]).reshape(-1, 2), labels.reshape(-1)


def scenes_fused(model, seed: int, n: int, bases: tuple[str, ...]) -> torch.Tensor:
    """Fused [n, n] scores of n held-out scenes queried by ``bases``, as search fuses them
    (through the search-model interface, so any model family can be calibrated)."""
    from model.inference.fusion import fuse
    from workbench.cache import ChunkJob, render_chunk
    from workbench.evaluate import image_vectors, query_vectors, scene_values

    gallery = render_chunk(ChunkJob(seed, 0, n, 64, ())).scenes
    index = image_vectors(model, gallery)
    values = scene_values(gallery)
    values["rgb"] = lambda i: model.image_input(
        Image.fromarray(gallery.rgb[i].permute(1, 2, 0).numpy())
    )
    vectors, information = query_vectors(model, bases, values, n, 256)
    sims = {s: vectors[s] @ index[s].t() for s in index}
    return fuse(sims, information) if len(sims) > 1 else next(iter(sims.values()))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """[bias, w...] of a logistic regression by Newton's method (a few features, no library)."""
    a = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(a.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + l2 * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def main() -> None:
    """Fit per kind on one set of scenes, check on another, write the table and the file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="scenes per set (fit, check)")
    parser.add_argument("--seed", type=int, default=555_001)
    parser.add_argument("--model", default="builtin", help="model source (default: builtin)")
    parser.add_argument("--write", default=None, help="the calibration JSON to write")
    parser.add_argument("--out", default=None, help="the markdown report")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # not bench/search.py
    from model.service import load_search_model
    from search.relevance import apply

    start = time.perf_counter()
    model = load_search_model(args.model)
    fits, rows, pooled = {}, [], ([], [], [], [])
    for kind, variants in KINDS.items():
        sets = {}
        for role, seed in (("fit", args.seed), ("check", args.seed + 100_000)):
            found = [candidates(scenes_fused(model, seed, args.n, b)) for b in variants]
            xs, ys = zip(*found, strict=True)
            sets[role] = (np.concatenate(xs), np.concatenate(ys))
        w = fit_logistic(*sets["fit"])
        fits[kind] = [round(float(v), 5) for v in w]
        x, y = sets["check"]
        p = apply(w, x)
        pooled[0].append(sets["fit"][0]), pooled[1].append(sets["fit"][1])
        top1 = x[:, 1] == 0  # each query's best candidate
        keep = p >= 0.5
        rows.append((kind, float(p[top1].mean()), float(y[top1].mean()),
                     float(y[keep].mean()) if keep.any() else float("nan"),
                     float((keep & y).sum() / y.sum()), float(np.abs(p - y).mean())))  # fmt: skip
    everything = fit_logistic(np.concatenate(pooled[0]), np.concatenate(pooled[1]))
    fits["default"] = [round(float(v), 5) for v in everything]
    if args.write:
        body = {"model": model.version, "features": ["score", "score - best score"], "kinds": fits}
        Path(args.write).write_text(json.dumps(body, indent=1) + "\n")
    lines = [
        f"Fit on {args.n} held-out scenes per kind (seed {args.seed}), checked on {args.n} others "
        f"(seed {args.seed + 100_000}); top {TOP} candidates per query; "
        f"{time.perf_counter() - start:.0f} s on {torch.get_num_threads()} threads.",
        "",
        "| query kind | mean relevance of #1 | #1 is right | right among relevance >= 0.5 | "
        "right ones kept at 0.5 | mean abs error |",
        "|---|---|---|---|---|---|",
        *(
            f"| {k} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.3f} | {e:.4f} |"
            for k, a, b, c, d, e in rows
        ),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
