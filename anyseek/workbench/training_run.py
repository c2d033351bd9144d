"""``anyseek train default``: from nothing to a built-in model bundle, resumable at every stage.

Stages, each recorded in ``OUT/stages/<stage>.json`` when done and skipped on the next call:
``data`` (the rendered training set and the held-out validation gallery,
``anyseek.workbench.cache``),
``vocab`` (caption words), ``train`` (``anyseek.workbench.train``, chunk by chunk, validating after
each),
``bundle`` (the model folder the service loads) and ``eval`` (the full report on the validation
gallery through the search-model interface). A run killed mid-stage redoes only that stage's
unfinished part: rendered chunks and the last training checkpoint are kept.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from anyseek.model.builtin.bundle import (
    BuiltinBundle,
    input_names,
    load_builtin_bundle,
    save_builtin_bundle,
)
from anyseek.model.builtin.network import BuiltinConfig, BuiltinModel
from anyseek.model.builtin.text import WordVocab
from anyseek.model.bundle.declarations import declare
from anyseek.model.families.builtin import BuiltinSearchModel, load_builtin_search_model
from anyseek.workbench.cache import TrainingSet, build_cache
from anyseek.workbench.drawing_transforms import declared_readers
from anyseek.workbench.evaluate import evaluate_model, headline
from anyseek.workbench.pace import time_precisions
from anyseek.workbench.recipe import Recipe
from anyseek.workbench.styles import HELD_OUT
from anyseek.workbench.train import Batcher, load_checkpoint, native_bf16, new_state, train_chunks

STAGES = ("data", "vocab", "train", "bundle", "eval")
PRECISION = "precision.json"  # the measured choice of float32 or bf16 autocast (workbench.pace)


@dataclass
class Run:
    """One training run: its recipe and folder."""

    recipe: Recipe
    out: Path
    command: str = "anyseek train default"

    def stage_file(self, stage: str) -> Path:
        """Where a finished stage is recorded."""
        return self.out / "stages" / f"{stage}.json"

    def log(self, line: str) -> None:
        """Print a line and append it to ``train.log``."""
        print(line, flush=True)
        with (self.out / "train.log").open("a") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def _data(run: Run) -> tuple[TrainingSet, TrainingSet]:
    """The training set and the validation gallery (rendered once, then read)."""
    from tqdm import tqdm

    d, v = run.recipe.data, run.recipe.val
    readers = declared_readers(d.size, d.input_settings)  # what the bundle will declare
    sets = []
    for name, n, seed, styles in (
        ("cache", d.scenes, d.seed, d.styles),
        ("val", v.scenes, v.seed, v.styles),
    ):
        with tqdm(total=n, desc=f"render {name}", unit="scene") as bar:
            sets.append(
                build_cache(
                    run.out / name, n=n, seed=seed, size=d.size, styles=styles,
                    chunk=d.chunk, workers=d.workers, progress=bar.update, readers=readers,
                )
            )  # fmt: skip
    return sets[0], sets[1]


def _vocab(run: Run, data: TrainingSet) -> WordVocab:
    """The caption words of the training set (generator's phrasings and people's words)."""
    path = run.out / "vocab.json"
    if path.is_file():
        return WordVocab.load(path)
    start = run.recipe.train.start_from
    vocab = starting_bundle(run.recipe).vocab if start else build_vocab(run.recipe, data)
    if vocab is None:
        raise ValueError(f"train.start_from {start!r} reads no captions: it has no vocabulary")
    path.write_text(json.dumps(vocab.to_json(), indent=1) + "\n")
    return vocab


def starting_bundle(recipe: Recipe) -> BuiltinBundle:
    """The bundle ``train.start_from`` names, or a ValueError when its network is not the
    recipe's model."""
    start = recipe.train.start_from
    bundle = load_builtin_bundle(start)
    config = BuiltinConfig.load(Path(recipe.model))
    if bundle.config != config:
        raise ValueError(
            f"train.start_from {start!r} is not a {recipe.model!r} network: its config.json "
            f"differs from the recipe's model"
        )
    return bundle


def build_vocab(recipe: Recipe, data: TrainingSet) -> WordVocab:
    """The words of every caption of ``data``, the generator's and the people's, sized for the
    recipe's model."""
    config = BuiltinConfig.load(Path(recipe.model))
    captions = [c for phrasings in data.scenes.captions for c in phrasings]
    captions += [c for drawn in data.drawings.values() for c in drawn.captions]
    return WordVocab.build(
        captions, min(recipe.vocab, config.text_vocab), buckets=config.text_buckets,
        trigrams_per_word=config.trigrams_per_word, max_words=config.max_words,
    )  # fmt: skip


def in_memory_model(
    model: BuiltinModel,
    vocab: WordVocab,
    path: Path,
    settings: dict[str, dict[str, Any]] | None = None,
) -> BuiltinSearchModel:
    """A model being trained, as the search model its bundle will load as (``settings``: its
    recipe's input settings, which the bundle declares)."""
    declarations = declare(input_names(model.config), ["bind_global"], settings=settings)
    bundle = BuiltinBundle(path, model.config, model, vocab, declarations, {})
    return BuiltinSearchModel(bundle, name="training")


def _validator(
    run: Run, val: TrainingSet, vocab: WordVocab
) -> Callable[[BuiltinModel], dict[str, float]]:
    """What every chunk reports: headline numbers on the validation gallery."""

    def validate(model: BuiltinModel) -> dict[str, float]:
        search_model = in_memory_model(model, vocab, run.out, run.recipe.data.input_settings)
        result = evaluate_model(search_model, val.scenes, val.drawings, held_out=HELD_OUT)
        return headline(result)

    return validate


