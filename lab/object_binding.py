"""Where one-object captions go wrong: each stated attribute alone, against the whole object.

    PYTHONPATH=. .venv/bin/python lab/object_binding.py --models builtin --n 1000 \
        --seed 20261127 --out lab/results/object_binding.md

Every gallery scene is asked for by its caption's first object ("A small red metal cube.", the
query of attr_P@10). For each query's top 10 images this counts the share that has *some*
object of the stated shape, of the stated colour, size and material, each alone, then of shape
and colour on one object, and finally the whole stated object (attr_P@10). A model that reads a
scene as a bag of attributes scores high on each alone and low on the conjunctions: the gap
between the two is what it does not bind.

A last column asks whether the image vectors carry the whole object at all: a linear probe
(one logistic classifier per conjunction of ``anyseek.workbench.attributes``) is fitted on the
vectors
of ``--probe-scenes`` other scenes, and each query's gallery ranked by the probe's logit for its
stated conjunction. Its P@10 is what a caption vector could reach by pointing where the probe
points; far above attr_P@10, the gap is on the caption's side, not the image's.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ATTRIBUTES = ("shape", "color", "size", "material")
COLUMNS = (*ATTRIBUTES, "shape+color", "whole object (attr_P@10)")
PROBE = "linear probe of the image vectors, P@10"
#: column -> the caption of each scene it asks about, as a ``scene_values`` base
PREFERS = {
    "image prefers its one-object caption to a binding negative": "object",
    "image prefers its object list to a binding negative": "caption",
}


def has(scene: dict[str, Any], fact: dict[str, str]) -> bool:
    """Whether one visible object of the scene has every attribute of ``fact``."""
    return any(all(o.get(k) == v for k, v in fact.items()) for o in scene["objects"])


def binding_row(top: torch.Tensor, facts: list[dict[str, str]], scenes: list) -> dict[str, float]:
    """Column -> share of the top hits [Q, k] with that part of each query's stated object
    (an attribute a query does not state is left out of that column's count)."""
    hits = {c: 0 for c in COLUMNS}
    asked = {c: 0 for c in COLUMNS}
    for query, fact in enumerate(facts):
        parts = {a: {a: fact[a]} for a in ATTRIBUTES if a in fact}
        parts["shape+color"] = {a: fact[a] for a in ("shape", "color") if a in fact}
        parts["whole object (attr_P@10)"] = fact
        for column, part in parts.items():
            for j in top[query].tolist():
                hits[column] += has(scenes[j], part)
                asked[column] += 1
    return {c: hits[c] / max(1, asked[c]) for c in COLUMNS}


def fit_probe(vectors: torch.Tensor, labels: torch.Tensor, steps: int = 500) -> torch.nn.Linear:
    """A logistic classifier per label [N, L] of image vectors [N, D], full batch, Adam."""
    from anyseek.workbench.attributes import unit_scaled

    probe = torch.nn.Linear(vectors.shape[1], labels.shape[1])
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.01)
    x = unit_scaled(vectors)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(probe(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return probe.eval()


def probe_precision(
    probe: torch.nn.Linear, images: torch.Tensor, facts: list[dict[str, str]], scenes: list
) -> float:
    """P@10 of ranking the gallery [N, D] by the probe's logit for each query's stated object."""
    from anyseek.workbench.attributes import label_of, unit_scaled

    logits = probe(unit_scaled(images)).detach()  # [N, L]
    hits = asked = 0
    for fact in facts:
        label = label_of(fact)
        if label is None:
            continue
        top = logits[:, label].topk(10).indices.tolist()
        hits += sum(has(scenes[j], fact) for j in top)
        asked += len(top)
    return hits / max(1, asked)


def prefers_own(
    model: Any, images: torch.Tensor, texts: list[str], scenes: list, seed: int
) -> float:
    """Share of images [N, D] closer to their own caption than to its binding negative (the
    caption one attribute away from true, ``anyseek.workbench.negatives``); 0.5 is a bag of
    attributes."""
    import random

    from anyseek.workbench.negatives import binding_negative

    rng = random.Random(seed)
    pairs = [(i, binding_negative(t, scenes[i], rng)) for i, t in enumerate(texts)]
    pairs = [(i, negative) for i, negative in pairs if negative is not None]
    own = [texts[i] for i, _ in pairs]
    negatives = [negative for _, negative in pairs]
    own_vectors, negative_vectors = (caption_vectors(model, t) for t in (own, negatives))
    rows = images[[i for i, _ in pairs]]
    return float(((rows * own_vectors).sum(1) > (rows * negative_vectors).sum(1)).float().mean())


def caption_vectors(model: Any, texts: list[str]) -> torch.Tensor:
    """Each caption's vector [N, D] in the model's one space, the way search embeds it."""
    from anyseek.workbench.evaluate import query_vectors

    vectors, _ = query_vectors(model, ("caption",), {"caption": texts.__getitem__}, len(texts), 256)
    return next(iter(vectors.values()))


def measure(source: str, n: int, seed: int, probe_scenes: int) -> tuple[dict[str, float], dict]:
    """One model's row, and how often each attribute is stated."""
    from anyseek.model.service import load_search_model
    from anyseek.workbench.attributes import conjunction_labels
    from anyseek.workbench.evaluate import image_vectors, input_size, query_vectors, scene_values
    from anyseek.workbench.metrics import caption_facts
    from anyseek.workbench.presence import encode_scenes

    model = load_search_model(source, device="cpu")
    gallery, train = _galleries(n, seed, probe_scenes, input_size(model))
    values = scene_values(gallery)
    images = image_vectors(model, gallery)
    queries, _ = query_vectors(model, ("object",), values, n, 256)
    space = next(iter(queries))
    top = (queries[space] @ images[space].t()).topk(10, dim=1).indices
    facts = [(caption_facts(values["object"](i)) or [{}])[0] for i in range(n)]
    stated = {a: sum(a in f for f in facts) / n for a in ATTRIBUTES}
    row = binding_row(top, facts, gallery.scenes)
    for column, base in PREFERS.items():
        texts = [values[base](i) for i in range(n)]
        row[column] = prefers_own(model, images[space], texts, gallery.scenes, seed)
    if probe_scenes:
        labels = conjunction_labels(encode_scenes(train.scenes))
        probe = fit_probe(image_vectors(model, train)[space], labels)
        row[PROBE] = probe_precision(probe, images[space], facts, gallery.scenes)
    return row, stated


@functools.cache
def _galleries(n: int, seed: int, probe_scenes: int, size: int) -> tuple[Any, Any]:
    """The query gallery and the probe's own scenes (another seed; None without a probe),
    rendered once per run and image size."""
    from anyseek.workbench.cache import ChunkJob, render_chunk

    gallery = render_chunk(ChunkJob(seed, 0, n, size, (), None)).scenes
    if not probe_scenes:
        return gallery, None
    return gallery, render_chunk(ChunkJob(seed + 1, 0, probe_scenes, size, (), None)).scenes


def main() -> None:
    """Measure every model and write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="builtin", help="comma-separated sources or folders")
    parser.add_argument("--names", default="", help="comma-separated row names (default: sources)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--probe-scenes", type=int, default=3000, help="0: no probe column")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sources = args.models.split(",")
    names = args.names.split(",") if args.names else sources
    if len(names) != len(sources):
        parser.error(f"--names gives {len(names)} names for {len(sources)} models")
    began = time.monotonic()
    columns = (*COLUMNS, *PREFERS, PROBE) if args.probe_scenes else (*COLUMNS, *PREFERS)
    lines = [f"| model | {' | '.join(columns)} |", "|---|" + "---|" * len(columns)]
    stated: dict[str, float] = {}
    for name, source in zip(names, sources, strict=True):
        row, stated = measure(source, args.n, args.seed, args.probe_scenes)
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")
    said = ", ".join(f"{a} {share:.0%}" for a, share in stated.items())
    text = "\n".join(lines) + f"\n\nQueries stating each attribute: {said}.\n"
    command = "PYTHONPATH=. .venv/bin/python lab/object_binding.py " + shlex.join(sys.argv[1:])
    print(text)
    print(f"{args.n} scenes, seed {args.seed}; {time.monotonic() - began:.0f} s")
    if args.out:
        args.out.write_text(f"Command: `{command}`\n\n{text}")


if __name__ == "__main__":
    main()
