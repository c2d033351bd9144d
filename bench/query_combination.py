"""Measure the ways of combining weighted query parts (joint, guidance, fusion) on held-out scenes.

Like ``anyseek eval retrieval``: every gallery scene's rgb is indexed as the service indexes
images, each scene is queried with two of its own modalities, and the rank of its image gives
R@1/R@10/MRR (spaces fused by information, as search does). Weighted rows give the two parts
different weights; the ``not`` rows add the NEXT scene's sketch at weight -0.5 to a caption and
report how often that scene still reaches the top 10 (``neg@10``, lower is better). The ``not item``
rows are the page's "not like this" on a result: the caption query's top WRONG hit (a hard
negative) is added as an indexed item at a negative weight, by each rule of
``search.steering.NEGATIVE_RULES``; they report the wanted scene's R@10 and the negative's neg@10
(``--negative-only`` runs just those, a few minutes with ``--n 300``).

OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python bench/query_combination.py --n 500 \
    --out bench/results/search.md
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

Inputs = Callable[[torch.Tensor], dict[str, torch.Tensor]]
#: (row name, [(query base, weight), ...], combination ways measured)
CASES: tuple[tuple[str, tuple[tuple[str, float], ...], tuple[str, ...]], ...] = (
    ("caption+sketch", (("caption", 1.0), ("sketch", 1.0)), ("joint", "guidance", "fusion")),
    ("caption+depth", (("caption", 1.0), ("depth", 1.0)), ("joint", "guidance", "fusion")),
    ("sketch+semseg", (("sketch", 1.0), ("semseg", 1.0)), ("joint", "guidance", "fusion")),
    ("caption 1 + sketch 0.5", (("caption", 1.0), ("sketch", 0.5)), ("guidance", "fusion")),
    ("caption 0.5 + sketch 1", (("caption", 0.5), ("sketch", 1.0)), ("guidance", "fusion")),
    ("depth 1 + caption 0.3", (("depth", 1.0), ("caption", 0.3)), ("guidance", "fusion")),
)


def main() -> None:
    """Print (and write) a markdown table: one row per case and way."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=777_001)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--out", default=None)
    parser.add_argument("--negative-only", action="store_true", help="only the 'not item' rows")
    args = parser.parse_args()

    from model.bundle.loading import load_bundle
    from model.data.sample import generate_scene
    from model.data.synth import scene_seed
    from model.data.tensors import from_samples, pixel_inputs
    from model.eval.retrieval import CAPTION_TEXTS, query_inputs, ranking_metrics
    from model.families.combination import WeightedPart, combine
    from model.inference.fusion import fuse

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # not bench/search.py
    from search.steering import NEGATIVE_RULES

    start = time.perf_counter()
    bundle = load_bundle(args.model)
    size = int(bundle.modality("rgb").split("@")[1])
    gallery = from_samples([generate_scene(scene_seed(args.seed, i), size) for i in range(args.n)])
    caption_ids = {b: bundle.text.caption_batch([f(c) for c in gallery.captions]).ids
                   for b, f in CAPTION_TEXTS.items()}  # fmt: skip
    everything = torch.arange(args.n)
    rgb = bundle.modality("rgb")
    index = {s: e.vectors for s, e in bundle.embed_spaces(
        {rgb: pixel_inputs(gallery, everything, [rgb])[rgb]}).items()}  # fmt: skip

    def part(base: str, weight: float, shift: int = 0) -> WeightedPart:
        make: Inputs = query_inputs(bundle, gallery, (base,), caption_ids)
        return WeightedPart(make((everything + shift) % args.n), weight)

    def scores(parts: list[WeightedPart], how: str) -> torch.Tensor:
        found = combine(bundle, parts, how)
        sims = {s: found[s].vectors @ index[s].t() for s in index}
        return fuse(sims, {s: found[s].information for s in index})

    rows = []
    for name, bases, ways in () if args.negative_only else CASES:
        for how in ways:
            t0 = time.perf_counter()
            metrics = ranking_metrics(scores([part(b, w) for b, w in bases], how))
            rows.append((name, how, metrics, time.perf_counter() - t0))
    nxt = (everything + 1) % args.n
    negative = [
        ("caption", "joint", [part("caption", 1.0)]),
        *(
            ("caption, not next sketch 0.5", how, [part("caption", 1.0), part("sketch", -0.5, 1)])
            for how in ("guidance", "fusion")
        ),
    ]
    for name, how, parts in () if args.negative_only else negative:
        t0 = time.perf_counter()
        sim = scores(parts, how)
        metrics = ranking_metrics(sim)
        top = sim.topk(10, dim=1).indices
        metrics["neg@10"] = float((top == nxt[:, None]).any(1).float().mean())
        rows.append((name, how, metrics, time.perf_counter() - t0))

    # "not like this" on an indexed item: the caption's top wrong hit, at each weight and rule
    found = combine(bundle, [part("caption", 1.0)], "joint")
    info = {s: found[s].information for s in index}
    alone = fuse({s: found[s].vectors @ index[s].t() for s in index}, info)
    wrong = alone.clone()
    wrong[everything, everything] = -torch.inf
    hard = wrong.argmax(1)  # per query: its top wrong hit
    for rule_name, rule in NEGATIVE_RULES.items():
        for weight in (-0.25, -0.4, -0.5, -0.6, -0.75, -1.0):
            t0 = time.perf_counter()
            sims = {}
            for s in index:
                steered = rule(found[s].vectors.double().numpy(), weight,
                               index[s][hard].double().numpy())  # fmt: skip
                sims[s] = torch.from_numpy(steered).float() @ index[s].t()
            sim = fuse(sims, info)
            metrics = ranking_metrics(sim)
            top = sim.topk(10, dim=1).indices
            metrics["neg@10"] = float((top == hard[:, None]).any(1).float().mean())
            name = f"caption, not its top wrong item {weight}"
            rows.append((name, rule_name, metrics, time.perf_counter() - t0))
    top = alone.topk(10, dim=1).indices
    base = ranking_metrics(alone)
    base["neg@10"] = float((top == hard[:, None]).any(1).float().mean())
    rows.append(("caption (its top wrong item, no negative)", "joint", base, 0.0))

    lines = [
        f"Gallery: {args.n} held-out scenes (seed {args.seed}), model {args.model}, spaces fused "
        f"by information; {time.perf_counter() - start:.0f} s in all on {torch.get_num_threads()} "
        "threads.",
        "",
        "| query | way | R@1 | R@10 | MRR | neg@10 | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, how, m, seconds in rows:
        neg = f"{m['neg@10']:.3f}" if "neg@10" in m else ""
        lines.append(
            f"| {name} | {how} | {m['R@1']:.3f} | {m['R@10']:.3f} | {m['MRR']:.3f} | {neg} | "
            f"{seconds:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
