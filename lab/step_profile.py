"""Where a training step of a recipe spends its time on this CPU, part by part and op by op.

    PYTHONPATH=. .venv/bin/python lab/step_profile.py --scenes 2000 --steps 12 \
        --out lab/results/step_profile.md

Renders ``--scenes`` training scenes as ``anyseek train default`` does (into ``--cache``, read
again on the next call), then, for each recipe named (``--recipes``: shipped names or paths):

* **batch making**: the mean of ``--steps`` batches, and its parts (the pixel query groups, the
  second queries, captions and their word rows, the loss labels);
* **each tower alone**: its forward and backward on a real batch's rows with a stand-in loss
  (image tower with its grid, the pixel queries' stems and trunk, the second queries, the text
  tower), so the parts of a step show what each costs;
* **the whole step** as a run takes it (fresh batches, batch making excluded) in the precision
  the run would choose on this CPU, and torch's profiler's ten costliest ops of it.

It answers what to cut to make a step cheaper before a recipe's arms are trained.
"""

from __future__ import annotations

import argparse
import random
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.model.builtin.network import BuiltinConfig, BuiltinModel
from anyseek.model.runtime.precision import native_bf16
from anyseek.workbench.cache import build_cache
from anyseek.workbench.drawing_transforms import declared_readers
from anyseek.workbench.recipe import Recipe, load_recipe
from anyseek.workbench.train import Batcher, new_state, train_step
from anyseek.workbench.training_run import build_vocab
from lab.train_pace import cpu_name


def mean_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """Mean wall seconds of ``fn`` over ``repeats`` calls, after one to warm up."""
    fn()
    began = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - began) / repeats


def stand_in(x: torch.Tensor) -> torch.Tensor:
    """A loss that reaches every output value (its backward is as wide as a real one's)."""
    return (x.float() * torch.linspace(-1, 1, x.shape[-1])).sum()


def tower_costs(model: BuiltinModel, batch: dict[str, Any], repeats: int) -> dict[str, float]:
    """Seconds of forward + backward of each tower alone on ``batch``'s rows."""

    def image() -> None:
        model.zero_grad(set_to_none=True)
        vectors, grid = model.embed_images_and_grid(batch["rgb"])
        (stand_in(vectors) + stand_in(grid.mean((-2, -1)))).backward()

    def queries(key: str) -> Callable[[], None]:
        def run() -> None:
            groups = batch[key]
            names = list(groups)
            model.zero_grad(set_to_none=True)
            stand_in(model.embed_mixed(names, {n: groups[n][1] for n in names})).backward()

        return run

    def text() -> None:
        model.zero_grad(set_to_none=True)
        stand_in(model.embed_text(batch["words"])).backward()

    costs = {
        "image tower (rgb rows, with its grid)": mean_seconds(image, repeats),
        "pixel queries (stems + trunk)": mean_seconds(queries("groups"), repeats),
        "text tower": mean_seconds(text, repeats),
    }
    if batch.get("second"):
        costs["second pixel queries"] = mean_seconds(queries("second"), repeats)
    return costs


def batch_costs(batcher: Batcher, size: int, repeats: int) -> dict[str, float]:
    """Seconds of making a batch, whole and by part."""
    index = torch.randint(len(batcher.data), (size,))
    kinds = batcher.query_kinds(size)
    words = [batcher.caption(int(i)) for i in index]
    return {
        "whole batch": mean_seconds(lambda: batcher.batch(size), repeats),
        "pixel query groups": mean_seconds(lambda: batcher.groups(kinds, index), repeats),
        "captions chosen": mean_seconds(lambda: [batcher.caption(int(i)) for i in index], repeats),
        "word rows (vocab.batch)": mean_seconds(lambda: batcher.vocab.batch(words), repeats),
    }


def op_table(step: Callable[[], None], top: int) -> list[tuple[str, float, int]]:
    """The ``top`` ops by self CPU time over one profiled step: (name, ms, calls)."""
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    return [(e.key, e.self_cpu_time_total / 1000, e.count) for e in rows[:top]]


def profile_recipe(recipe: Recipe, data: Any, steps: int, bf16: bool) -> list[str]:
    """One recipe's section of the report."""
    torch.manual_seed(0)
    config = BuiltinConfig.load(Path(recipe.model))
    train = replace(recipe.train, bf16=bf16)
    state = new_state(BuiltinModel(config), train)
    queries = tuple(q for q in config.pixel_inputs if q != "rgb")
    batcher = Batcher(data, build_vocab(recipe, data), train, queries, random.Random(0))
    making = batch_costs(batcher, train.batch, steps)
    batches = [batcher.batch(train.batch) for _ in range(steps + 1)]
    with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
        towers = tower_costs(state.model, batches[0], max(3, steps // 3))
    it = iter(batches)
    whole = mean_seconds(lambda: train_step(state, next(it), train), steps)
    ops = op_table(lambda: train_step(state, batches[0], train), 12)
    lines = [
        f"## `{recipe.name}`",
        "",
        f"Batch of {train.batch}; {'bf16 autocast' if bf16 else 'float32'}. A step as a run "
        f"takes it (fresh batches, batch making excluded): **{whole:.3f} s**; batch making "
        f"**{making['whole batch']:.3f} s** more.",
        "",
        "| part | seconds | share of step + batch |",
        "|---|---|---|",
    ]
    total = whole + making["whole batch"]
    for name, s in making.items():
        lines.append(f"| batch: {name} | {s:.3f} | {s / total:.0%} |")
    for name, s in towers.items():
        lines.append(f"| forward + backward: {name} | {s:.3f} | {s / total:.0%} |")
    rest = whole - sum(towers.values())
    share = f"{rest / total:.0%}"
    lines.append(f"| the step's rest (losses, optimiser, autocast) | {rest:.3f} | {share} |")
    lines += ["", "Costliest ops of one step (torch profiler, self CPU time):", "",
              "| op | ms | calls |", "|---|---|---|"]  # fmt: skip
    lines += [f"| `{name}` | {ms:.1f} | {calls} |" for name, ms, calls in ops]
    return [*lines, ""]


def main() -> None:
    """Render once, profile each recipe, write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=12, help="batches each mean is over")
    parser.add_argument("--recipes", default="default", help="comma-separated names or paths")
    parser.add_argument("--cache", type=Path, default=Path("runs/step-profile"))
    parser.add_argument("--precision", choices=("auto", "float32", "bf16"), default="auto")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    recipes = [load_recipe(r) for r in args.recipes.split(",")]
    base = recipes[0]
    torch.set_num_threads(base.train.threads)
    d = base.data
    data = build_cache(
        args.cache / f"cache-{d.size}", n=args.scenes, seed=d.seed, size=d.size, styles=d.styles,
        chunk=min(d.chunk, args.scenes), workers=d.workers,
        readers=declared_readers(d.size, d.input_settings),
    )  # fmt: skip
    bf16 = {"auto": native_bf16(), "float32": False, "bf16": True}[args.precision]
    command = "PYTHONPATH=. .venv/bin/python lab/step_profile.py " + shlex.join(sys.argv[1:])
    lines = [
        "# Where a training step's time goes on this CPU",
        "",
        f"Command: `{command}`",
        "",
        f"CPU: {cpu_name()}; {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{args.scenes:,} rendered scenes. Each tower alone: its forward and backward on a real "
        "batch's rows with a stand-in loss; the step's rest is the whole step less the towers.",
        "",
    ]
    for recipe in recipes:
        lines += profile_recipe(recipe, data, args.steps, bf16)
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
