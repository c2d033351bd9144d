"""Ways the text tower can take a training batch's word rows, each step timed in turns on this CPU.

    PYTHONPATH=. .venv/bin/python lab/text_tower_ways.py \
        --recipes lab/recipes/v11e-draft.json,lab/recipes/v11f-draft.json --rounds 10 \
        --out lab/results/text_tower_ways.md

A v11 training batch has hundreds of word rows, and they repeat (a twin's caption, a colour row many
scenes share). ``TextTower.forward`` encodes each distinct row once, in groups of
``TEXT_GROUP_ROWS`` rows of similar length, each group cut to its own longest row. Every way gives
the same vectors (padding is masked); they differ in the work and in how many passes the work takes.
Each way (``WAYS``: whether rows alike are encoded once, and the group size) is timed on the same
batches, in turns whose order rotates, because a 2-core cloud CPU's speed drifts between runs by
more than these changes (the render column of ``lab/results/train_pace_zen4_v11e.md`` and
``train_pace_zen4_v11f_b.md``: the same scenes, rendered minutes apart): two separate runs cannot
tell them apart, turns can. For each recipe and way: the text tower alone (forward and backward on
the first batch's rows, the fastest turn) and the whole step (the mean over the batches, the median
of the turns), each against the first way, with the spread of the paired step ratios; under bf16
autocast where this CPU multiplies bfloat16 natively, in float32 elsewhere.
"""

from __future__ import annotations

import argparse
import copy
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyseek.model.builtin.network as network
from anyseek.model.builtin.network import BuiltinConfig, BuiltinModel, TextTower
from anyseek.model.runtime.precision import native_bf16
from anyseek.workbench.cache import build_cache
from anyseek.workbench.drawing_transforms import declared_readers
from anyseek.workbench.recipe import Recipe, TrainRecipe, load_recipe
from anyseek.workbench.train import Batcher, TrainState, new_state, train_step
from anyseek.workbench.training_run import build_vocab
from lab.step_profile import stand_in
from lab.train_pace import cpu_name

ONCE = TextTower.forward
SHIPPED_GROUP_ROWS = network.TEXT_GROUP_ROWS


@dataclass(frozen=True)
class Way:
    """How the text tower takes a batch's rows: each distinct row once or every row, and how
    many rows of similar length it encodes in one pass."""

    once: bool
    group_rows: int

    @property
    def name(self) -> str:
        """The way as the report names it."""
        rows = "each distinct row once" if self.once else "every row"
        return f"{rows}, groups of {self.group_rows}"


#: the first is the tower before rows alike were encoded once; the rest are compared with it
WAYS = (Way(False, 32), Way(True, 32), Way(True, 64), Way(True, 128), Way(True, 256))


@dataclass(frozen=True)
class Timing:
    """One recipe's word rows and one way's seconds."""

    recipe: str
    rows: int  # word rows of a batch (the mean over the batches timed)
    distinct: int
    way: Way
    tower_s: float
    step_s: float
    ratios: tuple[float, ...]  # this way's step / the first way's, one per turn, sorted


@contextmanager
def taken(way: Way) -> Iterator[None]:
    """The text tower set to take its rows ``way`` (put back after)."""
    TextTower.forward = ONCE if way.once else TextTower.grouped  # type: ignore[method-assign]
    network.TEXT_GROUP_ROWS = way.group_rows
    try:
        yield
    finally:
        TextTower.forward = ONCE  # type: ignore[method-assign]
        network.TEXT_GROUP_ROWS = SHIPPED_GROUP_ROWS


def seconds(work: Callable[[], Any]) -> float:
    """Wall seconds of one call."""
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def tower_seconds(model: BuiltinModel, words: torch.Tensor, bf16: bool, rounds: int) -> float:
    """The text tower's forward and backward on ``words``, the fastest of ``rounds``."""

    def once() -> None:
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            vectors = model.embed_text(words)
        stand_in(vectors).backward()

    once()
    return min(seconds(once) for _ in range(rounds))


def steps_seconds(state: TrainState, batches: list[dict[str, Any]], recipe: TrainRecipe) -> float:
    """Mean seconds of a training step over ``batches``."""
    return seconds(lambda: [train_step(state, b, recipe) for b in batches]) / len(batches)


