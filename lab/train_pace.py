"""What a training run of a recipe (the shipped one unless ``--recipe``) costs on this CPU.

    PYTHONPATH=. .venv/bin/python lab/train_pace.py --scenes 2000 \
        --out lab/results/train_pace.md

For each image side (the shipped network at 64 pixels, ``max_pool_96`` at 96) this renders
``--scenes`` training scenes as ``anyseek train default`` does (timed, and their size on disk,
which training holds in memory), then times one batch's training step of the shipped recipe in
float32 and under bfloat16 autocast (``anyseek.workbench.pace``, the trial every run makes before it
trains), and again in the chosen precision through torch's fused attention kernel for the text
tower (recipes train through plain matmuls, ``train.attention``). A run's pace is the mean step
over ``--run-steps`` fresh batches, batch making included, drawn from the rendered scenes and
again from a set of the recipe's size (the rendered scenes repeated), since a run draws its
batches from its whole set, held in memory. The validation gallery is rendered and one
validation timed, as a run makes one after every chunk. From these the recipe's steps, scenes
and validations are projected to minutes. It answers whether a recipe fits the 120 minutes
issue 53 gives a run from nothing on the machine at hand, before a run is started.
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import random
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anyseek.model.builtin.network import BuiltinConfig, BuiltinModel
from anyseek.model.builtin.text import WordVocab
from anyseek.model.runtime.precision import native_bf16
from anyseek.workbench.cache import TrainingSet, build_cache
from anyseek.workbench.drawing_transforms import declared_readers
from anyseek.workbench.evaluate import evaluate_model
from anyseek.workbench.pace import PrecisionTrial, step_seconds, time_precisions
from anyseek.workbench.recipe import Recipe, TrainRecipe, load_recipe
from anyseek.workbench.styles import HELD_OUT
from anyseek.workbench.train import Batcher, TrainState, new_state, train_step
from anyseek.workbench.training_run import build_vocab, in_memory_model

#: model config -> the image side it reads (rendered at that side)
SIDES = {"max_pool": 64, "max_pool_96": 96}


@dataclass(frozen=True)
class Sizes:
    """How much is rendered and timed."""

    scenes: int  # rendered per side
    repeats: int  # timed steps per precision
    run_steps: int  # fresh batches a run's pace is the mean of
    run_set: int  # scenes a run's pace is drawn from the second time
    val_scenes: int  # the validation gallery timed


@dataclass(frozen=True)
class Pace:
    """One image side's costs on this CPU."""

    model: str
    side: int
    render_s_per_1000: float
    mb_per_1000: float
    trial: PrecisionTrial
    fused_s: float  # the step in the chosen precision with the text tower's fused attention
    run_s: float  # a step as a run takes it: fresh batches, batch making included
    full_run_s: float  # the same drawn from a set of the recipe's size
    val_render_s: float  # rendering the validation gallery
    val_s: float  # one validation, as a run makes after every chunk


def full_size(data: TrainingSet, scenes: int) -> TrainingSet:
    """``data`` repeated to about ``scenes`` scenes: the memory a run's batches are drawn from."""
    return TrainingSet.concat([data] * max(1, round(scenes / len(data))))


def cpu_name() -> str:
    """The CPU's model name and the bfloat16 flags it reports."""
    info = Path("/proc/cpuinfo")
    text = info.read_text() if info.is_file() else ""
    name = re.search(r"model name\s*:\s*(.+)", text)
    flags = sorted(set(re.findall(r"\b(avx512_bf16|amx_bf16|amx_tile)\b", text)))
    return f"{name.group(1) if name else platform.processor()}; flags: {', '.join(flags) or 'none'}"


