"""Two levers' training steps timed in alternating turns on one rendered set, on this CPU.

    PYTHONPATH=. .venv/bin/python lab/step_pair.py --recipe lab/recipes/v11c-draft.json \
        --arms base,twin_rows --scenes 2000 --steps 20 --out FILE

Each side is ``--recipe`` with one of ``lab/levers.py``'s arms switched on (``base``: none), at
full length.
A 2-core machine lent by the hour drifts by a quarter between minutes (a plain matmul, timed
again and again, does), so two recipes timed one after the other (``lab/train_pace.py`` twice)
differ by more than a lever moves them. Here both sides train from the same initial weights on
batches made as a run makes them, from one rendered set, and each turn times one step of each,
so drift falls on both alike. Reported: each side's mean step and batch making, and the median
of the per-turn ratios, the second side's step over the first's.
"""

from __future__ import annotations

import argparse
import random
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from anyseek.model.builtin.network import BuiltinConfig, BuiltinModel
from anyseek.workbench.cache import build_cache
from anyseek.workbench.drawing_transforms import declared_readers
from anyseek.workbench.recipe import Recipe, load_recipe
from anyseek.workbench.train import Batcher, TrainState, new_state, train_step
from anyseek.workbench.training_run import build_vocab
from lab.levers import ARMS, arm_recipe
from lab.train_pace import cpu_name


@dataclass
class Side:
    """One recipe's training state, batcher and timings."""

    recipe: Recipe
    state: TrainState
    batcher: Batcher
    steps: list[float]
    making: list[float]

    def turn(self) -> None:
        """Make one batch and take one step, timing each."""
        began = time.perf_counter()
        batch = self.batcher.batch(self.recipe.train.batch)
        made = time.perf_counter()
        train_step(self.state, batch, self.recipe.train)
        self.making.append(made - began)
        self.steps.append(time.perf_counter() - made)


def side(recipe: Recipe, data: object, bf16: bool) -> Side:
    """A fresh model of ``recipe`` (seed 0) and its batcher over ``data``."""
    torch.manual_seed(0)
    config = BuiltinConfig.load(Path(recipe.model))
    train = replace(recipe.train, bf16=bf16)
    recipe = replace(recipe, train=train)
    queries = tuple(q for q in config.pixel_inputs if q != "rgb")
    batcher = Batcher(data, build_vocab(recipe, data), train, queries, random.Random(0))
    return Side(recipe, new_state(BuiltinModel(config), train), batcher, [], [])


def report(recipe: str, a: Side, b: Side, turns: int, scenes: int, bf16: bool, command: str) -> str:
    """The markdown."""
    ratio = statistics.median(y / x for x, y in zip(a.steps, b.steps, strict=True))
    lines = [
        "# Two levers' training steps in alternating turns",
        "",
        f"Command: `{command}`",
        "",
        f"CPU: {cpu_name()}; {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{'bf16 autocast' if bf16 else 'float32'}; the recipe `{recipe}` with each arm's "
        f"lever (`lab/levers.py`), {scenes:,} rendered scenes; {turns} timed turns after 2 to "
        "warm up, each one batch made and one step taken by each arm in turn.",
        "",
        "| arm | mean step, s | median step, s | mean batch making, s |",
        "|---|---|---|---|",
    ]
    for s in (a, b):
        lines.append(
            f"| `{s.recipe.name.removeprefix('lever-')}` | {statistics.mean(s.steps):.3f} | "
            f"{statistics.median(s.steps):.3f} | {statistics.mean(s.making):.3f} |"
        )
    lines += [
        "",
        f"Median of the per-turn ratios, `{b.recipe.name.removeprefix('lever-')}`'s step over "
        f"`{a.recipe.name.removeprefix('lever-')}`'s: **{ratio:.2f}**.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Render, alternate, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="default", help="shipped recipe name or a .json file")
    parser.add_argument("--arms", default="base,twin_rows", help="two of lab/levers.py's arms")
    parser.add_argument("--scenes", type=int, default=2000, help="rendered with the first's data")
    parser.add_argument("--steps", type=int, default=20, help="timed turns")
    parser.add_argument("--bf16", action="store_true", help="under bf16 autocast, not float32")
    parser.add_argument("--out", type=Path, help="the markdown report")
    args = parser.parse_args()
    if args.scenes < 1 or args.steps < 1:
        parser.error("--scenes and --steps must be at least 1")
    arms = args.arms.split(",")
    if len(arms) != 2 or not set(arms) <= set(ARMS):
        parser.error(f"--arms: two of {', '.join(ARMS)}")
    try:
        recipe = load_recipe(args.recipe)
    except ValueError as err:
        parser.error(str(err))
    t = recipe.train
    first, second = (
        arm_recipe(recipe, a, recipe.data.scenes, t.steps, t.chunk_minutes) for a in arms
    )
    if first.data != second.data:
        parser.error("the two arms render different training sets; time them apart")
    torch.set_num_threads(first.train.threads)
    d = first.data
    with tempfile.TemporaryDirectory(prefix="step-pair-") as root:
        data = build_cache(
            Path(root), n=args.scenes, seed=d.seed, size=d.size, styles=d.styles, chunk=d.chunk,
            workers=d.workers, readers=declared_readers(d.size, d.input_settings),
        )  # fmt: skip
        a, b = side(first, data, args.bf16), side(second, data, args.bf16)
        for turn in range(2 + args.steps):
            if turn == 2:  # the warm-up turns are not timed
                for s in (a, b):
                    s.steps.clear()
                    s.making.clear()
            a.turn()
            b.turn()
    command = "PYTHONPATH=. .venv/bin/python lab/step_pair.py " + shlex.join(sys.argv[1:])
    text = report(recipe.name, a, b, args.steps, args.scenes, args.bf16, command)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
