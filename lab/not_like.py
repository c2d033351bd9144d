"""Measure "not like this" on a result: each steering rule and weight, on held-out scenes.

Every gallery scene's image is embedded as the indexer embeds images, each scene is asked for by
its caption, and the caption's top WRONG hit (a hard negative) is then added as a "not like this"
item at a negative weight, steered by each rule of ``anyseek.search.steering.NEGATIVE_RULES`` and
made unit
length as search does, the spaces fused by information. R@10: the wanted scene is still in the
top 10; neg@10: the negative is still in the top 10 (lower is better). The page's default weight
(``anyseek.search.steering.DEFAULT_NEGATIVE_WEIGHT``) is the one this table supports.

OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python lab/not_like.py --n 2000 \
    --out lab/results/not_like.md
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

WEIGHTS = (-0.25, -0.4, -0.5, -0.6, -0.75, -1.0)
#: search.steering.NegativeRule (not importable here before the path fix: bench/search.py)
Rule = Callable[[np.ndarray, float, np.ndarray], np.ndarray]


def steered_scores(
    query: dict[str, torch.Tensor],
    index: dict[str, torch.Tensor],
    information: dict[str, torch.Tensor],
    hard: torch.Tensor,
    rule: Rule,
    weight: float,
) -> torch.Tensor:
    """Fused [n, n] scores of every query steered away from its hard negative by ``rule``."""
    from anyseek.model.runtime.fusion import fuse

    sims = {}
    for space, vectors in index.items():
        steered = rule(query[space].double().numpy(), weight, vectors[hard].double().numpy())
        steered /= np.maximum(np.linalg.norm(steered, axis=-1, keepdims=True), 1e-12)
        sims[space] = torch.from_numpy(steered).float() @ vectors.t()
    return fuse(sims, information) if len(sims) > 1 else next(iter(sims.values()))


def row(name: str, rule: str, sim: torch.Tensor, hard: torch.Tensor) -> str:
    """One markdown row: R@1, R@10, MRR and neg@10 of these scores."""
    from anyseek.workbench.metrics import ranking_metrics

    m = ranking_metrics(sim)
    neg = float((sim.topk(10, dim=1).indices == hard[:, None]).any(1).float().mean())
    return f"| {name} | {rule} | {m['R@1']:.3f} | {m['R@10']:.3f} | {m['MRR']:.3f} | {neg:.3f} |"


def command_line() -> str:
    """The command as it was run: the thread count when set, the venv's python, the arguments."""
    threads = os.environ.get("OMP_NUM_THREADS")
    prefix = f"OMP_NUM_THREADS={threads} " if threads else ""
    return f"{prefix}PYTHONPATH=. .venv/bin/python {shlex.join(sys.argv)}"


def main() -> None:
    """Print (and write) the table: one row per rule and weight, and the query alone."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="held-out scenes in the gallery")
    parser.add_argument("--seed", type=int, default=777_001)
    parser.add_argument("--model", default="builtin", help="model source (default: builtin)")
    parser.add_argument("--query", default="caption", help="query kind (workbench.evaluate)")
    parser.add_argument("--out", default=None, help="the markdown report")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # not bench/search.py
    from anyseek.model.runtime.fusion import fuse
    from anyseek.model.service import load_search_model
    from anyseek.search.steering import DEFAULT_NEGATIVE_WEIGHT, DEFAULT_RULE, NEGATIVE_RULES
    from anyseek.workbench.cache import ChunkJob, render_chunk
    from anyseek.workbench.evaluate import QUERIES, image_vectors, query_vectors, scene_values

    start = time.perf_counter()
    model = load_search_model(args.model)
    gallery = render_chunk(ChunkJob(args.seed, 0, args.n, 64, ())).scenes
    index = image_vectors(model, gallery)
    values = scene_values(gallery)
    query, information = query_vectors(model, QUERIES[args.query], values, args.n, 256)
    alone = fuse({s: query[s] @ index[s].t() for s in index}, information)
    wrong = alone.clone()
    wrong[torch.arange(args.n), torch.arange(args.n)] = -torch.inf
    hard = wrong.argmax(1)  # per query: its top wrong hit
    rows = [row(f"{args.query} alone (its top wrong hit, no negative)", "-", alone, hard)]
    for name, rule in NEGATIVE_RULES.items():
        for weight in WEIGHTS:
            sim = steered_scores(query, index, information, hard, rule, weight)
            rows.append(row(f"{args.query}, not its top wrong hit {weight}", name, sim, hard))
    lines = [
        f"Command: `{command_line()}`",
        "",
        f"Gallery: {args.n} held-out scenes (seed {args.seed}), model {model.version}, spaces "
        f"fused by information; {time.perf_counter() - start:.0f} s on "
        f"{torch.get_num_threads()} threads. Search's rule: `{DEFAULT_RULE}`, the page's "
        f"weight: {DEFAULT_NEGATIVE_WEIGHT}.",
        "",
        "| query | rule | R@1 | R@10 | MRR | neg@10 |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