def measure(base: Recipe, model: str, side: int, sizes: Sizes, root: Path) -> Pace:
    """Render ``sizes.scenes`` at ``side`` into ``root`` and time the recipe's step there, its
    step drawn from ``sizes.run_set`` scenes, and one validation on ``sizes.val_scenes``."""
    scenes, repeats, run_steps = sizes.scenes, sizes.repeats, sizes.run_steps
    recipe = replace(base, model=model, data=replace(base.data, size=side, scenes=scenes))
    d, v = recipe.data, recipe.val
    began = time.monotonic()
    data = build_cache(
        root / f"cache-{side}", n=scenes, seed=d.seed, size=side, styles=d.styles, chunk=d.chunk,
        workers=d.workers, readers=declared_readers(side, d.input_settings),
    )  # fmt: skip
    render = (time.monotonic() - began) / scenes * 1000
    mb = sum(f.stat().st_size for f in (root / f"cache-{side}").glob("*.pt")) / 1e6
    torch.manual_seed(0)
    config = BuiltinConfig.load(Path(model))
    state = new_state(BuiltinModel(config), recipe.train)
    queries = tuple(q for q in config.pixel_inputs if q != "rgb")
    batcher = Batcher(data, build_vocab(recipe, data), recipe.train, queries, random.Random(0))
    trial = time_precisions(state, batcher, recipe.train, repeats=repeats)
    fused = replace(recipe.train, attention="auto")
    batch = batcher.batch(recipe.train.batch)  # the trial's batch: it put the random state back
    fused_s = step_seconds(state, batch, fused, bf16=trial.bf16, repeats=repeats)
    as_chosen = replace(recipe.train, bf16=trial.bf16)
    run_s = run_seconds(state, batcher, as_chosen, run_steps)
    whole = Batcher(
        full_size(data, sizes.run_set), batcher.vocab, recipe.train, queries, batcher.rng
    )
    full_run_s = run_seconds(state, whole, as_chosen, run_steps)
    del whole  # the repeated set's memory, before the validation gallery is rendered
    began = time.monotonic()
    val = build_cache(
        root / f"val-{side}", n=sizes.val_scenes, seed=v.seed, size=side, styles=v.styles,
        chunk=d.chunk, workers=d.workers, readers=declared_readers(side, d.input_settings),
    )  # fmt: skip
    val_render_s = time.monotonic() - began
    val_s = validation_seconds(state, batcher.vocab, val, recipe, root)
    mb_per_1000 = round(mb / scenes * 1000, 1)
    return Pace(
        model, side, round(render, 2), mb_per_1000, trial, fused_s, run_s, full_run_s,
        round(val_render_s, 1), round(val_s, 1),
    )  # fmt: skip


def validation_seconds(
    state: TrainState, vocab: WordVocab, val: TrainingSet, recipe: Recipe, root: Path
) -> float:
    """One validation as a run makes it after every chunk: the model as its bundle will load,
    asked the validation gallery's queries."""
    state.model.eval()
    began = time.monotonic()
    search_model = in_memory_model(state.model, vocab, root, recipe.data.input_settings)
    evaluate_model(search_model, val.scenes, val.drawings, held_out=HELD_OUT)
    state.model.train()
    return time.monotonic() - began


def run_seconds(state: TrainState, batcher: Batcher, recipe: TrainRecipe, steps: int) -> float:
    """Mean seconds per step over ``steps`` fresh batches, each made as a run makes it, after
    two to warm up, on a copy of ``state``. One batch repeated (the precision trial) runs
    faster than a run does: this times batch making too, and takes the mean where the trial
    takes its fastest step, and a new row count costs the convolutions a new plan (a few
    per cent of a step, by oneDNN's verbose log on a 2-core AMX Xeon)."""
    trial = copy.deepcopy(state)
    for _ in range(2):
        train_step(trial, batcher.batch(recipe.batch), recipe)
    began = time.perf_counter()
    for _ in range(steps):
        train_step(trial, batcher.batch(recipe.batch), recipe)
    return round((time.perf_counter() - began) / steps, 4)