def measure(recipe: Recipe, data: Any, bf16: bool, rounds: int, batches_n: int) -> list[Timing]:
    """Time one recipe every way on the same batches, in turns whose order rotates."""
    torch.manual_seed(0)
    config = BuiltinConfig.load(Path(recipe.model))
    state = new_state(BuiltinModel(config), recipe.train)
    queries = tuple(q for q in config.pixel_inputs if q != "rgb")
    batcher = Batcher(data, build_vocab(recipe, data), recipe.train, queries, random.Random(0))
    train = replace(recipe.train, bf16=bf16)
    batches = [batcher.batch(train.batch) for _ in range(batches_n)]
    rows = round(statistics.mean(len(b["words"]) for b in batches))
    distinct = round(
        statistics.mean(len(torch.unique(b["words"].flatten(1), dim=0)) for b in batches)
    )
    towers, states = [], []
    for way in WAYS:  # each way trains its own copy, warmed up by one step
        with taken(way):
            towers.append(tower_seconds(state.model, batches[0]["words"], bf16, rounds))
            states.append(copy.deepcopy(state))
            steps_seconds(states[-1], batches[:1], train)
    steps: list[list[float]] = [[] for _ in WAYS]
    for turn in range(rounds):
        for k in range(len(WAYS)):
            i = (k + turn) % len(WAYS)
            with taken(WAYS[i]):
                steps[i].append(steps_seconds(states[i], batches, train))
    return [
        Timing(
            recipe.name,
            rows,
            distinct,
            way,
            round(tower, 4),
            round(statistics.median(s), 4),
            tuple(sorted(round(x / y, 3) for x, y in zip(s, steps[0], strict=True))),
        )
        for way, tower, s in zip(WAYS, towers, steps, strict=True)
    ]


def report(timings: list[Timing], command: str, cpu: str, bf16: bool, args: Any) -> str:
    """The markdown: one table row per recipe and way."""
    precision = "bf16 autocast" if bf16 else "float32"
    lines = [
        "# Ways the text tower can take a training batch's word rows: what a step costs",
        "",
        f"Command: `{command}`",
        "",
        f"CPU: {cpu}; {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{precision}; {args.scenes:,} rendered scenes, {args.batches} batches of each recipe, "
        f"{args.rounds} turns of every way, the order rotating each turn.",
        "",
        "The first way of each recipe is the text tower as it was before rows alike were "
        "encoded once. Tower: its forward and backward on the first batch's rows, the fastest "
        "turn. Step: the mean over the batches, the median of the turns. The paired ratios are "
        "this way's step over the first way's in the same turn, from lowest to highest.",
        "",
        "| recipe | word rows | distinct | way | tower s | tower / first | step s | "
        "step / first | paired ratios |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in timings:
        first = next(f for f in timings if f.recipe == t.recipe and f.way == WAYS[0])
        lines.append(
            f"| {t.recipe} | {t.rows} | {t.distinct} | {t.way.name} | {t.tower_s:.3f} | "
            f"{t.tower_s / first.tower_s:.2f} | {t.step_s:.3f} | {t.step_s / first.step_s:.3f} "
            f"| {', '.join(f'{r:.3f}' for r in t.ratios)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Render, time each recipe every way, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="lab/recipes/v11e-draft.json")
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=4, help="batches each turn steps through")
    parser.add_argument("--rounds", type=int, default=10, help="turns of every way")
    parser.add_argument("--cache", type=Path, default=Path("runs/text-tower-ways"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if min(args.scenes, args.batches, args.rounds) < 1:
        parser.error("--scenes, --batches and --rounds must be at least 1")
    torch.set_num_threads(2)
    recipes = [load_recipe(Path(r)) for r in args.recipes.split(",")]
    bf16 = all(r.train.bf16 for r in recipes) and native_bf16()
    timings = []
    for recipe in recipes:
        d = recipe.data
        data = build_cache(
            args.cache / f"cache-{d.size}", n=args.scenes, seed=d.seed, size=d.size,
            styles=d.styles, chunk=d.chunk, workers=d.workers,
            readers=declared_readers(d.size, d.input_settings),
        )  # fmt: skip
        timings += measure(recipe, data, bf16, args.rounds, args.batches)
    script = ["lab/text_tower_ways.py", *sys.argv[1:]]
    command = "PYTHONPATH=. .venv/bin/python " + shlex.join(script)
    text = report(timings, command, cpu_name(), bf16, args)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
