"""Does averaging a drawn query over moved copies of itself find the held-out person's scenes?

    PYTHONPATH=. .venv/bin/python lab/query_averaging.py --n 1000 --seed 20261301 \
        --out lab/results/held_out_query_averaging.md

The held-out person (``scrawl``) loses most by putting things in the wrong place
(``held_out_knobs.md``), and moving training drawings around has not taught the model to forgive
it (``levers_shift.md``, ``levers_v11.md``). This asks the other side, with no training: each
sketch and painting is embedded as it is and as ``--copies`` copies bent or with each object moved
(the training augmentations of ``anyseek.workbench.train`` and ``anyseek.workbench.placement``),
and the query is the mean of those vectors, a layout blurred over where things might have been.
Every row is the same gallery and the same drawings; only the query's reading changes.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.model.service import QueryRequest, SearchModel, load_search_model
from anyseek.workbench.evaluate import evaluate_rendered, generated_gallery
from anyseek.workbench.placement import objects_moved
from anyseek.workbench.train import DRAWN, moved, warped
from lab.train_pace import cpu_name

Move = Callable[[str, torch.Tensor], torch.Tensor]  # (modality, one input) -> a moved copy

#: reading -> (what it does, how one copy is moved, amount)
READINGS: dict[str, tuple[str, str, float]] = {
    "as drawn": ("the drawing alone (as search reads it)", "none", 0.0),
    "bent 0.05": ("mean over the drawing and bent copies, 0.05 of the page", "bent", 0.05),
    "bent 0.10": ("the same, bent 0.10 of the page", "bent", 0.10),
    "objects moved 0.05": ("mean over copies, each object moved 0.05 of the page", "placed", 0.05),
    "objects moved 0.10": ("the same, each object moved 0.10 of the page", "placed", 0.10),
}  # fmt: skip


def move_of(kind: str, amount: float) -> Move:
    """One copy of a model-ready drawing ([1, S, S] sketch or [S, S] painting), moved."""
    if kind == "bent":
        return lambda name, x: moved(name, x[None], lambda m: warped(m, amount))[0]
    return lambda name, x: objects_moved(x[None], name, amount, 0.0)[0]


class Averaged:
    """A search model whose drawn queries are the mean of the drawing's and its copies' vectors;
    everything else is the wrapped model's."""

    def __init__(self, model: SearchModel, move: Move, copies: int) -> None:
        self.model, self.move, self.copies = model, move, copies

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def embed_queries(self, requests: Sequence[QueryRequest]) -> list[dict[str, Any]]:
        """The wrapped model's answers, each space's vector averaged over the copies."""
        answers = [self.model.embed_queries(requests)]
        for _ in range(self.copies):
            copies = [
                dataclasses.replace(r, inputs={
                    m: self.move(m, v) if m in DRAWN else v for m, v in r.inputs.items()
                })
                for r in requests
            ]  # fmt: skip
            answers.append(self.model.embed_queries(copies))
        out = []
        for i, first in enumerate(answers[0]):
            found = {}
            for space, e in first.items():
                total = np.sum([a[i][space].vector for a in answers], axis=0)
                unit = (total / np.linalg.norm(total)).astype(e.vector.dtype)
                found[space] = dataclasses.replace(e, vector=unit)
            out.append(found)
        return out


#: report row -> column label, metric
COLUMNS = (
    ("sketch (scrawl, held out)", "held-out sketch R@10", "R@10"),
    ("semseg (scrawl, held out)", "held-out painting R@10", "R@10"),
    ("sketch (default)", "default sketch R@1", "R@1"),
    ("semseg (default)", "default painting R@1", "R@1"),
    ("sketch", "generator's sketch R@1", "R@1"),
)


def main() -> None:
    """Evaluate each reading on the same gallery; write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261301)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    began = time.monotonic()
    model = load_search_model(args.model)
    gallery = generated_gallery(model, args.n, args.seed, human=True)  # one for every reading
    rows = []
    for label, (_, kind, amount) in READINGS.items():
        torch.manual_seed(0)  # the same copies' randomness for every reading
        asked = model if kind == "none" else Averaged(model, move_of(kind, amount), args.copies)
        report = evaluate_rendered(asked, gallery, args.seed).report
        values = [next(iter(report[row].values()))[metric] for row, _, metric in COLUMNS]
        rows.append((label, values))
        print(label, [round(v, 3) for v in values], flush=True)

    command = "PYTHONPATH=. .venv/bin/python " + shlex.join(sys.argv)
    lines = [
        "# The held-out person: a drawn query averaged over moved copies of itself",
        "",
        f"Command: `{command}` ({time.monotonic() - began:.0f} s). CPU: {cpu_name()}, 2 "
        f"cores. Model: `{args.model}`; gallery of {args.n:,} scenes, seed {args.seed}; "
        f"{args.copies} copies per query. One gallery and one set of drawings for every row.",
        "",
        "| reading | " + " | ".join(c for _, c, _ in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    lines += [f"| {label} | " + " | ".join(f"{v:.3f}" for v in vs) + " |" for label, vs in rows]
    lines += ["", "Readings:", ""]
    lines += [f"- {label}: {what}." for label, (what, _, _) in READINGS.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