def report(paces: list[Pace], recipe: Recipe, sizes: Sizes, command: str, cpu: str) -> str:
    """The markdown: per side, the step both ways and the recipe's run projected."""
    rendered, run_steps, run_set = sizes.scenes, sizes.run_steps, sizes.run_set
    val_scenes = sizes.val_scenes
    steps, scenes, chunk = recipe.train.steps, recipe.data.scenes, recipe.train.chunk_minutes
    lines = [
        "# Training pace of the built-in model on this CPU",
        "",
        f"Command: `{command}`",
        "",
        f"CPU: {cpu}; {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"native bfloat16 by its flags: {'yes' if native_bf16() else 'no'}.",
        "",
        f"One batch of {recipe.train.batch} of the recipe `{recipe.name}`, its training step "
        "timed after a warm-up step, the fastest of the repeats (`anyseek.workbench.pace`, the "
        "trial `anyseek train default` makes before it trains), "
        "in float32 and under bf16 autocast; then, in the precision the trial chose, the mean "
        f"step over {run_steps} fresh batches, each made as a run makes it (a run's pace: "
        "batches differ in the rows each modality takes, so one batch repeated is faster), "
        f"drawn from the {rendered:,} rendered scenes and again from {run_set:,} (the rendered "
        "scenes repeated: the memory a run draws its batches from); rendering timed on "
        f"{rendered:,} scenes per side, on {recipe.data.workers} worker processes; one "
        f"validation timed on a gallery of {val_scenes:,}, as a run makes one after every "
        f"{chunk:g}-minute chunk and once more at the end. Projected: the recipe's {steps:,} "
        f"steps at the pace drawn from {run_set:,} scenes; rendering its {scenes:,} scenes and "
        f"its {recipe.val.scenes:,}-scene validation gallery; its validations; from nothing is "
        "all of them together. The text tower's attention runs as "
        f"recipes train it (`train.attention` {recipe.train.attention!r}); the last two columns "
        "time the trial's step in the chosen precision through torch's fused attention kernel "
        "instead (`attention` 'auto').",
        "",
        "| model | image side | float32 s/step | bf16 autocast s/step | bf16 / float32 | "
        f"chosen | a run's s/step, {rendered:,} scenes | a run's s/step, {run_set:,} scenes | "
        f"{steps:,} steps, min | render s / 1,000 scenes | render min | validation s | "
        "validations, min | from nothing, min | GB | fused attention s/step | "
        "fused / as trained |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in paces:
        t = p.trial
        train_min = p.full_run_s * steps / 60
        val_per_1000 = p.val_render_s / val_scenes * 1000
        render_min = (p.render_s_per_1000 * scenes + val_per_1000 * recipe.val.scenes) / 1000 / 60
        val_each = p.val_s * recipe.val.scenes / val_scenes
        val_min = val_each * (math.ceil(train_min / chunk) + 1) / 60
        total = train_min + render_min + val_min
        lines.append(
            f"| {p.model} | {p.side} | {t.float32_s:.3f} | {t.bf16_s:.3f} | "
            f"{t.bf16_s / t.float32_s:.2f} | {t.chosen} | {p.run_s:.3f} | {p.full_run_s:.3f} | "
            f"{train_min:.0f} | {p.render_s_per_1000:.1f} | {render_min:.0f} | {val_each:.0f} | "
            f"{val_min:.0f} | {total:.0f} | {p.mb_per_1000 * scenes / 1000 / 1000:.1f} | "
            f"{p.fused_s:.3f} | {p.fused_s / t.seconds:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Measure each side, then write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=2000, help="rendered per side")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per precision")
    parser.add_argument(
        "--run-steps", type=int, default=20, help="fresh batches a run's pace is the mean of"
    )
    parser.add_argument("--models", default=",".join(SIDES), help=f"from {', '.join(SIDES)}")
    parser.add_argument(
        "--recipe", default="default", help="shipped recipe name or a .json file to project"
    )
    parser.add_argument(
        "--run-set", type=int, help="scenes a run's pace is drawn from (default: the recipe's)"
    )
    parser.add_argument(
        "--val-scenes", type=int, help="validation gallery timed (default: the recipe's)"
    )
    parser.add_argument("--out", type=Path, help="the markdown report")
    args = parser.parse_args()
    unknown = [m for m in args.models.split(",") if m not in SIDES]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(SIDES)}")
    try:
        base = load_recipe(args.recipe)
    except ValueError as err:
        parser.error(str(err))
    sizes = Sizes(
        args.scenes,
        args.repeats,
        args.run_steps,
        args.run_set or base.data.scenes,
        args.val_scenes or base.val.scenes,
    )
    if min(vars(sizes).values()) < 1:
        parser.error(
            "--scenes, --repeats, --run-steps, --run-set and --val-scenes must be at least 1"
        )
    torch.set_num_threads(base.train.threads)
    with tempfile.TemporaryDirectory(prefix="train-pace-") as root:
        paces = [measure(base, m, SIDES[m], sizes, Path(root)) for m in args.models.split(",")]
    command = "PYTHONPATH=. .venv/bin/python lab/train_pace.py " + shlex.join(sys.argv[1:])
    text = report(paces, base, sizes, command, cpu_name())
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