def _train(run: Run, data: TrainingSet, val: TrainingSet, vocab: WordVocab) -> BuiltinModel:
    """Train (from the last checkpoint, when there is one)."""
    recipe = run.recipe.train
    torch.manual_seed(recipe.seed)
    rng = random.Random(recipe.seed)
    config = BuiltinConfig.load(Path(run.recipe.model))
    state = new_state(BuiltinModel(config), recipe)
    checkpoint = run.out / "checkpoint.pt"
    if checkpoint.is_file():
        load_checkpoint(state, checkpoint, rng)
        run.log(f"resumed at step {state.step} ({state.seconds / 60:.1f} min trained)")
    elif recipe.start_from:
        state.model.load_state_dict(starting_bundle(run.recipe).model.state_dict())
        run.log(f"started from the weights of {recipe.start_from}")
    if recipe.bf16 and not state.bf16:
        run.log("bf16 autocast off: this CPU has no native bfloat16 (AVX-512 BF16 or AMX), and "
                "emulated it is ~14x slower than float32; training in float32")  # fmt: skip
    queries = tuple(q for q in config.pixel_inputs if q != "rgb")
    settings = run.recipe.data.input_settings
    boxed = tuple(q for q, s in settings.items() if s.get("content_box"))
    batcher = Batcher(data, vocab, recipe, queries, rng, boxed=boxed)
    if recipe.bf16 and state.bf16 and state.step < recipe.steps:
        trial = time_precisions(state, batcher, recipe)
        state.bf16 = trial.bf16
        run.log(trial.describe())
        (run.out / PRECISION).write_text(json.dumps(trial.to_json()) + "\n")
    train_chunks(
        state, batcher, recipe, checkpoint, validate=_validator(run, val, vocab), log=run.log
    )
    (run.out / "history.json").write_text(json.dumps(state.history, indent=1) + "\n")
    return state.model.eval()


def _precision(run: Run) -> str:
    """What the run trained in: the measured choice of its last call (``anyseek.workbench.pace``);
    float32 where the recipe or the CPU ruled bfloat16 out before any trial."""
    if not (run.recipe.train.bf16 and native_bf16()):
        return "float32"
    path = run.out / PRECISION
    if path.is_file():
        return str(json.loads(path.read_text())["chosen"])
    return "bf16 autocast"  # a run trained before the trial existed took the flag's word


def _wall_minutes(run: Run, seconds: float) -> float:
    """This call's wall time added to the run's record of its calls; the run's total."""
    path = run.out / "calls.json"
    calls = json.loads(path.read_text()) if path.is_file() else []
    calls.append({"ended": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": round(seconds, 1)})
    path.write_text(json.dumps(calls, indent=1) + "\n")
    return sum(c["seconds"] for c in calls) / 60


def _record_facts(bundle_dir: Path, facts: dict[str, Any]) -> None:
    """The run's facts (size, wall time, machine) into the bundle's manifest, where the model
    card and the docs read them."""
    path = bundle_dir / "bundle.json"
    manifest = json.loads(path.read_text())
    manifest["training"] = facts
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def run_pipeline(run: Run, *, threads: int | None = None) -> dict[str, Any]:
    """Every stage not yet done, in order; returns the stage records."""
    import os
    import shutil

    from anyseek.workbench.card import write_card

    began = time.monotonic()
    run.out.mkdir(parents=True, exist_ok=True)
    (run.out / "stages").mkdir(exist_ok=True)
    (run.out / "recipe.json").write_text(json.dumps(run.recipe.to_json(), indent=2) + "\n")
    torch.set_num_threads(threads or run.recipe.train.threads)
    records: dict[str, Any] = {}
    data, val = _data(run)
    records["data"] = {"seconds": round(time.monotonic() - began, 1)}
    vocab = _vocab(run, data)
    bundle_dir = run.out / "bundle"
    if not run.stage_file("train").is_file():
        started = time.monotonic()
        model = _train(run, data, val, vocab)
        extra = {"recipe": f"{run.command}", "generation": run.recipe.generation}
        save_builtin_bundle(bundle_dir, model, vocab, extra, run.recipe.data.input_settings)
        run.stage_file("train").write_text(
            json.dumps({"seconds": round(time.monotonic() - started, 1)}) + "\n"
        )
    search_model = load_builtin_search_model(bundle_dir)
    result = evaluate_model(
        search_model, val.scenes, val.drawings, seed=run.recipe.val.seed, held_out=HELD_OUT,
        edge_baseline=True,
    )  # fmt: skip
    (run.out / "eval.json").write_text(result.to_json() + "\n")
    (run.out / "eval.md").write_text(result.markdown())
    records["eval"] = headline(result)
    run.log(f"eval: {json.dumps(records['eval'])}")
    for name in ("eval.json", "history.json"):
        shutil.copy(run.out / name, bundle_dir / name)
    shutil.copy(run.out / "recipe.json", bundle_dir / "train_config.json")
    weights = bundle_dir / "model.safetensors"
    facts = {
        "parameters": sum(p.numel() for p in search_model.bundle.model.parameters()),
        "bundle_mb": weights.stat().st_size / 1e6,
        "wall_minutes": _wall_minutes(run, time.monotonic() - began),
        "machine": f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads",
        "precision": _precision(run),
    }
    _record_facts(bundle_dir, facts)
    write_card(bundle_dir)
    run.log(f"wall time: {facts['wall_minutes']:.1f} min")
    records["wall_minutes"] = facts["wall_minutes"]
    return records
